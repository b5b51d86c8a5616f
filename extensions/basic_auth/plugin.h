// basic_auth: HTTP Basic authentication for requests selected by method, host and path rules.
// A drop-in for istio-ecosystem's basic_auth (same configuration, same replies), with its bugs
// fixed and named consumers, allow lists, environment-sourced credentials and counters added.
// The configuration reference is README.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "password.h"
#include "path_regex.h"
#include "proxy_wasm/sdk.h"
#include "proxy_wasm/sdk/lru_cache.h"

namespace basic_auth {

// A user and its stored password (plain or an htpasswd hash).
struct Credential {
  std::string user;
  StoredPassword password;
  std::string consumer;  // the consumer it belongs to, or empty for a rule's inline credential
};

struct Rule {
  enum class Match { Prefix, Exact, Suffix, Regex } match = Match::Prefix;
  std::string path;
  std::optional<PathRegex> regex;  // for Match::Regex, compiled from `path`
  std::vector<std::string> hosts;
  std::vector<std::string> methods;
  std::vector<Credential> credentials;  // inline credentials
  std::vector<std::string> allow;       // consumer names
};

struct Config {
  std::vector<Rule> rules;
  std::vector<Credential> consumers;  // every consumer's credentials
  std::string realm = "istio";
  std::string forward_username_header;
  bool strip_authorization = false;
  // Where credentials are read (lower case): Envoy's authentication_header, e.g.
  // "proxy-authorization" (Kong reads it too).
  std::string authentication_header = "authorization";
  // Kong's anonymous consumer: requests without valid credentials continue as this consumer
  // (empty: they get 401).
  std::string anonymous;
};

// The largest bcrypt cost accepted. One check at cost 10 takes ~65 ms of a worker's CPU in V8 and
// each step doubles it: cost 12 (260 ms) would overrun the host's 250 ms per-call CPU deadline.
constexpr int kMaxBcryptCost = 10;

// Parses the plugin configuration; the error names the field path.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view json);

// The header value of a 401's WWW-Authenticate for `realm` (quoted only when not a token).
std::string challenge(std::string_view realm);

// Result of checking one request against the rules.
struct Decision {
  enum class Kind { Allow, NoCredentials, InvalidCredentials, Forbidden } kind = Kind::Allow;
  std::string user;  // the authenticated user when allowed (empty when no rule applied)
};

// Remembers credentials that recently passed a slow ($apr1$, bcrypt) check, so that a client's
// repeated requests cost one SHA-256 instead of a bcrypt. Keys are SHA-256 digests of a random
// per-VM key and "user:password", so the cache holds no password; only successes are kept, and
// the least recently used entry goes first when `capacity` is reached.
class VerifiedCache {
 public:
  explicit VerifiedCache(size_t capacity = 1024);
  // The stored password text that `user_pass` matched, or nullptr.
  const std::string* find(std::string_view user_pass);
  void insert(std::string_view user_pass, const std::string& stored);
  size_t size() const { return lru_.size(); }

 private:
  std::string key(std::string_view user_pass) const;
  std::string secret_;
  proxy_wasm::LruCache<std::string> lru_;  // key -> the stored password text it matched
};

// The request-independent core. `cache` (may be null) short-cuts repeated slow checks.
Decision check(const Config& config, std::string_view method, std::string_view host,
               std::string_view path, std::optional<std::string_view> authorization,
               VerifiedCache* cache = nullptr);

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
