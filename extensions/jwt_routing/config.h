// jwt_routing's configuration: where claims come from (jwt_authn's metadata, or providers whose
// tokens the plugin verifies), which claims become headers, and the routing rules; read from JSON,
// every error naming its path. Pure (no hostcall). The configuration reference is README.md.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "claims.h"
#include "jwks.h"
#include "proxy_wasm/sdk/expected.h"

namespace jwt_routing {

struct HeaderLocation {
  std::string name;  // lower-cased
  std::string value_prefix;
};

struct RemoteJwks {
  std::string cluster, authority, path;
  std::chrono::milliseconds timeout{5000};
  uint64_t cache_duration_ms = 600000;  // Envoy's default: 10 min
};

struct Provider {
  std::string name;
  std::string issuer;  // "" = any
  std::vector<std::string> audiences;
  std::shared_ptr<const Jwks> local_jwks;
  std::optional<RemoteJwks> remote_jwks;
  std::vector<HeaderLocation> from_headers;  // none and no from_params: Authorization: Bearer,
  std::vector<std::string> from_params;      // then ?access_token=
  bool forward = false;
  int64_t clock_skew_seconds = 60;
  bool require_expiration = false;
};

struct ClaimToHeader {
  std::string claim;   // dotted path
  std::string header;  // lower-cased
};

struct Rule {
  std::string name;  // for counters; "rule<N>" when not given
  std::string claim;
  std::vector<std::string> values;  // matches when any of the claim's values is one of these
  std::vector<std::pair<std::string, std::string>> set_headers;
  std::string set_authority;  // "" = unchanged
};

struct Config {
  std::string metadata_namespace = "envoy.filters.http.jwt_authn";
  std::string payload_key = "payload";
  std::vector<Provider> providers;  // empty: claims from dynamic metadata
  bool require_token = false;       // with providers: a request without a token gets 401
  size_t cache_size = 1024;         // verified tokens remembered (0: no cache)
  std::vector<ClaimToHeader> claim_to_headers;
  std::vector<Rule> rules;
  std::vector<std::string> managed_headers;  // every header name this plugin sets
};

// Parses the plugin configuration; the error names the field path.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view json);

// The first rule whose claim has one of its values, or null.
const Rule* matchRule(const Config& config, const Claims& claims);

}  // namespace jwt_routing
