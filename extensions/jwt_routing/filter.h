// jwt_routing: routes requests by the claims of their JWT. Claims come from jwt_authn's dynamic
// metadata (Envoy, Istio's RequestAuthentication, wasm-proxy), or, when `providers` is given,
// from a token the plugin verifies itself (nettle in wasm; local or remote JWKS; a cache of
// verified tokens). Configured claims become request headers, the first matching rule sets
// headers and the authority, and the route is chosen again. Headers it manages are removed from
// every request first, so a client cannot forge them. The configuration reference is README.md.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "proxy_wasm/sdk.h"
#include "proxy_wasm/sdk/lru_cache.h"

namespace jwt_routing {

// A token the plugin verified, remembered by the SHA-256 of its text.
struct VerifiedToken {
  const Provider* provider = nullptr;
  std::shared_ptr<const nlohmann::json> payload;
  std::optional<int64_t> exp, nbf;
};

class Root : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;
  const Config& config() const { return config_; }

  // A remote provider's keys when fresh enough for a token with `kid`, else null.
  const Jwks* remoteKeys(const Provider& p, std::string_view kid) const;
  void storeRemoteKeys(const Provider& p, std::shared_ptr<const Jwks> jwks);
  bool fetchedRecently(const Provider& p) const;
  proxy_wasm::LruCache<VerifiedToken>& verified() { return verified_; }

  // jwt_routing.rule.<name>.routed, one per rule.
  proxy_wasm::Counter& routed(const Rule& rule) { return *routed_[&rule - config_.rules.data()]; }
  proxy_wasm::Counter unmatched_{"jwt_routing.unmatched"};
  proxy_wasm::Counter no_claims_{"jwt_routing.no_claims"};
  proxy_wasm::Counter denied_{"jwt_routing.denied"};
  proxy_wasm::Counter cache_hits_{"jwt_routing.verify_cache_hits"};
  proxy_wasm::Counter jwks_fetched_{"jwt_routing.jwks_fetch_success"};
  proxy_wasm::Counter jwks_failed_{"jwt_routing.jwks_fetch_failed"};

 private:
  struct CachedKeys {
    std::shared_ptr<const Jwks> jwks;
    uint64_t fetched_ms = 0;
  };
  Config config_;
  std::vector<std::unique_ptr<proxy_wasm::Counter>> routed_;
  std::map<const Provider*, CachedKeys> remote_;
  proxy_wasm::LruCache<VerifiedToken> verified_;
};

class Stream : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;

 private:
  enum class Step { Done, Waiting };
  // Logs a header change that failed (by the result's name); the request goes on as routed.
  void changed(proxy_wasm::WasmResult r, std::string_view header);
  // Verifies the first token found in a provider's locations and routes; Waiting while a key
  // set is fetched.
  Step verifyAndRoute();
  void route(const Claims* claims);
  void reject(Status status);
  void fetchKeys(const Provider& p);

  bool fetched_ = false;  // one key fetch per stream
};

}  // namespace jwt_routing
