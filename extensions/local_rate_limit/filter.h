// local_rate_limit: token buckets shared by every VM (every worker) of the plugin through shared
// data, updated with compare-and-swap so that under any concurrency exactly the configured number
// of requests pass. See README.md for the configuration and the algorithm. config.h reads the
// configuration, keys.h makes a request's key, bucket_store.h takes the tokens; these contexts
// choose the limit and answer.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bucket_store.h"
#include "config.h"
#include "proxy_wasm/sdk.h"
#include "proxy_wasm/sdk/fractional_percent.h"

namespace local_rate_limit {

class Root : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;

  // The limit for the request being handled and its bucket key: the first descriptor whose
  // entries all match (the key: their values), else the default limit (the key: `key`'s parts);
  // nullptr when no limit applies.
  const Limit* limitFor(std::string* key) const;
  const Config& config() const { return config_; }
  BucketStore& store() { return store_; }
  // True for `per_million` of the calls (Envoy's fractional percent).
  bool sample(uint32_t per_million) { return sampler_.sample(per_million); }

  proxy_wasm::Counter allowed_{"local_rate_limit.allowed"};
  proxy_wasm::Counter limited_{"local_rate_limit.limited"};
  proxy_wasm::Counter contended_{"local_rate_limit.allowed_after_cas_contention"};
  proxy_wasm::Counter overflow_{"local_rate_limit.key_overflow"};
  proxy_wasm::Counter errors_{"local_rate_limit.errors"};

 private:
  Config config_;
  std::vector<Limit> limits_;  // the default limit, then one per descriptor
  proxy_wasm::FractionSampler sampler_;
  BucketStore store_;
};

class Stream : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;
  proxy_wasm::FilterHeadersStatus onResponseHeaders(uint32_t headers, bool end_of_stream) override;

 private:
  proxy_wasm::HeaderList headers_;  // the rate-limit headers, for the response
};

}  // namespace local_rate_limit
