// grpc_access_logging's contexts: the root reads the configuration, owns one Exporter per
// configured service, flushes them on its tick and drains them at shutdown; the stream hands its
// access entry to the root when the proxy logs it.
#pragma once

#include <deque>
#include <string_view>

#include "access_log.h"
#include "config.h"
#include "proxy_wasm/sdk.h"

namespace grpc_access_logging {

class Root : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;
  void onTick() override;
  // Shutdown: everything held goes out before the plugin says it is done (bounded by timeout_ms).
  bool onDone() override;

  bool wantsOtlp() const { return config_.otlp_service.has_value(); }
  void log(const AccessEntry& entry);

 private:
  Config config_;
  NodeInfo node_;
  std::deque<Exporter> exporters_;  // a deque: exporters hand out `this` to their callbacks
  size_t draining_ = 0;
  bool waiting_ = false;
};

class Stream : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  void onLog() override;
};

}  // namespace grpc_access_logging
