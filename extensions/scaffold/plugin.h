// scaffold: the smallest useful proxy-wasm plugin. It accepts any configuration and passes all
// traffic unchanged. Copy this folder to start a new extension (see README.md).
#pragma once

#include "proxy_wasm/sdk.h"

namespace scaffold {

// One per plugin per VM (per worker thread in Envoy): holds configuration and shared state.
class PluginRootContext : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;
};

// One per HTTP stream: sees the request and the response.
class PluginContext : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;
};

}  // namespace scaffold
