// scaffold: the smallest useful proxy-wasm plugin. By default it passes all traffic unchanged;
// its one configuration field adds headers to responses. Copy this folder to start a new
// extension (see README.md): config.{h,cc} read the configuration, these contexts act on it.
#pragma once

#include "config.h"
#include "proxy_wasm/sdk.h"

namespace scaffold {

// One per plugin per VM (per worker thread in Envoy): holds configuration and shared state.
class PluginRootContext : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;
  const Config& config() const { return config_; }

 private:
  Config config_;
};

// One per HTTP stream: sees the request and the response.
class PluginContext : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;
  proxy_wasm::FilterHeadersStatus onResponseHeaders(uint32_t headers, bool end_of_stream) override;
};

}  // namespace scaffold
