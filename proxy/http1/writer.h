// HTTP/1.1 on the wire for streamed messages: the head of a request or response from a header
// map with pseudo-headers, and the framing of its body, decided once when the head is written.
#pragma once

#include <string>
#include <string_view>

#include "proxy_wasm/host/embedder.h"

namespace wasm_proxy::http1 {

using proxy_wasm::host::VectorHeaderMap;

// How a body travels. Decided when the head is written:
//   None     no body may follow (HEAD responses, 1xx/204/304, or an empty body known at once)
//   Length   Content-Length: the whole body was known, or the headers declare its length
//   Chunked  Transfer-Encoding: chunked (an HTTP/1.1 peer, length unknown)
//   Close    the body ends when the connection closes (an HTTP/1.0 client, length unknown)
enum class Framing { None, Length, Chunked, Close };

// What the writer knows when the head goes out.
struct BodyShape {
  bool no_body_allowed = false;  // HEAD response, 1xx/204/304
  bool complete = false;         // `known_size` is the whole body
  size_t known_size = 0;
  bool peer_http11 = true;  // the receiver understands chunked encoding
  bool is_request = false;  // requests without a body carry no framing header
  std::string_view method;  // for requests: POST/PUT/PATCH send "Content-Length: 0"
};

// Writes one message: the head (once, with the framing headers it chose) and the body pieces,
// framed. Output is appended to a string the caller sends in one write.
class MessageWriter {
 public:
  // `head` is requestHead()/responseHead() output, ending just before the framing headers.
  MessageWriter(std::string head, const VectorHeaderMap& headers, const BodyShape& shape);

  Framing framing() const { return framing_; }
  // Adds a header to the head; only before the first append().
  void addHeader(std::string_view key, std::string_view value);
  // Appends the head (first call only) and `data`, plus the end of the body when `eos`;
  // `trailers` go out with a chunked end. Returns false when the data overruns a declared
  // Content-Length (the excess is dropped) or falls short of it at eos: the connection must
  // then close after this message.
  bool append(std::string& out, std::string_view data, bool eos,
              const VectorHeaderMap* trailers = nullptr);

 private:
  std::string head_;
  Framing framing_ = Framing::None;
  size_t declared_ = 0;  // Length: bytes still allowed
  bool head_written_ = false;
};

// "METHOD target HTTP/1.1\r\nHost: …\r\n" + the end-to-end headers (no pseudo-headers, no
// hop-by-hop or framing headers; names or values with CR, LF or NUL are dropped).
std::string requestHead(const VectorHeaderMap& headers);
// "HTTP/1.x status reason\r\n" + the end-to-end headers.
std::string responseHead(const VectorHeaderMap& headers, unsigned version);

// The value of a declared Content-Length, if it is a valid one.
std::optional<size_t> contentLength(const VectorHeaderMap& headers);

}  // namespace wasm_proxy::http1
