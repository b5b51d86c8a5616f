// HTTP/1.1 from the wire: Beast's tokenizer (basic_parser) underneath, our own message on top.
//
// MessageParser turns the tokenizer's callbacks straight into what the filter chain sees: a
// header map with Envoy's pseudo-headers first and the fields in arrival order (a repeated header
// stays where it came, as in Envoy), the trailers, and body bytes appended to a caller's string
// piece by piece. It also applies the RFC 9112 rules the tokenizer leaves to its user and that
// Envoy and nginx enforce; a head that breaks one is reported by headError() with its status.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_wasm/host/embedder.h"

namespace wasm_proxy::http1 {

using proxy_wasm::host::VectorHeaderMap;
namespace http = boost::beast::http;

// A request head the proxy refuses, and with what status.
struct HeadError {
  unsigned status;  // 400, 501
  std::string message;
};

template <bool isRequest>
class MessageParser final : public http::basic_parser<isRequest> {
 public:
  // Body bytes decoded per read at most: pieces stay bounded whatever the peer sends.
  static constexpr size_t kPiece = 64 * 1024;

  explicit MessageParser(std::string_view scheme = "http") : scheme_(scheme) {}
  // Takes `spare`'s storage (emptied) for the head's header map: a connection hands the map of
  // its previous message back, so that a head costs no allocation for the map itself.
  void reuseStorage(VectorHeaderMap& spare) {
    headers_ = std::move(spare);
    headers_.clear();
    spare = VectorHeaderMap();
  }

  // After the head: pseudo-headers first, then the fields in arrival order. Headers named by the
  // Connection header are hop-by-hop and dropped (RFC 9110 §7.6.1).
  VectorHeaderMap& headers() { return headers_; }
  VectorHeaderMap& trailers() { return trailers_; }
  unsigned version() const { return version_; }
  unsigned status() const { return status_; }
  const std::optional<HeadError>& headError() const { return head_error_; }
  size_t fieldCount() const { return fields_; }
  bool expectsContinue() const { return expect_continue_; }
  uint64_t bodyBytes() const { return body_bytes_; }

  // Body bytes from the next reads are appended to `out` (nullptr: the caller reads none).
  void bodyInto(std::string* out) { body_out_ = out; }
  // Bytes one read may append (kPiece by default; a callout reads its whole body at once).
  void pieceLimit(size_t n) { piece_limit_ = n; }

 protected:
  void on_request_impl(http::verb method, boost::beast::string_view method_str,
                       boost::beast::string_view target, int version,
                       boost::system::error_code&) override;
  void on_response_impl(int code, boost::beast::string_view, int version,
                        boost::system::error_code&) override;
  void on_field_impl(http::field name, boost::beast::string_view name_string,
                     boost::beast::string_view value, boost::system::error_code&) override;
  void on_header_impl(boost::system::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>&,
                         boost::system::error_code&) override {}
  size_t on_body_impl(boost::beast::string_view body, boost::system::error_code& ec) override {
    return appendBody(body, ec);
  }
  void on_chunk_header_impl(std::uint64_t, boost::beast::string_view,
                            boost::system::error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, boost::beast::string_view body,
                            boost::system::error_code& ec) override {
    return appendBody(body, ec);
  }
  void on_finish_impl(boost::system::error_code&) override {}

 private:
  size_t appendBody(std::string_view body, boost::system::error_code& ec);

  std::string_view scheme_;
  http::verb verb_ = http::verb::unknown;
  std::string method_, target_;
  unsigned version_ = 11;
  unsigned status_ = 0;
  bool head_done_ = false;
  bool expect_continue_ = false;
  size_t fields_ = 0;
  size_t hosts_ = 0;
  bool connection_header_ = false;  // a Connection header may name hop-by-hop headers
  bool unknown_coding_ = false;     // a Transfer-Encoding other than "chunked"
  VectorHeaderMap headers_, trailers_;
  std::optional<HeadError> head_error_;
  std::string* body_out_ = nullptr;
  size_t piece_ = 0;  // bytes appended by the current read
  size_t piece_limit_ = kPiece;
  uint64_t body_bytes_ = 0;

  template <bool>
  friend class BodyReader;
};

using RequestParser = MessageParser<true>;
using ResponseParser = MessageParser<false>;

// Reads one body as it arrives, decoded (Content-Length or chunked), in pieces of at most
// kPiece bytes; bytes already buffered are parsed without a syscall.
template <bool isRequest>
class BodyReader {
 public:
  BodyReader(boost::asio::ip::tcp::socket& socket, boost::beast::flat_buffer& buffer,
             MessageParser<isRequest>& parser)
      : socket_(socket), buffer_(buffer), parser_(parser) {}
  bool done() const { return parser_.is_done(); }
  bool buffered() const { return buffer_.size() != 0; }
  uint64_t bytes() const { return parser_.bodyBytes(); }
  VectorHeaderMap& trailers() { return parser_.trailers(); }

  // Appends the next decoded piece to `out`.
  boost::asio::awaitable<boost::system::error_code> read(std::string& out) {
    parser_.bodyInto(&out);
    parser_.piece_ = 0;
    auto [ec, n] = co_await http::async_read_some(socket_, buffer_, parser_,
                                                  boost::asio::as_tuple(boost::asio::deferred));
    parser_.bodyInto(nullptr);
    if (ec == http::error::need_buffer) ec = {};
    co_return ec;
  }

 private:
  boost::asio::ip::tcp::socket& socket_;
  boost::beast::flat_buffer& buffer_;
  MessageParser<isRequest>& parser_;
};

// Reading a head without Beast's composed read operation (the hot path reads two heads per
// request): the caller feeds what is buffered with parseBufferedHead() and reads more only when
// it returns false. True: the head is complete, or `ec` says why it cannot be.
template <bool isRequest>
bool parseBufferedHead(MessageParser<isRequest>& parser, boost::beast::flat_buffer& buffer,
                       boost::system::error_code& ec) {
  if (buffer.size() == 0) return false;
  buffer.consume(parser.put(buffer.data(), ec));
  if (ec == http::error::need_more) ec = {};
  return ec || parser.is_header_done();
}

// Room for the next read into `buffer`: at least 512 bytes, at most 64 KiB (as Beast reads).
inline boost::asio::mutable_buffer readRoom(boost::beast::flat_buffer& buffer) {
  const size_t spare = buffer.capacity() - buffer.size();
  return buffer.prepare(std::clamp<size_t>(spare, 512, 64 * 1024));
}

// What ends a head read whose socket read failed with `read_ec`: a peer closing before any byte
// of a message is end_of_stream (a normal close), after some bytes a partial message.
template <bool isRequest>
boost::system::error_code headReadError(MessageParser<isRequest>& parser,
                                        boost::system::error_code read_ec) {
  if (read_ec != boost::asio::error::eof) return read_ec;
  if (!parser.got_some()) return http::error::end_of_stream;
  boost::system::error_code ec;
  parser.put_eof(ec);
  return ec ? ec : http::error::partial_message;
}

// Whether a body read error is the peer's malformed framing (400) rather than a cut connection.
bool isMalformedBody(const boost::system::error_code& ec);

}  // namespace wasm_proxy::http1
