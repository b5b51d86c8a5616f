// basic_auth: HTTP Basic authentication for requests selected by method, host and path rules.
// A drop-in for istio-ecosystem's basic_auth (same configuration, same replies), with its bugs
// fixed and named consumers, allow lists, environment-sourced credentials and counters added.
// The configuration reference is README.md; config.h reads it, check.h decides, these contexts
// act.
#pragma once

#include "check.h"
#include "config.h"
#include "proxy_wasm/sdk.h"

namespace basic_auth {

class Root : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;
  const Config& config() const { return config_; }
  proxy_wasm::Counter allowed_{"basic_auth.allowed"};
  proxy_wasm::Counter denied_{"basic_auth.denied"};
  proxy_wasm::Counter anonymous_{"basic_auth.anonymous"};
  VerifiedCache& cache() { return cache_; }

 private:
  Config config_;
  VerifiedCache cache_;
};

class Stream : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;

 private:
  // Records the first failed change of the identity headers (forwarded user, anonymous marker,
  // credentials): the upstream trusts them, so such a request is refused, never passed on.
  void identity(proxy_wasm::WasmResult r) {
    if (r != proxy_wasm::WasmResult::Ok && identity_failure_ == proxy_wasm::WasmResult::Ok) {
      identity_failure_ = r;
    }
  }
  proxy_wasm::FilterHeadersStatus continueUnlessIdentityFailed();
  proxy_wasm::WasmResult identity_failure_ = proxy_wasm::WasmResult::Ok;
};

}  // namespace basic_auth
