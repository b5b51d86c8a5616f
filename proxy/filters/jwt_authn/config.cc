#include "config.h"

#include <algorithm>

#include "config_yaml.h"

namespace wasm_proxy::jwt_authn {

using namespace config_yaml;

JwksCache::Entry JwksCache::get() const {
  std::lock_guard lock(mu_);
  return entry_;
}

void JwksCache::put(std::shared_ptr<const Jwks> jwks, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mu_);
  entry_ = Entry{std::move(jwks), now};
}

std::shared_ptr<const Jwt> JwtCache::find(std::string_view token) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(token);
  if (it == entries_.end()) return nullptr;
  order_.splice(order_.begin(), order_, it->second.second);
  return it->second.first;
}

void JwtCache::insert(std::string_view token, std::shared_ptr<const Jwt> jwt) {
  if (capacity_ == 0 || token.size() > max_token_size_) return;
  std::lock_guard lock(mu_);
  if (entries_.count(token) != 0) return;
  if (entries_.size() >= capacity_) {
    entries_.erase(order_.back());
    order_.pop_back();
  }
  order_.emplace_front(token);
  entries_.emplace(order_.front(), std::make_pair(std::move(jwt), order_.begin()));
}

const JwtRule* JwtAuthnConfig::ruleFor(std::string_view path) const {
  const std::string_view no_query = path.substr(0, path.find('?'));
  for (const auto& r : rules) {
    if (r.match == JwtRule::Match::Path ? no_query == r.value
                                        : no_query.substr(0, r.value.size()) == r.value) {
      return &r;
    }
  }
  return nullptr;
}

namespace {

std::vector<std::string> strings(const YAML::Node& n, const std::string& path, bool lowered) {
  if (!n.IsSequence()) fail(path, "expected a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) {
    std::string s = str(n[i], index(path, i));
    out.push_back(lowered ? lower(std::move(s)) : std::move(s));
  }
  return out;
}

std::shared_ptr<const Jwks> keySet(const std::string& text, const std::string& path) {
  std::string error;
  std::vector<std::string> skipped;
  auto jwks = Jwks::parse(text, &error, &skipped);
  if (!jwks) fail(path, "not a JWKS: " + error);
  if (jwks->keys().empty()) {
    fail(path, "no usable key" + (skipped.empty() ? std::string() : " (" + skipped[0] + ")"));
  }
  return jwks;
}

RemoteJwks remoteJwks(const YAML::Node& n, const std::string& path) {
  checkKeys(n, path, {"http_uri", "cache_duration", "async_fetch", "retry_policy"});
  for (const char* refused : {"async_fetch", "retry_policy"}) {
    if (n[refused]) fail(child(path, refused), "not supported (keys are fetched on first use)");
  }
  RemoteJwks r;
  const std::string up = child(path, "http_uri");
  if (!n["http_uri"]) fail(up, "missing required field");
  const YAML::Node u = n["http_uri"];
  checkKeys(u, up, {"uri", "cluster", "timeout"});
  if (!u["uri"] || !u["cluster"]) fail(up, "uri and cluster are required");
  r.uri = str(u["uri"], child(up, "uri"));
  r.cluster = str(u["cluster"], child(up, "cluster"));
  if (u["timeout"]) r.timeout = duration(u["timeout"], child(up, "timeout"));
  const size_t scheme = r.uri.find("://");
  if (scheme == std::string::npos) fail(child(up, "uri"), "expected http://host[:port]/path");
  const size_t slash = r.uri.find('/', scheme + 3);
  r.authority = r.uri.substr(scheme + 3, slash == std::string::npos ? slash : slash - scheme - 3);
  r.path = slash == std::string::npos ? "/" : r.uri.substr(slash);
  if (r.authority.empty()) fail(child(up, "uri"), "no host");
  if (n["cache_duration"]) {
    r.cache_duration = duration(n["cache_duration"], child(path, "cache_duration"));
  }
  return r;
}

void locations(const YAML::Node& n, const std::string& path, JwtProvider* p) {
  if (n["from_headers"]) {
    const std::string hp = child(path, "from_headers");
    if (!n["from_headers"].IsSequence()) fail(hp, "expected a list");
    for (size_t i = 0; i < n["from_headers"].size(); ++i) {
      const YAML::Node h = n["from_headers"][i];
      const std::string ip = index(hp, i);
      checkKeys(h, ip, {"name", "value_prefix"});
      if (!h["name"]) fail(child(ip, "name"), "missing required field");
      p->from_headers.push_back(
          {lower(str(h["name"], child(ip, "name"))),
           h["value_prefix"] ? str(h["value_prefix"], child(ip, "value_prefix")) : ""});
    }
  }
  if (n["from_params"])
    p->from_params = strings(n["from_params"], child(path, "from_params"), false);
}

void claimToHeaders(const YAML::Node& n, const std::string& path, JwtProvider* p) {
  if (!n.IsSequence()) fail(path, "expected a list");
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string ip = index(path, i);
    checkKeys(n[i], ip, {"header_name", "claim_name"});
    if (!n[i]["header_name"] || !n[i]["claim_name"]) {
      fail(ip, "header_name and claim_name are required");
    }
    p->claim_to_headers.push_back({lower(str(n[i]["header_name"], child(ip, "header_name"))),
                                   str(n[i]["claim_name"], child(ip, "claim_name"))});
  }
}

JwtProvider provider(const std::string& name, const YAML::Node& n, const std::string& path,
                     const std::string& base_dir) {
  checkKeys(n, path,
            {"issuer",
             "audiences",
             "local_jwks",
             "remote_jwks",
             "from_headers",
             "from_params",
             "forward",
             "forward_payload_header",
             "pad_forward_payload_header",
             "payload_in_metadata",
             "claim_to_headers",
             "clear_route_cache",
             "clock_skew_seconds",
             "require_expiration",
             "subjects",
             "max_lifetime",
             "from_cookies",
             "header_in_metadata",
             "failed_status_in_metadata",
             "normalize_payload_in_metadata"},
            {"jwt_cache_config"});
  for (const char* refused : {"subjects", "max_lifetime", "from_cookies", "header_in_metadata",
                              "failed_status_in_metadata", "normalize_payload_in_metadata"}) {
    if (n[refused]) fail(child(path, refused), "not supported by wasm-proxy's jwt_authn");
  }
  JwtProvider p;
  p.name = name;
  auto text = [&](const char* key, std::string* out) {
    if (n[key]) *out = str(n[key], child(path, key));
  };
  auto flag = [&](const char* key, bool* out) {
    if (n[key]) *out = boolean(n[key], child(path, key));
  };
  text("issuer", &p.issuer);
  if (n["audiences"]) p.audiences = strings(n["audiences"], child(path, "audiences"), false);
  if (n["local_jwks"] && n["remote_jwks"]) fail(path, "only one of local_jwks and remote_jwks");
  if (n["local_jwks"]) {
    const std::string lp = child(path, "local_jwks");
    p.local_jwks = keySet(dataSource(n["local_jwks"], lp, base_dir), lp);
  } else if (n["remote_jwks"]) {
    p.remote_jwks = remoteJwks(n["remote_jwks"], child(path, "remote_jwks"));
  } else {
    fail(path, "one of local_jwks or remote_jwks is required");
  }
  locations(n, path, &p);
  flag("forward", &p.forward);
  text("forward_payload_header", &p.forward_payload_header);
  p.forward_payload_header = lower(p.forward_payload_header);
  flag("pad_forward_payload_header", &p.pad_forward_payload_header);
  text("payload_in_metadata", &p.payload_in_metadata);
  if (n["claim_to_headers"]) {
    claimToHeaders(n["claim_to_headers"], child(path, "claim_to_headers"), &p);
  }
  flag("clear_route_cache", &p.clear_route_cache);
  flag("require_expiration", &p.require_expiration);
  if (n["jwt_cache_config"]) {
    const std::string cp = child(path, "jwt_cache_config");
    const YAML::Node c = n["jwt_cache_config"];
    checkKeys(c, cp, {"jwt_cache_size", "jwt_max_token_size"});
    const size_t size =
        c["jwt_cache_size"] ? num(c["jwt_cache_size"], child(cp, "jwt_cache_size"), 1000000) : 100;
    const size_t max_token = c["jwt_max_token_size"]
                                 ? num(c["jwt_max_token_size"], child(cp, "jwt_max_token_size"))
                                 : 4096;
    p.cache = std::make_shared<JwtCache>(size, max_token);
  }
  if (n["clock_skew_seconds"]) {
    p.clock_skew_seconds = int64_t(num(n["clock_skew_seconds"], child(path, "clock_skew_seconds")));
  }
  return p;
}

Requirement requirement(const YAML::Node& n, const std::string& path, const JwtAuthnConfig& c);

Requirement requirementList(Requirement::Kind kind, const YAML::Node& n, const std::string& path,
                            const JwtAuthnConfig& c) {
  checkKeys(n, path, {"requirements"});
  const std::string rp = child(path, "requirements");
  if (!n["requirements"] || !n["requirements"].IsSequence() || n["requirements"].size() == 0) {
    fail(rp, "expected a non-empty list of requirements");
  }
  Requirement r;
  r.kind = kind;
  for (size_t i = 0; i < n["requirements"].size(); ++i) {
    r.children.push_back(requirement(n["requirements"][i], index(rp, i), c));
  }
  return r;
}

Requirement requirement(const YAML::Node& n, const std::string& path, const JwtAuthnConfig& c) {
  checkKeys(
      n, path,
      {"provider_name", "requires_any", "requires_all", "allow_missing", "allow_missing_or_failed",
       "provider_and_audiences", "extract_only_without_validation"});
  if (n.size() != 1) fail(path, "expected exactly one requirement");
  if (n["provider_name"]) {
    const std::string name = str(n["provider_name"], child(path, "provider_name"));
    auto it = c.providers.find(name);
    if (it == c.providers.end()) fail(child(path, "provider_name"), "no provider '" + name + "'");
    return Requirement{Requirement::Kind::Provider, &it->second, {}};
  }
  if (n["requires_any"]) {
    return requirementList(Requirement::Kind::Any, n["requires_any"], child(path, "requires_any"),
                           c);
  }
  if (n["requires_all"]) {
    return requirementList(Requirement::Kind::All, n["requires_all"], child(path, "requires_all"),
                           c);
  }
  if (n["allow_missing"]) return Requirement{Requirement::Kind::AllowMissing, nullptr, {}};
  if (n["allow_missing_or_failed"]) {
    return Requirement{Requirement::Kind::AllowMissingOrFailed, nullptr, {}};
  }
  fail(path,
       "not supported by wasm-proxy's jwt_authn (provider_name, requires_any, "
       "requires_all, allow_missing, allow_missing_or_failed)");
}

JwtRule rule(const YAML::Node& n, const std::string& path, const JwtAuthnConfig& c) {
  checkKeys(n, path, {"match", "requires", "requirement_name"});
  if (n["requirement_name"]) fail(child(path, "requirement_name"), "not supported");
  const std::string mp = child(path, "match");
  if (!n["match"]) fail(mp, "missing required field");
  const YAML::Node m = n["match"];
  checkKeys(m, mp,
            {"prefix", "path", "safe_regex", "headers", "query_parameters", "case_sensitive"});
  JwtRule r;
  if (m["prefix"]) {
    r.value = str(m["prefix"], child(mp, "prefix"));
  } else if (m["path"]) {
    r.match = JwtRule::Match::Path;
    r.value = str(m["path"], child(mp, "path"));
  } else {
    fail(mp, "prefix or path is required (safe_regex is not supported)");
  }
  for (const char* refused : {"safe_regex", "headers", "query_parameters", "case_sensitive"}) {
    if (m[refused]) fail(child(mp, refused), "not supported in jwt_authn rules");
  }
  if (n["requires"]) r.requirement = requirement(n["requires"], child(path, "requires"), c);
  return r;
}

}  // namespace

std::shared_ptr<const JwtAuthnConfig> parseJwtAuthn(const YAML::Node& n, const std::string& path,
                                                    const std::string& base_dir) {
  checkKeys(n, path,
            {"@type", "providers", "rules", "requirement_map", "filter_state_rules",
             "bypass_cors_preflight", "strip_failure_response"},
            {"stat_prefix"});
  for (const char* refused : {"requirement_map", "filter_state_rules", "strip_failure_response"}) {
    if (n[refused]) fail(child(path, refused), "not supported by wasm-proxy's jwt_authn");
  }
  if (n["bypass_cors_preflight"] &&
      boolean(n["bypass_cors_preflight"], child(path, "bypass_cors_preflight"))) {
    fail(child(path, "bypass_cors_preflight"), "not supported by wasm-proxy's jwt_authn");
  }
  auto c = std::make_shared<JwtAuthnConfig>();
  const std::string pp = child(path, "providers");
  if (!n["providers"] || !n["providers"].IsMap() || n["providers"].size() == 0) {
    fail(pp, "expected a map of providers");
  }
  for (const auto& kv : n["providers"]) {
    const std::string name = kv.first.as<std::string>();
    c->providers.emplace(name, provider(name, kv.second, child(pp, name), base_dir));
  }
  if (n["rules"]) {
    const std::string rp = child(path, "rules");
    if (!n["rules"].IsSequence()) fail(rp, "expected a list");
    for (size_t i = 0; i < n["rules"].size(); ++i) {
      c->rules.push_back(rule(n["rules"][i], index(rp, i), *c));
    }
  }
  for (const auto& [name, p] : c->providers) {
    for (const auto& h : p.claim_to_headers) c->managed_headers.push_back(h.header_name);
    if (!p.forward_payload_header.empty()) c->managed_headers.push_back(p.forward_payload_header);
  }
  std::sort(c->managed_headers.begin(), c->managed_headers.end());
  c->managed_headers.erase(std::unique(c->managed_headers.begin(), c->managed_headers.end()),
                           c->managed_headers.end());
  return c;
}

}  // namespace wasm_proxy::jwt_authn
