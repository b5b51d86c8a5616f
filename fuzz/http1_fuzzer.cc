// libFuzzer target for wasm-proxy's HTTP/1.1 request parsing and framing decisions.
//
// The input is split at a point it chooses (as a socket might deliver it) and fed to the request
// parser. Whatever the bytes, the parser must not crash or read out of bounds, and when it
// accepts a head: the pseudo-headers come first; no header name or value reaches the wire with
// CR, LF or NUL (the writer drops them); the head the proxy would send upstream parses back as
// exactly one request with the same method and target; and a refused head names 400 or 501.
#include <boost/beast/http.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "http1/parser.h"
#include "http1/writer.h"

namespace http = boost::beast::http;
using wasm_proxy::http1::RequestParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t split = data[0] % (size);
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  RequestParser p;
  p.header_limit(8192);
  p.body_limit(1 << 20);
  std::string body;
  p.bodyInto(&body);
  boost::system::error_code ec;
  std::string pending;
  for (std::string_view piece :
       {bytes.substr(0, split), bytes.substr(std::min(split, bytes.size()))}) {
    pending.append(piece);
    // (Beast's parser must see neither an empty, null buffer nor bytes after the message.)
    while (!pending.empty() && !p.is_done()) {
      const size_t used = p.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec == http::error::need_more || ec == http::error::need_buffer) {
        ec = {};
        if (used == 0) break;
        continue;
      }
      if (ec || p.is_done() || used == 0) break;
    }
    if (ec) break;
  }
  if (const auto& e = p.headError()) {
    if (e->status != 400 && e->status != 501) std::abort();
    return 0;
  }
  if (ec || !p.is_header_done()) return 0;
  auto& h = p.headers();
  const auto& entries = h.entries();
  if (entries.size() < 4 || entries[0].first != ":method" || entries[1].first != ":path" ||
      entries[2].first != ":authority" || entries[3].first != ":scheme") {
    std::abort();
  }
  // The head towards the upstream: one request, the same method and target, nothing injected.
  const std::string head = wasm_proxy::http1::requestHead(h) + "\r\n";
  http::request_parser<http::empty_body> back;
  back.eager(false);
  boost::system::error_code bec;
  const size_t used = back.put(boost::asio::buffer(head), bec);
  if (bec || !back.is_header_done() || used != head.size()) std::abort();
  if (back.get().method_string() != *h.get(":method") || back.get().target() != *h.get(":path")) {
    std::abort();
  }
  return 0;
}
