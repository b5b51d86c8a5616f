// envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication, the subset wasm-proxy runs (see
// README.md in this folder). Parsed once per bootstrap; shared read-only by every worker, except
// the remote key sets, which are fetched and cached (JwksCache) by whichever worker needs them.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "jwks.h"

namespace wasm_proxy::jwt_authn {

struct HeaderLocation {
  std::string name;  // lower-cased
  std::string value_prefix;
};

struct ClaimToHeader {
  std::string header_name;  // lower-cased
  std::string claim_name;   // a dotted path into the payload
};

// The latest key set fetched for a remote_jwks provider (any worker may refresh it).
class JwksCache {
 public:
  struct Entry {
    std::shared_ptr<const Jwks> jwks;
    std::chrono::steady_clock::time_point fetched;
  };
  Entry get() const;
  void put(std::shared_ptr<const Jwks> jwks, std::chrono::steady_clock::time_point now);

 private:
  mutable std::mutex mu_;
  Entry entry_;
};

// Tokens a provider verified (Envoy's jwt_cache_config), by their text, least recently used
// first out; shared by the workers. A hit skips parsing and the signature check, not the time
// check.
class JwtCache {
 public:
  JwtCache(size_t capacity, size_t max_token_size)
      : capacity_(capacity), max_token_size_(max_token_size) {}
  std::shared_ptr<const Jwt> find(std::string_view token);
  void insert(std::string_view token, std::shared_ptr<const Jwt> jwt);

 private:
  using Order = std::list<std::string>;
  std::mutex mu_;
  size_t capacity_, max_token_size_;
  Order order_;  // most recent first
  std::unordered_map<std::string_view, std::pair<std::shared_ptr<const Jwt>, Order::iterator>>
      entries_;  // keys view into order_
};

struct RemoteJwks {
  std::string uri;
  std::string cluster;
  std::string authority, path;  // from uri
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds cache_duration{600000};  // Envoy's default: 10 min
  // A token with a kid the cached set lacks triggers a refetch at most this often.
  std::chrono::milliseconds refetch_interval{1000};
  std::shared_ptr<JwksCache> cache = std::make_shared<JwksCache>();
};

struct JwtProvider {
  std::string name;
  std::string issuer;  // "" = any
  std::vector<std::string> audiences;
  std::shared_ptr<const Jwks> local_jwks;
  std::optional<RemoteJwks> remote_jwks;
  std::vector<HeaderLocation> from_headers;  // none and no from_params: the defaults
  std::vector<std::string> from_params;
  bool forward = false;
  std::string forward_payload_header;  // lower-cased; "" = none
  bool pad_forward_payload_header = false;
  std::string payload_in_metadata;  // "" = none
  std::vector<ClaimToHeader> claim_to_headers;
  bool clear_route_cache = false;
  int64_t clock_skew_seconds = 60;
  bool require_expiration = false;
  // jwt_cache_config: jwt_cache_size (Envoy's default 100; 0 disables), jwt_max_token_size (4096).
  std::shared_ptr<JwtCache> cache = std::make_shared<JwtCache>(100, 4096);
};

struct Requirement {
  enum class Kind { Provider, Any, All, AllowMissing, AllowMissingOrFailed } kind = Kind::Provider;
  const JwtProvider* provider = nullptr;  // Kind::Provider
  std::vector<Requirement> children;      // Any, All
};

struct JwtRule {
  enum class Match { Prefix, Path } match = Match::Prefix;
  std::string value;
  std::optional<Requirement> requirement;  // none: no verification for this rule
};

struct JwtAuthnConfig {
  std::map<std::string, JwtProvider, std::less<>> providers;
  std::vector<JwtRule> rules;                // first match wins
  std::vector<std::string> managed_headers;  // claim/payload headers no client may send
  const JwtRule* ruleFor(std::string_view path) const;
};

// Parses the filter's typed_config at YAML path `path`; errors are config_yaml::ConfigError
// naming the field. Local key files are read relative to `base_dir` when not found as given.
std::shared_ptr<const JwtAuthnConfig> parseJwtAuthn(const YAML::Node& n, const std::string& path,
                                                    const std::string& base_dir);

}  // namespace wasm_proxy::jwt_authn
