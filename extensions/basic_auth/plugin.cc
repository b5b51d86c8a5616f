#include "plugin.h"

#include <nettle/sha2.h>
#include <unistd.h>

#include <cstdlib>

#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/json.h"
#include "proxy_wasm/sdk/strings.h"

namespace basic_auth {

using proxy_wasm::Expected;
using proxy_wasm::unexpected;
namespace json = proxy_wasm::json;

namespace {

constexpr size_t kMaxAuthorizationBytes = 8 * 1024;
// Set to "true" on requests that continue as the anonymous consumer (Kong's header).
constexpr std::string_view kAnonymousHeader = "x-anonymous-consumer";

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

// One credential entry: "user:password" (the password plain or an htpasswd hash), a base64 token
// of it, or "env:NAME" naming a VM
// environment variable that holds one or more entries (newline or comma separated).
Expected<std::vector<Credential>, std::string> parseCredential(const std::string& entry,
                                                               const std::string& path,
                                                               bool allow_env = true) {
  std::vector<Credential> out;
  if (allow_env && entry.rfind("env:", 0) == 0) {
    std::string name = entry.substr(4);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return unexpected(path + ": environment variable " + name +
                        " is not set (set it in vm_config.environment_variables)");
    }
    std::string all(value);
    size_t start = 0;
    while (start <= all.size()) {
      size_t end = all.find_first_of(",\n", start);
      if (end == std::string::npos) end = all.size();
      std::string item = all.substr(start, end - start);
      while (!item.empty() && (item.back() == '\r' || item.back() == ' ')) item.pop_back();
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      if (!item.empty()) {
        auto parsed = parseCredential(item, path + " (from " + name + ")", false);
        if (!parsed) return parsed;
        out.insert(out.end(), parsed->begin(), parsed->end());
      }
      start = end + 1;
    }
    if (out.empty()) return unexpected(path + ": environment variable " + name + " is empty");
    return out;
  }
  std::string user_pass;
  if (entry.find(':') != std::string::npos) {
    user_pass = entry;
  } else {
    auto decoded = proxy_wasm::base64::decode(entry);
    if (!decoded || decoded->empty()) {
      return unexpected(path + ": expected \"user:password\" or its base64 encoding");
    }
    user_pass = std::move(*decoded);
  }
  size_t colon = user_pass.find(':');
  if (colon == std::string::npos) {
    return unexpected(path + ": the base64 token does not decode to \"user:password\"");
  }
  auto password = StoredPassword::parse(std::string_view(user_pass).substr(colon + 1));
  if (!password) return unexpected(path + ": " + password.error());
  if (password->cost() > kMaxBcryptCost) {
    return unexpected(path + ": bcrypt cost " + std::to_string(password->cost()) + " is above " +
                      std::to_string(kMaxBcryptCost) +
                      ", too slow to check per request (rehash with htpasswd -B -C 10)");
  }
  Credential c;
  c.user = user_pass.substr(0, colon);
  c.password = std::move(*password);
  out.push_back(std::move(c));
  return out;
}

Expected<std::vector<Credential>, std::string> parseCredentials(const json::Value& list) {
  auto items = list.asArray();
  if (!items) return unexpected(items.error().toString());
  std::vector<Credential> out;
  for (const auto& item : *items) {
    auto s = item.asString();
    if (!s) return unexpected(s.error().toString());
    auto parsed = parseCredential(*s, item.path());
    if (!parsed) return unexpected(parsed.error());
    out.insert(out.end(), parsed->begin(), parsed->end());
  }
  return out;
}

Expected<Rule, std::string> parseRule(const json::Value& v, const Config& config) {
  Rule rule;
  if (!v.isObject()) return unexpected(v.path() + ": expected an object");
  int paths = 0;
  for (auto [key, kind] :
       {std::pair{"prefix", Rule::Match::Prefix}, std::pair{"exact", Rule::Match::Exact},
        std::pair{"suffix", Rule::Match::Suffix}, std::pair{"regex", Rule::Match::Regex}}) {
    auto p = v.getString(key);
    if (!p) return unexpected(p.error().toString());
    if (!*p) continue;
    ++paths;
    if ((*p)->empty()) {
      return unexpected(v.path() + "." + key +
                        ": must not be empty (use \"prefix\": \"/\" to match all)");
    }
    rule.match = kind;
    rule.path = **p;
    if (kind == Rule::Match::Regex) {
      auto regex = PathRegex::compile(rule.path);
      if (!regex) return unexpected(v.path() + ".regex: " + regex.error());
      rule.regex = std::move(*regex);
    }
  }
  if (paths != 1) {
    return unexpected(v.path() +
                      ": exactly one of 'prefix', 'suffix', 'exact' and 'regex' is required");
  }
  auto hosts = v.getStringList("hosts");
  if (!hosts) return unexpected(hosts.error().toString());
  rule.hosts = std::move(*hosts);
  auto methods = v.require("request_methods");
  if (!methods) return unexpected(methods.error().toString());
  auto method_list = methods->asStringList();
  if (!method_list) return unexpected(method_list.error().toString());
  if (method_list->empty())
    return unexpected(methods->path() + ": at least one method is required");
  rule.methods = std::move(*method_list);
  if (auto creds = v.find("credentials")) {
    auto parsed = parseCredentials(*creds);
    if (!parsed) return unexpected(parsed.error());
    rule.credentials = std::move(*parsed);
  }
  auto allow = v.getStringList("allow");
  if (!allow) return unexpected(allow.error().toString());
  for (size_t i = 0; i < allow->size(); ++i) {
    bool known = false;
    for (const auto& c : config.consumers) known = known || c.consumer == (*allow)[i];
    if (!known) {
      return unexpected(v.path() + ".allow[" + std::to_string(i) + "]: unknown consumer '" +
                        (*allow)[i] + "'");
    }
  }
  rule.allow = std::move(*allow);
  if (rule.credentials.empty() && rule.allow.empty()) {
    return unexpected(v.path() + ": credentials (or allow) must name at least one credential");
  }
  return rule;
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

bool pathMatches(const Rule& r, std::string_view path) {
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
          proxy_wasm::logWarn("basic_auth: regex '", r.path,
                              "' exceeded its match limits; the rule applies");
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

namespace {

std::optional<std::string> readAuthenticationHeader(const json::Value& v, Config& c) {
  auto header = v.asString();
  if (!header) return header.error().toString();
  if (header->empty() || header->front() == ':') return v.path() + ": expected a header name";
  c.authentication_header = *header;
  proxy_wasm::strings::lowerAsciiInPlace(c.authentication_header);
  return std::nullopt;
}

std::optional<std::string> readConsumers(const json::Value& v, Config& config) {
  auto consumers = v.asArray();
  if (!consumers) return consumers.error().toString();
  for (const auto& c : *consumers) {
    auto name = c.requireString("name");
    if (!name) return name.error().toString();
    auto list = c.require("credentials");
    if (!list) return list.error().toString();
    auto creds = parseCredentials(*list);
    if (!creds) return creds.error();
    if (creds->empty()) return list->path() + ": at least one credential is required";
    for (auto& cred : *creds) {
      cred.consumer = *name;
      config.consumers.push_back(std::move(cred));
    }
  }
  return std::nullopt;
}

// After consumers (rules may name them).
std::optional<std::string> readRules(const json::Value& v, Config& config) {
  auto rules = v.asArray();
  if (!rules) return rules.error().toString();
  for (const auto& r : *rules) {
    auto rule = parseRule(r, config);
    if (!rule) return rule.error();
    config.rules.push_back(std::move(*rule));
  }
  return std::nullopt;
}

const auto kSchema = proxy_wasm::config::Schema<Config>()
                         .string("realm", &Config::realm)
                         .string("forward_username_header", &Config::forward_username_header)
                         .boolean("strip_authorization", &Config::strip_authorization)
                         .field("authentication_header", readAuthenticationHeader)
                         .string("anonymous", &Config::anonymous, proxy_wasm::config::kNonEmpty)
                         .field("consumers", readConsumers)
                         .field("basic_auth_rules", readRules);

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  return kSchema.parse(text, /*empty_is_object=*/true);
}

VerifiedCache::VerifiedCache(size_t capacity) : secret_(32, '\0'), lru_(capacity) {
  if (getentropy(secret_.data(), secret_.size()) != 0) {
    // Without entropy the keys are still digests; only their unpredictability is lost.
    proxy_wasm::logWarn("basic_auth: no entropy for the credential cache key");
  }
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
    if (!pathMatches(rule, path)) continue;

    // The rule applies: credentials are required.
    if (!authorization || authorization->empty()) return {Decision::Kind::NoCredentials, {}};
    if (authorization->size() > kMaxAuthorizationBytes)
      return {Decision::Kind::InvalidCredentials, {}};
    std::string_view auth = *authorization;
    size_t space = auth.find(' ');
    if (space == std::string_view::npos ||
        !proxy_wasm::strings::equalsIgnoreCaseAscii(auth.substr(0, space), "basic")) {
      return {Decision::Kind::NoCredentials, {}};  // RFC 7617: the scheme is case-insensitive
    }
    std::string_view token = auth.substr(space + 1);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    auto decoded = proxy_wasm::base64::decode(token);
    if (!decoded) return {Decision::Kind::InvalidCredentials, {}};

    std::string_view user_pass = *decoded;
    size_t colon = user_pass.find(':');
    if (colon == std::string_view::npos) return {Decision::Kind::InvalidCredentials, {}};
    std::vector<const Credential*> candidates;
    candidates.reserve(rule.credentials.size() + config.consumers.size());
    for (const auto& c : rule.credentials) candidates.push_back(&c);
    for (const auto& c : config.consumers) candidates.push_back(&c);
    const Credential* match = findCredential(candidates, user_pass.substr(0, colon),
                                             user_pass.substr(colon + 1), user_pass, cache);
    if (match == nullptr) return {Decision::Kind::InvalidCredentials, {}};
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
        if (rule.allow.empty()) return {Decision::Kind::InvalidCredentials, {}};
        return {Decision::Kind::Forbidden, match->user};
      }
    }
    decision.user = match->user;  // every matching rule must pass (AND), as upstream
  }
  return decision;
}

bool Root::onConfigure(std::string_view configuration) {
  auto parsed = parseConfig(configuration);
  if (!parsed) {
    proxy_wasm::logWarn("basic_auth: ", parsed.error());
    return false;
  }
  config_ = std::move(*parsed);  // replaces the rules (upstream accumulated them)
  cache_ = VerifiedCache();      // entries name passwords of the old configuration
  proxy_wasm::logDebug("basic_auth: ", config_.rules.size(), " rule(s), ", config_.consumers.size(),
                       " consumer credential(s)");
  return true;
}

proxy_wasm::FilterHeadersStatus Stream::continueUnlessIdentityFailed() {
  if (identity_failure_ == proxy_wasm::WasmResult::Ok) {
    return proxy_wasm::FilterHeadersStatus::Continue;
  }
  proxy_wasm::logError("basic_auth: cannot set the identity headers: ", identity_failure_);
  proxy_wasm::sendLocalResponse(500, "", {}, "basic_auth_identity_headers_failed");
  return proxy_wasm::FilterHeadersStatus::StopIteration;
}

proxy_wasm::FilterHeadersStatus Stream::onRequestHeaders(uint32_t, bool) {
  Root& root = rootAs<Root>();
  const Config& config = root.config();
  // The forwarded user is ours to set: a client's own copy never reaches the upstream.
  const std::string& forward = config.forward_username_header;
  if (config.rules.empty()) {
    if (!forward.empty()) identity(removeRequestHeader(forward));
    if (!config.anonymous.empty()) identity(removeRequestHeader(kAnonymousHeader));
    return continueUnlessIdentityFailed();
  }
  // One hostcall for the four headers a check reads (each single lookup is a hostcall plus an
  // allocation in the plugin).
  auto all = proxy_wasm::getHeaderMapPairs(proxy_wasm::MapType::HttpRequestHeaders);
  std::string_view method, path, host;
  std::optional<std::string_view> authorization;
  bool client_sent_forward = false;
  const proxy_wasm::HeaderViews headers = all ? all->pairs() : proxy_wasm::HeaderViews{};
  for (const auto& [key, value] : headers) {
    if (!forward.empty() && proxy_wasm::strings::equalsIgnoreCaseAscii(key, forward))
      client_sent_forward = true;
    if (key == ":method") {
      method = value;
    } else if (key == ":path") {
      path = value;
    } else if (key == ":authority") {
      host = value;
    } else if (key == config.authentication_header && !authorization) {
      authorization = value;
    } else if (!config.anonymous.empty() && key == kAnonymousHeader) {
      identity(removeRequestHeader(kAnonymousHeader));  // ours to set
    }
  }
  Decision d = check(config, method, host, path, authorization, &root.cache());
  switch (d.kind) {
    case Decision::Kind::Allow:
      if (!d.user.empty()) {
        root.allowed_.increment();
        if (!forward.empty()) identity(replaceRequestHeader(forward, d.user));
        if (config.strip_authorization) identity(removeRequestHeader(config.authentication_header));
      } else if (client_sent_forward) {
        identity(removeRequestHeader(forward));  // no rule applied: nobody was authenticated
      }
      return continueUnlessIdentityFailed();
    case Decision::Kind::NoCredentials:
    case Decision::Kind::InvalidCredentials:
      if (!config.anonymous.empty()) {  // Kong: continue as the anonymous consumer
        root.anonymous_.increment();
        if (!forward.empty())
          identity(replaceRequestHeader(forward, config.anonymous));
        else if (client_sent_forward)
          identity(removeRequestHeader(forward));
        identity(replaceRequestHeader(kAnonymousHeader, "true"));
        if (config.strip_authorization) identity(removeRequestHeader(config.authentication_header));
        return continueUnlessIdentityFailed();
      }
      root.denied_.increment();
      proxy_wasm::sendLocalResponse(
          401, "", {{"WWW-Authenticate", challenge(config.realm)}},
          d.kind == Decision::Kind::NoCredentials
              ? "Request denied by Basic Auth check. No Basic Authentication information found."
              : "Request denied by Basic Auth check. Invalid username and/or password");
      return proxy_wasm::FilterHeadersStatus::StopIteration;
    case Decision::Kind::Forbidden:
      root.denied_.increment();
      proxy_wasm::sendLocalResponse(403, "", {},
                                    "Request denied by Basic Auth check. User is not allowed.");
      return proxy_wasm::FilterHeadersStatus::StopIteration;
  }
  return proxy_wasm::FilterHeadersStatus::Continue;
}

static proxy_wasm::RegisterContextFactory register_basic_auth(proxy_wasm::rootFactory<Root>(),
                                                              proxy_wasm::streamFactory<Stream>());

}  // namespace basic_auth
