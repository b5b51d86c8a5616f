#include "plugin.h"

namespace scaffold {

bool PluginRootContext::onConfigure(std::string_view configuration) {
  proxy_wasm::logDebug("scaffold configured with ", configuration.size(), " bytes");
  return true;
}

proxy_wasm::FilterHeadersStatus PluginContext::onRequestHeaders(uint32_t, bool) {
  return proxy_wasm::FilterHeadersStatus::Continue;
}

// Registration runs at module initialisation and makes no hostcall.
static proxy_wasm::RegisterContextFactory register_scaffold(
    proxy_wasm::rootFactory<PluginRootContext>(), proxy_wasm::streamFactory<PluginContext>());

}  // namespace scaffold
