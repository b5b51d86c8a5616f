// jwt_routing's configuration: JSON, every error naming its field path.
#include <algorithm>

#include "config.h"
#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/strings.h"

namespace jwt_routing {

using proxy_wasm::Expected;
using proxy_wasm::unexpected;
namespace json = proxy_wasm::json;

namespace {

std::string lower(std::string s) {
  proxy_wasm::strings::lowerAsciiInPlace(s);
  return s;
}

template <class T>
using Schema = proxy_wasm::config::Schema<T>;
using proxy_wasm::config::kRequired;
using Error = std::optional<std::string>;

// A header name a rule or claim_to_headers may set: not a pseudo-header, not Host.
bool settable(std::string_view name) {
  return !name.empty() && name[0] != ':' && lower(std::string(name)) != "host";
}

Error readUri(const json::Value& v, RemoteJwks& r) {
  auto uri = v.asString();
  if (!uri) return uri.error().toString();
  const size_t scheme = uri->find("://");
  const size_t slash = scheme == std::string::npos ? scheme : uri->find('/', scheme + 3);
  if (scheme == std::string::npos || slash == scheme + 3) {
    return v.path() + ": expected http://host[:port]/path";
  }
  r.authority = uri->substr(scheme + 3, slash == std::string::npos ? slash : slash - scheme - 3);
  r.path = slash == std::string::npos ? "/" : uri->substr(slash);
  return std::nullopt;
}

Error readMilliseconds(const json::Value& v, std::chrono::milliseconds& out, uint64_t scale) {
  auto n = v.asUint64();
  if (!n) return n.error().toString();
  out = std::chrono::milliseconds(*n * scale);
  return std::nullopt;
}

const Schema<RemoteJwks> kHttpUri =
    Schema<RemoteJwks>()
        .field("uri", readUri, kRequired)
        .string("cluster", &RemoteJwks::cluster, kRequired)
        .field("timeout_ms", [](const json::Value& v, RemoteJwks& r) {
          return readMilliseconds(v, r.timeout, 1);
        });

const Schema<RemoteJwks> kRemoteJwks =
    Schema<RemoteJwks>()
        .field(
            "http_uri", [](const json::Value& v, RemoteJwks& r) { return kHttpUri.read(v, r); },
            kRequired)
        .field("cache_duration_seconds", [](const json::Value& v, RemoteJwks& r) -> Error {
          auto n = v.asUint64();
          if (!n) return n.error().toString();
          r.cache_duration_ms = *n * 1000;
          return std::nullopt;
        });

Error readLocalJwks(const json::Value& v, Provider& p) {
  if (auto bad = v.unknownField({"inline_string"})) return bad->toString();
  auto text_value = v.require("inline_string");
  if (!text_value) return text_value.error().toString();
  auto text = text_value->asString();
  if (!text) return text.error().toString();
  std::string error;
  std::vector<std::string> skipped;
  p.local_jwks = Jwks::parse(*text, &error, &skipped);
  if (!p.local_jwks) return text_value->path() + ": not a JWKS: " + error;
  if (p.local_jwks->keys().empty()) {
    return text_value->path() + ": no usable key" +
           (skipped.empty() ? "" : " (" + skipped[0] + ")");
  }
  return std::nullopt;
}

const Schema<HeaderLocation> kHeaderLocation =
    Schema<HeaderLocation>()
        .field(
            "name",
            [](const json::Value& v, HeaderLocation& h) -> Error {
              auto name = v.asString();
              if (!name) return name.error().toString();
              h.name = lower(*name);
              return std::nullopt;
            },
            kRequired)
        .string("value_prefix", &HeaderLocation::value_prefix);

const Schema<Provider> kProvider =
    Schema<Provider>()
        .string("issuer", &Provider::issuer)
        .stringList("audiences", &Provider::audiences)
        .field("local_jwks", readLocalJwks)
        .field("remote_jwks",
               [](const json::Value& v, Provider& p) -> Error {
                 p.remote_jwks.emplace();
                 return kRemoteJwks.read(v, *p.remote_jwks);
               })
        .list("from_headers", &Provider::from_headers, kHeaderLocation)
        .stringList("from_params", &Provider::from_params)
        .boolean("forward", &Provider::forward)
        .field("clock_skew_seconds",
               [](const json::Value& v, Provider& p) -> Error {
                 auto n = v.asUint64();
                 if (!n) return n.error().toString();
                 p.clock_skew_seconds = static_cast<int64_t>(std::min<uint64_t>(*n, 86400));
                 return std::nullopt;
               })
        .boolean("require_expiration", &Provider::require_expiration)
        .check([](const json::Value& v, Provider&) -> Error {
          if (v.find("local_jwks").has_value() == v.find("remote_jwks").has_value()) {
            return v.path() + ": exactly one of local_jwks and remote_jwks is required";
          }
          return std::nullopt;
        });

Error readProviders(const json::Value& v, Config& c) {
  auto members = v.asObject();
  if (!members) return members.error().toString();
  for (const auto& [name, value] : *members) {
    Provider p;
    p.name = name;
    if (auto e = kProvider.read(value, p)) return e;
    c.providers.push_back(std::move(p));
  }
  return std::nullopt;
}

Error readSetHeaders(const json::Value& v, Rule& r) {
  auto members = v.asObject();
  if (!members) return members.error().toString();
  for (const auto& [key, value] : *members) {
    auto text = value.asString();
    if (!text) return text.error().toString();
    if (!settable(key)) {
      return value.path() + ": not a header this plugin may set (use set_authority)";
    }
    r.set_headers.emplace_back(lower(key), *text);
  }
  return std::nullopt;
}

const Schema<Rule> kRule = Schema<Rule>()
                               .string("name", &Rule::name)
                               .string("claim", &Rule::claim, kRequired)
                               .field(
                                   "values",
                                   [](const json::Value& v, Rule& r) -> Error {
                                     auto values = v.asStringList();
                                     if (!values) return values.error().toString();
                                     if (values->empty()) return v.path() + ": must not be empty";
                                     r.values = std::move(*values);
                                     return std::nullopt;
                                   },
                                   kRequired)
                               .field("set_headers", readSetHeaders)
                               .string("set_authority", &Rule::set_authority)
                               .check([](const json::Value& v, Rule& r) -> Error {
                                 if (r.set_headers.empty() && r.set_authority.empty()) {
                                   return v.path() + ": set_headers or set_authority is required";
                                 }
                                 return std::nullopt;
                               });

Error readRules(const json::Value& v, Config& c) {
  auto rules = v.asArray();
  if (!rules) return rules.error().toString();
  for (size_t i = 0; i < rules->size(); ++i) {
    Rule r;
    r.name = "rule" + std::to_string(i);
    if (auto e = kRule.read((*rules)[i], r)) return e;
    c.rules.push_back(std::move(r));
  }
  return std::nullopt;
}

const Schema<ClaimToHeader> kClaimToHeader =
    Schema<ClaimToHeader>()
        .string("claim", &ClaimToHeader::claim, kRequired)
        .field(
            "header",
            [](const json::Value& v, ClaimToHeader& h) -> Error {
              auto name = v.asString();
              if (!name) return name.error().toString();
              if (!settable(*name)) return v.path() + ": not a header this plugin may set";
              h.header = lower(*name);
              return std::nullopt;
            },
            kRequired);

// Across fields: something to route by, providers for require_token, and every header name the
// plugin sets (removed from the client's request first).
Error finish(const json::Value&, Config& c) {
  if (c.require_token && c.providers.empty()) {
    return std::string("require_token: needs providers (with jwt_authn, require the token there)");
  }
  if (c.claim_to_headers.empty() && c.rules.empty()) {
    return std::string("claim_to_headers or rules is required (nothing to route by)");
  }
  for (const auto& h : c.claim_to_headers) c.managed_headers.push_back(h.header);
  for (const auto& r : c.rules) {
    for (const auto& [h, v] : r.set_headers) c.managed_headers.push_back(h);
  }
  std::sort(c.managed_headers.begin(), c.managed_headers.end());
  c.managed_headers.erase(std::unique(c.managed_headers.begin(), c.managed_headers.end()),
                          c.managed_headers.end());
  return std::nullopt;
}

const Schema<Config> kConfig =
    Schema<Config>()
        .string("metadata_namespace", &Config::metadata_namespace)
        .string("payload_key", &Config::payload_key)
        .field("providers", readProviders)
        .boolean("require_token", &Config::require_token)
        .field("cache_size",
               [](const json::Value& v, Config& c) -> Error {
                 auto n = v.asUint64();
                 if (!n) return n.error().toString();
                 c.cache_size = static_cast<size_t>(std::min<uint64_t>(*n, 100000));
                 return std::nullopt;
               })
        .list("claim_to_headers", &Config::claim_to_headers, kClaimToHeader)
        .field("rules", readRules)
        .check(finish);

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  return kConfig.parse(text, /*empty_is_object=*/true);
}

const Rule* matchRule(const Config& config, const Claims& claims) {
  for (const auto& r : config.rules) {
    auto values = claims.values(r.claim);
    if (!values) continue;
    for (const auto& v : *values) {
      if (std::find(r.values.begin(), r.values.end(), v) != r.values.end()) return &r;
    }
  }
  return nullptr;
}

}  // namespace jwt_routing
