// Benchmark plugin for a full request cycle: reads three of the request headers and continues.
#include "proxy_wasm/sdk.h"

using namespace proxy_wasm;

namespace {
class Stream : public HttpContext {
 public:
  using HttpContext::HttpContext;
  FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    size_t n = 0;
    for (const char* h : {":path", "user-agent", "x-request-id"}) {
      auto v = getHeaderMapValue(MapType::HttpRequestHeaders, h);
      if (v) n += v->size();
    }
    return n > 0 ? FilterHeadersStatus::Continue : FilterHeadersStatus::Continue;
  }
};
RegisterContextFactory register_bench(rootFactory<RootContext>(), streamFactory<Stream>());
}  // namespace
