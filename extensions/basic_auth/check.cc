// basic_auth's decision for one request (check.h).
#include "check.h"

#include <nettle/sha2.h>
#include <unistd.h>

#include "proxy_wasm/sdk/base64.h"
#include "proxy_wasm/sdk/strings.h"

namespace basic_auth {
namespace {

constexpr size_t kMaxAuthorizationBytes = 8 * 1024;

// RFC 7230 tchar: a realm made only of these is sent unquoted (byte-for-byte upstream's reply).
bool isToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool hostMatches(const std::vector<std::string>& patterns, std::string_view host) {
  host = proxy_wasm::strings::stripPort(host);
  for (const auto& p : patterns) {
    std::string_view pat(p);
    if (!pat.empty() && pat.front() == '*') {
      std::string_view suffix = pat.substr(1);
      if (host.size() >= suffix.size() && host.substr(host.size() - suffix.size()) == suffix)
        return true;
    } else if (!pat.empty() && pat.back() == '*') {
      if (host.substr(0, pat.size() - 1) == pat.substr(0, pat.size() - 1)) return true;
    } else if (host == pat) {
      return true;
    }
  }
  return false;
}

bool pathMatches(const Rule& r, std::string_view path, Decision& decision) {
  switch (r.match) {
    case Rule::Match::Prefix:
      return path.substr(0, r.path.size()) == r.path;
    case Rule::Match::Exact:
      return path == r.path;
    case Rule::Match::Suffix:
      return path.size() >= r.path.size() && path.substr(path.size() - r.path.size()) == r.path;
    case Rule::Match::Regex:
      // Like Envoy's safe_regex route match: the whole path, without the query string. A match
      // that exceeds PCRE2's limits counts as a match: the rule then demands credentials.
      switch (r.regex->fullMatch(path.substr(0, path.find('?')))) {
        case PathRegex::Result::Match:
          return true;
        case PathRegex::Result::NoMatch:
          return false;
        case PathRegex::Result::LimitExceeded:
          decision.regex_over_limit = r.path;
          return true;
      }
  }
  return false;
}

// Finds the credential that user and password match, among the rule's and the consumers'.
// Cheap schemes (plain, {SHA}) are checked for every credential; of the slow ones ($apr1$,
// bcrypt), only those of the user, or, when the user has none, the slowest one, whose result is
// then ignored. So the time is the same whether the user exists or not, and whatever the
// password's prefix, while a request pays for at most one slow check per entry of its user.
const Credential* findCredential(const std::vector<const Credential*>& candidates,
                                 std::string_view user, std::string_view password,
                                 std::string_view user_pass, VerifiedCache* cache) {
  const Credential* match = nullptr;
  const Credential* slowest = nullptr;
  bool slow_user = false;
  const std::string* cached = nullptr;
  bool cache_checked = false;
  for (const Credential* c : candidates) {
    bool user_eq = constantTimeEquals(user, c->user);
    bool ok = false;
    if (!c->password.slow()) {
      ok = user_eq & c->password.verify(password);
    } else {
      if (slowest == nullptr || c->password.cost() > slowest->password.cost()) slowest = c;
      if (!user_eq) continue;
      slow_user = true;
      if (cache != nullptr && !cache_checked) {
        cached = cache->find(user_pass);
        cache_checked = true;
      }
      if (cached != nullptr && *cached == c->password.text()) {
        ok = true;
      } else if (match == nullptr) {
        ok = c->password.verify(password);
        if (ok && cache != nullptr) cache->insert(user_pass, c->password.text());
      }
    }
    match = ok && match == nullptr ? c : match;
  }
  if (slowest != nullptr && !slow_user) (void)slowest->password.verify(password);
  return match;
}

}  // namespace

std::string challenge(std::string_view realm) {
  if (isToken(realm)) return "Basic realm=" + std::string(realm);
  std::string quoted = "Basic realm=\"";
  for (char c : realm) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    quoted.push_back(c);
  }
  return quoted + "\"";
}

VerifiedCache::VerifiedCache(size_t capacity) : secret_(32, '\0'), lru_(capacity) {
  // Without entropy the keys are still digests; only their unpredictability is lost.
  keyed_ = getentropy(secret_.data(), secret_.size()) == 0;
}

std::string VerifiedCache::key(std::string_view user_pass) const {
  sha256_ctx ctx;
  nettle_sha256_init(&ctx);
  nettle_sha256_update(&ctx, secret_.size(), reinterpret_cast<const uint8_t*>(secret_.data()));
  nettle_sha256_update(&ctx, user_pass.size(), reinterpret_cast<const uint8_t*>(user_pass.data()));
  std::string digest(SHA256_DIGEST_SIZE, '\0');
  nettle_sha256_digest(&ctx, digest.size(), reinterpret_cast<uint8_t*>(digest.data()));
  return digest;
}

const std::string* VerifiedCache::find(std::string_view user_pass) {
  return lru_.find(key(user_pass));
}

void VerifiedCache::insert(std::string_view user_pass, const std::string& stored) {
  lru_.insert(key(user_pass), stored);
}

Decision check(const Config& config, std::string_view method, std::string_view host,
               std::string_view path, std::optional<std::string_view> authorization,
               VerifiedCache* cache) {
  Decision decision;
  for (const Rule& rule : config.rules) {
    bool method_ok = false;
    for (const auto& m : rule.methods) method_ok = method_ok || m == method;
    if (!method_ok) continue;
    if (!rule.hosts.empty() && !hostMatches(rule.hosts, host)) continue;
    if (!pathMatches(rule, path, decision)) continue;

    // The rule applies: credentials are required.
    if (!authorization || authorization->empty())
      return decision.deny(Decision::Kind::NoCredentials);
    if (authorization->size() > kMaxAuthorizationBytes)
      return decision.deny(Decision::Kind::InvalidCredentials);
    std::string_view auth = *authorization;
    size_t space = auth.find(' ');
    if (space == std::string_view::npos ||
        !proxy_wasm::strings::equalsIgnoreCaseAscii(auth.substr(0, space), "basic")) {
      return decision.deny(
          Decision::Kind::NoCredentials);  // RFC 7617: the scheme is case-insensitive
    }
    std::string_view token = auth.substr(space + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    auto decoded = proxy_wasm::base64::decode(token);
    if (!decoded) return decision.deny(Decision::Kind::InvalidCredentials);

    std::string_view user_pass = *decoded;
    size_t colon = user_pass.find(':');
    if (colon == std::string_view::npos) return decision.deny(Decision::Kind::InvalidCredentials);
    std::vector<const Credential*> candidates;
    candidates.reserve(rule.credentials.size() + config.consumers.size());
    for (const auto& c : rule.credentials) candidates.push_back(&c);
    for (const auto& c : config.consumers) candidates.push_back(&c);
    const Credential* match = findCredential(candidates, user_pass.substr(0, colon),
                                             user_pass.substr(colon + 1), user_pass, cache);
    if (match == nullptr) return decision.deny(Decision::Kind::InvalidCredentials);
    if (!match->consumer.empty()) {
      bool inline_ok = false;
      for (const auto& c : rule.credentials) {
        inline_ok =
            inline_ok || (c.user == match->user && c.password.text() == match->password.text());
      }
      bool allowed = false;
      for (const auto& a : rule.allow) allowed = allowed || a == match->consumer;
      if (!allowed && !inline_ok) {
        // A known consumer: 403 when the rule names who may pass, 401 otherwise.
        if (rule.allow.empty()) return decision.deny(Decision::Kind::InvalidCredentials);
        decision.user = match->user;
        return decision.deny(Decision::Kind::Forbidden);
      }
    }
    decision.user = match->user;  // every matching rule must pass (AND), as upstream
  }
  return decision;
}

}  // namespace basic_auth
