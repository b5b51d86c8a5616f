#include "http1/parser.h"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <charconv>

namespace wasm_proxy::http1 {

namespace beast = boost::beast;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr size_t kAuthorityIndex = 2;  // :method, :path, :authority, :scheme

// The lower-cased tokens of every Connection header other than close / keep-alive (which the
// writer decides itself): names of headers that must not be forwarded.
std::vector<std::string> connectionTokens(const VectorHeaderMap& headers) {
  std::vector<std::string> out;
  for (const auto& [k, value] : headers.entries()) {
    if (k != "connection") continue;
    std::string_view v = value;
    while (!v.empty()) {
      const size_t comma = v.find(',');
      std::string token = proxy_wasm::host::lowerAscii(trim(v.substr(0, comma)));
      if (!token.empty() && token != "close" && token != "keep-alive") out.push_back(token);
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return out;
}

}  // namespace

template <bool isRequest>
void MessageParser<isRequest>::on_request_impl(http::verb verb, beast::string_view method_str,
                                               beast::string_view target, int version,
                                               boost::system::error_code&) {
  verb_ = verb;
  method_.assign(method_str.data(), method_str.size());
  version_ = static_cast<unsigned>(version);
  headers_.reserve(16);
  headers_.add(":method", method_);
  headers_.add(":path", target);
  headers_.add(":authority", "");  // the Host header's value, set when it comes
  headers_.add(":scheme", scheme_);
}

template <bool isRequest>
void MessageParser<isRequest>::on_response_impl(int code, beast::string_view, int version,
                                                boost::system::error_code&) {
  status_ = static_cast<unsigned>(code);
  version_ = static_cast<unsigned>(version);
  headers_.reserve(12);
  char digits[8];
  const auto end = std::to_chars(digits, digits + sizeof digits, code).ptr;
  headers_.add(":status", std::string_view(digits, static_cast<size_t>(end - digits)));
}

template <bool isRequest>
void MessageParser<isRequest>::on_field_impl(http::field name, beast::string_view name_string,
                                             beast::string_view value, boost::system::error_code&) {
  if (head_done_) {
    trailers_.add(name_string, value);
    return;
  }
  ++fields_;
  switch (name) {
    case http::field::host:
      if (isRequest) {
        if (++hosts_ == 1) headers_.setValue(kAuthorityIndex, value);
        return;
      }
      break;
    case http::field::connection:
      connection_header_ = true;
      break;
    case http::field::transfer_encoding:
      if (!beast::iequals(trim(value), "chunked")) unknown_coding_ = true;
      break;
    case http::field::expect:
      if (beast::iequals(trim(value), "100-continue")) expect_continue_ = true;
      break;
    default:
      break;
  }
  headers_.add(name_string, value);
}

template <bool isRequest>
void MessageParser<isRequest>::on_header_impl(boost::system::error_code& ec) {
  head_done_ = true;
  if constexpr (isRequest) {
    // RFC 9112: one Host; a Transfer-Encoding of exactly "chunked" (any other coding cannot be
    // framed: 501, as Envoy and nginx); methods are case-sensitive, so a lower-case spelling of
    // a standard method ("get") is 400, as in nginx.
    if (unknown_coding_) {
      head_error_ = HeadError{501, "transfer coding not implemented\n"};
    } else if (hosts_ > 1) {
      head_error_ = HeadError{400, "more than one Host header\n"};
    } else if (verb_ == http::verb::unknown) {
      std::string upper(method_);
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      if (http::string_to_verb(upper) != http::verb::unknown) {
        head_error_ = HeadError{400, "methods are case-sensitive: " + upper + "\n"};
      }
    }
    if (head_error_) {
      ec = http::error::bad_field;
      return;
    }
  }
  if (connection_header_) {
    // Headers named by Connection are hop-by-hop (RFC 9110 §7.6.1): not forwarded.
    const auto hop = connectionTokens(headers_);
    if (!hop.empty()) {
      headers_.removeIf([&](std::string_view key) {
        return std::find(hop.begin(), hop.end(), key) != hop.end();
      });
    }
  }
}

template <bool isRequest>
size_t MessageParser<isRequest>::appendBody(std::string_view body, boost::system::error_code& ec) {
  if (body_out_ == nullptr || piece_ >= piece_limit_) {
    ec = http::error::need_buffer;
    return 0;
  }
  const size_t n = std::min(body.size(), piece_limit_ - piece_);
  body_out_->append(body.data(), n);
  piece_ += n;
  body_bytes_ += n;
  return n;
}

bool isMalformedBody(const boost::system::error_code& ec) {
  return ec.category() == make_error_code(http::error::bad_chunk).category() &&
         ec != http::error::partial_message && ec != http::error::end_of_stream;
}

template class MessageParser<true>;
template class MessageParser<false>;

}  // namespace wasm_proxy::http1
