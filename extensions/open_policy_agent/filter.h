// open_policy_agent: asks an OPA server (REST Data API) whether to let each request through,
// with a per-VM LRU cache of decisions. See README.md. config.h reads the configuration, opa_api.h
// speaks OPA's API; these contexts write the input document, call OPA and apply its decision.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "config.h"
#include "opa_api.h"
#include "proxy_wasm/sdk.h"
#include "proxy_wasm/sdk/lru_cache.h"

namespace open_policy_agent {

// LRU keyed by the full input document (no hash truncation, no order-insensitive collisions);
// entries expire at an absolute time.
class DecisionCache {
 public:
  void configure(size_t capacity) { lru_.reset(capacity); }
  const Decision* find(const std::string& key, uint64_t now) {
    Entry* e = lru_.find(key);
    if (e == nullptr) return nullptr;
    if (e->expires_ns <= now) {
      lru_.erase(key);
      return nullptr;
    }
    return &e->decision;
  }
  void insert(const std::string& key, Decision d, uint64_t expires_ns) {
    lru_.insert(key, Entry{std::move(d), expires_ns});
  }
  size_t size() const { return lru_.size(); }

 private:
  struct Entry {
    Decision decision;
    uint64_t expires_ns;
  };
  proxy_wasm::LruCache<Entry> lru_{1000};
};

class Root : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;
  const std::string& workload() const { return workload_; }
  const Config& config() const { return config_; }
  DecisionCache& cache() { return cache_; }

  proxy_wasm::Counter cache_count_{"policy_cache_count", {"wasm_filter", "cache"}};
  proxy_wasm::Counter allowed_{"opa.allowed"};
  proxy_wasm::Counter denied_{"opa.denied"};
  proxy_wasm::Counter errors_{"opa.error"};
  proxy_wasm::Counter timeouts_{"opa.timeout"};
  proxy_wasm::Counter disabled_{
      "opa.disabled"};  // passed unasked: outside filter_enabled (ext_authz's)

  bool enabledFor() { return sampler_.sample(config_.enabled_per_million); }

 private:
  Config config_;
  DecisionCache cache_;
  std::string workload_;
  proxy_wasm::FractionSampler sampler_;
};

class Stream : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;

 private:
  // input.headers: the input_headers, then (with allowed/disallowed_headers) every matching
  // request header; sorted by name, repeated ones joined with ','.
  void appendInputHeaders(const Config& c);
  void onOpaResponse(const proxy_wasm::HttpCallResponse& r);
  // Returns true when the request may go on.
  bool apply(const Decision& d);
  // An error: failure_mode_allow lets the request through, else status_on_error.
  bool fail(const char* details);

  std::string body_;  // the input document of this request (also the cache key)
};

}  // namespace open_policy_agent
