#include "http1/parser.h"

#include <boost/beast/core/string.hpp>

#include <algorithm>

namespace wasm_proxy::http1 {

namespace beast = boost::beast;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

using RawFields = std::vector<std::pair<http::field, std::pair<std::string, std::string>>>;

// The lower-cased tokens of every Connection header other than close / keep-alive (which the
// writer decides itself): names of headers that must not be forwarded.
std::vector<std::string> connectionTokens(const RawFields& fields) {
  std::vector<std::string> out;
  for (const auto& [f, kv] : fields) {
    if (f != http::field::connection) continue;
    std::string_view v = kv.second;
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

void addEndToEnd(const RawFields& fields, VectorHeaderMap& out, bool skip_host) {
  const auto hop = connectionTokens(fields);
  for (const auto& [f, kv] : fields) {
    if (skip_host && f == http::field::host) continue;
    if (!hop.empty() && std::any_of(hop.begin(), hop.end(), [&](const std::string& t) {
          return beast::iequals(t, kv.first);
        })) {
      continue;
    }
    out.add(kv.first, kv.second);
  }
}

// RFC 9112 checks on a request head: one Host; a Transfer-Encoding of exactly "chunked" (any
// other coding cannot be framed: 501, as Envoy and nginx); methods are case-sensitive, so a
// lower-case spelling of a standard method ("get") is 400, as in nginx.
std::optional<HeadError> checkRequestHead(const RawFields& fields, http::verb verb,
                                          std::string_view method) {
  size_t hosts = 0;
  for (const auto& [f, kv] : fields) {
    if (f == http::field::host) ++hosts;
    if (f == http::field::transfer_encoding && !beast::iequals(trim(kv.second), "chunked")) {
      return HeadError{501, "transfer coding not implemented\n"};
    }
  }
  if (hosts > 1) return HeadError{400, "more than one Host header\n"};
  if (verb == http::verb::unknown) {
    std::string upper(method);
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (http::string_to_verb(upper) != http::verb::unknown) {
      return HeadError{400, "methods are case-sensitive: " + upper + "\n"};
    }
  }
  return std::nullopt;
}

}  // namespace

template <bool isRequest>
void MessageParser<isRequest>::on_request_impl(http::verb verb, beast::string_view method_str,
                                               beast::string_view target, int version,
                                               boost::system::error_code&) {
  verb_ = verb;
  method_.assign(method_str.data(), method_str.size());
  target_.assign(target.data(), target.size());
  version_ = static_cast<unsigned>(version);
}

template <bool isRequest>
void MessageParser<isRequest>::on_response_impl(int code, beast::string_view, int version,
                                                boost::system::error_code&) {
  status_ = static_cast<unsigned>(code);
  version_ = static_cast<unsigned>(version);
}

template <bool isRequest>
void MessageParser<isRequest>::on_field_impl(http::field name, beast::string_view name_string,
                                             beast::string_view value,
                                             boost::system::error_code&) {
  if (head_done_) {
    trailers_.add(name_string, value);
    return;
  }
  if (name == http::field::expect && beast::iequals(trim(value), "100-continue")) {
    expect_continue_ = true;
  }
  raw_.emplace_back(name, std::make_pair(std::string(name_string), std::string(value)));
}

template <bool isRequest>
void MessageParser<isRequest>::on_header_impl(boost::system::error_code& ec) {
  head_done_ = true;
  if constexpr (isRequest) {
    head_error_ = checkRequestHead(raw_, verb_, method_);
    if (head_error_) {
      ec = http::error::bad_field;
      return;
    }
    std::string_view host;
    for (const auto& [f, kv] : raw_) {
      if (f == http::field::host) host = kv.second;
    }
    headers_.add(":method", method_);
    headers_.add(":path", target_);
    headers_.add(":authority", host);
    headers_.add(":scheme", scheme_);
    addEndToEnd(raw_, headers_, true);
  } else {
    headers_.add(":status", std::to_string(status_));
    addEndToEnd(raw_, headers_, false);
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
