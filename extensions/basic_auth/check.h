// basic_auth's decision for one request: which rules apply, whether the credentials match one
// of theirs (in time that does not reveal users or password prefixes), and the challenge of a
// 401. Pure (no hostcall); the contexts in filter.h act on the decision.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "config.h"
#include "proxy_wasm/sdk/lru_cache.h"

namespace basic_auth {

// The header value of a 401's WWW-Authenticate for `realm` (quoted only when not a token).
std::string challenge(std::string_view realm);

// Result of checking one request against the rules.
struct Decision {
  enum class Kind { Allow, NoCredentials, InvalidCredentials, Forbidden } kind = Kind::Allow;
  std::string user;  // the authenticated user when allowed (empty when no rule applied)
  // A rule whose regex exceeded PCRE2's match limits (it then applied): the caller logs it.
  std::string regex_over_limit;
  Decision& deny(Kind k) {
    kind = k;
    return *this;
  }
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
  // False when the system gave no entropy for the key (the keys are then predictable digests).
  bool keyed() const { return keyed_; }

 private:
  std::string key(std::string_view user_pass) const;
  std::string secret_;
  bool keyed_ = false;
  proxy_wasm::LruCache<std::string> lru_;  // key -> the stored password text it matched
};

// The request-independent core. `cache` (may be null) short-cuts repeated slow checks.
Decision check(const Config& config, std::string_view method, std::string_view host,
               std::string_view path, std::optional<std::string_view> authorization,
               VerifiedCache* cache = nullptr);

}  // namespace basic_auth
