#include "filter.h"

namespace scaffold {

bool PluginRootContext::onConfigure(std::string_view configuration) {
  auto parsed = parseConfig(configuration);
  if (!parsed) {
    proxy_wasm::logWarn("scaffold: ", parsed.error());
    return false;  // the host refuses the configuration
  }
  config_ = std::move(*parsed);
  proxy_wasm::logDebug("scaffold configured: ", config_.response_headers_to_add.size(),
                       " response header(s) to add");
  return true;
}

proxy_wasm::FilterHeadersStatus PluginContext::onRequestHeaders(uint32_t, bool) {
  return proxy_wasm::FilterHeadersStatus::Continue;
}

proxy_wasm::FilterHeadersStatus PluginContext::onResponseHeaders(uint32_t, bool) {
  for (const auto& [name, value] : rootAs<PluginRootContext>().config().response_headers_to_add) {
    if (auto r = addResponseHeader(name, value); r != proxy_wasm::WasmResult::Ok) {
      proxy_wasm::logWarn("scaffold: cannot add ", name, ": ", r);
    }
  }
  return proxy_wasm::FilterHeadersStatus::Continue;
}

// Registration runs at module initialisation and makes no hostcall.
static proxy_wasm::RegisterContextFactory register_scaffold(
    proxy_wasm::rootFactory<PluginRootContext>(), proxy_wasm::streamFactory<PluginContext>());

}  // namespace scaffold
