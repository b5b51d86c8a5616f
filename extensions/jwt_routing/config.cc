// jwt_routing's configuration: JSON, every error naming its field path.
#include <algorithm>

#include "plugin.h"

namespace jwt_routing {

using proxy_wasm::Expected;
using proxy_wasm::unexpected;
namespace json = proxy_wasm::json;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The error for a value that is not an object or has a field not in `known`, else nullopt.
std::optional<std::string> unknownKey(const json::Value& v,
                                      std::initializer_list<std::string_view> known) {
  auto bad = v.unknownField(known);
  return bad ? std::optional<std::string>(bad->toString()) : std::nullopt;
}

#define PWX_TRY(var, expr) \
  auto var = (expr);       \
  if (!var) return unexpected(var.error().toString())

Expected<RemoteJwks, std::string> remoteJwks(const json::Value& v) {
  if (auto bad = unknownKey(v, {"http_uri", "cache_duration_seconds"}); bad) {
    return unexpected(*bad);
  }
  RemoteJwks r;
  PWX_TRY(http_uri, v.require("http_uri"));
  if (auto bad = unknownKey(*http_uri, {"uri", "cluster", "timeout_ms"}); bad) {
    return unexpected(*bad);
  }
  PWX_TRY(uri_value, http_uri->require("uri"));
  PWX_TRY(uri, uri_value->asString());
  PWX_TRY(cluster_value, http_uri->require("cluster"));
  PWX_TRY(cluster, cluster_value->asString());
  r.cluster = *cluster;
  const size_t scheme = uri->find("://");
  const size_t slash = scheme == std::string::npos ? scheme : uri->find('/', scheme + 3);
  if (scheme == std::string::npos || slash == scheme + 3) {
    return unexpected(uri_value->path() + ": expected http://host[:port]/path");
  }
  r.authority = uri->substr(scheme + 3, slash == std::string::npos ? slash : slash - scheme - 3);
  r.path = slash == std::string::npos ? "/" : uri->substr(slash);
  PWX_TRY(timeout, http_uri->getUint64("timeout_ms"));
  if (*timeout) r.timeout = std::chrono::milliseconds(**timeout);
  PWX_TRY(cache, v.getUint64("cache_duration_seconds"));
  if (*cache) r.cache_duration_ms = **cache * 1000;
  return r;
}

Expected<Provider, std::string> provider(const std::string& name, const json::Value& v) {
  if (auto bad =
          unknownKey(v, {"issuer", "audiences", "local_jwks", "remote_jwks", "from_headers",
                         "from_params", "forward", "clock_skew_seconds", "require_expiration"});
      bad) {
    return unexpected(*bad);
  }
  Provider p;
  p.name = name;
  PWX_TRY(issuer, v.getString("issuer"));
  p.issuer = issuer->value_or("");
  PWX_TRY(audiences, v.getStringList("audiences"));
  p.audiences = std::move(*audiences);
  auto local = v.find("local_jwks");
  auto remote = v.find("remote_jwks");
  if (local.has_value() == remote.has_value()) {
    return unexpected(v.path() + ": exactly one of local_jwks and remote_jwks is required");
  }
  if (local) {
    if (auto bad = unknownKey(*local, {"inline_string"}); bad) return unexpected(*bad);
    PWX_TRY(text_value, local->require("inline_string"));
    PWX_TRY(text, text_value->asString());
    std::string error;
    std::vector<std::string> skipped;
    p.local_jwks = Jwks::parse(*text, &error, &skipped);
    if (!p.local_jwks) return unexpected(text_value->path() + ": not a JWKS: " + error);
    if (p.local_jwks->keys().empty()) {
      return unexpected(text_value->path() + ": no usable key" +
                        (skipped.empty() ? "" : " (" + skipped[0] + ")"));
    }
  } else {
    auto r = remoteJwks(*remote);
    if (!r) return unexpected(r.error());
    p.remote_jwks = std::move(*r);
  }
  PWX_TRY(headers, v.getArray("from_headers"));
  for (const auto& h : *headers) {
    if (auto bad = unknownKey(h, {"name", "value_prefix"}); bad) return unexpected(*bad);
    PWX_TRY(hname_value, h.require("name"));
    PWX_TRY(hname, hname_value->asString());
    PWX_TRY(prefix, h.getString("value_prefix"));
    p.from_headers.push_back({lower(*hname), prefix->value_or("")});
  }
  PWX_TRY(params, v.getStringList("from_params"));
  p.from_params = std::move(*params);
  PWX_TRY(forward, v.getBool("forward"));
  p.forward = forward->value_or(false);
  PWX_TRY(skew, v.getUint64("clock_skew_seconds"));
  p.clock_skew_seconds = static_cast<int64_t>(std::min<uint64_t>(skew->value_or(60), 86400));
  PWX_TRY(require_exp, v.getBool("require_expiration"));
  p.require_expiration = require_exp->value_or(false);
  return p;
}

Expected<Rule, std::string> rule(const json::Value& v, size_t index) {
  if (auto bad = unknownKey(v, {"name", "claim", "values", "set_headers", "set_authority"}); bad) {
    return unexpected(*bad);
  }
  Rule r;
  PWX_TRY(name, v.getString("name"));
  r.name = name->value_or("rule" + std::to_string(index));
  PWX_TRY(claim_value, v.require("claim"));
  PWX_TRY(claim, claim_value->asString());
  r.claim = *claim;
  PWX_TRY(values_value, v.require("values"));
  PWX_TRY(values, values_value->asStringList());
  if (values->empty()) return unexpected(values_value->path() + ": must not be empty");
  r.values = std::move(*values);
  if (auto set = v.find("set_headers")) {
    PWX_TRY(members, set->asObject());
    for (const auto& [key, value] : *members) {
      PWX_TRY(text, value.asString());
      if (key.empty() || key[0] == ':' || lower(key) == "host") {
        return unexpected(value.path() + ": not a header this plugin may set (use set_authority)");
      }
      r.set_headers.emplace_back(lower(key), *text);
    }
  }
  PWX_TRY(authority, v.getString("set_authority"));
  r.set_authority = authority->value_or("");
  if (r.set_headers.empty() && r.set_authority.empty()) {
    return unexpected(v.path() + ": set_headers or set_authority is required");
  }
  return r;
}

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  auto doc = json::parseObject(text, true);
  if (!doc) return unexpected(doc.error().toString());
  const json::Value root = doc->root();
  if (auto bad = unknownKey(root, {"metadata_namespace", "payload_key", "providers",
                                   "require_token", "cache_size", "claim_to_headers", "rules"});
      bad) {
    return unexpected(*bad);
  }
  Config c;
  PWX_TRY(ns, root.getString("metadata_namespace"));
  if (*ns) c.metadata_namespace = **ns;
  PWX_TRY(key, root.getString("payload_key"));
  if (*key) c.payload_key = **key;
  if (auto providers = root.find("providers")) {
    PWX_TRY(members, providers->asObject());
    for (const auto& [name, value] : *members) {
      auto p = provider(name, value);
      if (!p) return unexpected(p.error());
      c.providers.push_back(std::move(*p));
    }
  }
  PWX_TRY(require_token, root.getBool("require_token"));
  c.require_token = require_token->value_or(false);
  if (c.require_token && c.providers.empty()) {
    return unexpected("require_token: needs providers (with jwt_authn, require the token there)");
  }
  PWX_TRY(cache_size, root.getUint64("cache_size"));
  c.cache_size = static_cast<size_t>(std::min<uint64_t>(cache_size->value_or(1024), 100000));
  PWX_TRY(claims, root.getArray("claim_to_headers"));
  for (const auto& item : *claims) {
    if (auto bad = unknownKey(item, {"claim", "header"}); bad) return unexpected(*bad);
    PWX_TRY(claim_value, item.require("claim"));
    PWX_TRY(claim, claim_value->asString());
    PWX_TRY(header_value, item.require("header"));
    PWX_TRY(header, header_value->asString());
    if (header->empty() || (*header)[0] == ':' || lower(*header) == "host") {
      return unexpected(header_value->path() + ": not a header this plugin may set");
    }
    c.claim_to_headers.push_back({*claim, lower(*header)});
  }
  PWX_TRY(rules, root.getArray("rules"));
  for (size_t i = 0; i < rules->size(); ++i) {
    auto r = rule((*rules)[i], i);
    if (!r) return unexpected(r.error());
    c.rules.push_back(std::move(*r));
  }
  if (c.claim_to_headers.empty() && c.rules.empty()) {
    return unexpected("claim_to_headers or rules is required (nothing to route by)");
  }
  for (const auto& h : c.claim_to_headers) c.managed_headers.push_back(h.header);
  for (const auto& r : c.rules) {
    for (const auto& [h, v] : r.set_headers) c.managed_headers.push_back(h);
  }
  std::sort(c.managed_headers.begin(), c.managed_headers.end());
  c.managed_headers.erase(std::unique(c.managed_headers.begin(), c.managed_headers.end()),
                          c.managed_headers.end());
  return c;
}

#undef PWX_TRY

}  // namespace jwt_routing
