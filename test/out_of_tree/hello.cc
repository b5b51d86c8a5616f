#include "proxy_wasm/sdk.h"

// Adds a response header naming the plugin.
class HelloContext : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onResponseHeaders(uint32_t, bool) override {
    addResponseHeader("x-hello", "from an out-of-tree plugin");
    return proxy_wasm::FilterHeadersStatus::Continue;
  }
};

static proxy_wasm::RegisterContextFactory register_hello(
    proxy_wasm::rootFactory<proxy_wasm::RootContext>(), proxy_wasm::streamFactory<HelloContext>());
