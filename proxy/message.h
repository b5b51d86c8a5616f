// The HTTP message as the filter chain sees it: a header map with Envoy's pseudo-headers
// (":method", ":path", ":authority", ":scheme" on requests, ":status" on responses), the body
// (whole, or the piece a filter is looking at while it streams) and trailers.
#pragma once

#include <string>

#include "proxy_wasm/host/embedder.h"

namespace wasm_proxy {

using proxy_wasm::host::VectorHeaderMap;

struct Message {
  VectorHeaderMap headers;
  std::string body;         // the whole body, or the piece a filter is looking at
  uint64_t body_bytes = 0;  // bytes of a streamed body seen so far
  VectorHeaderMap trailers;
  unsigned version = 11;

  uint32_t status() const;
  uint64_t bodySize() const { return body_bytes != 0 ? body_bytes : body.size(); }
  std::string_view header(std::string_view key) const { return headers.get(key).value_or(""); }
};

// A locally generated response (router errors, wasm local replies, direct responses).
Message localResponse(uint32_t status, std::string body,
                      const std::vector<std::pair<std::string, std::string>>& extra = {});

}  // namespace wasm_proxy
