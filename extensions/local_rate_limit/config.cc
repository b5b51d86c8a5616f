// local_rate_limit's configuration read through the SDK's schema (config.h).
#include "config.h"

#include <cstdlib>
#include <tuple>

#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/fractional_percent.h"
#include "proxy_wasm/sdk/json.h"
#include "proxy_wasm/sdk/strings.h"

using namespace proxy_wasm;

namespace local_rate_limit {
namespace {

constexpr uint64_t kMinIntervalNs = 50'000'000;  // 50 ms, as Envoy's local rate limit

// One key source ({"header": "x-api-key"}, {"cookie": "session"}, ...).
Expected<KeyPart, std::string> parseKeyPart(const json::Value& v) {
  if (!v.isObject())
    return unexpected(v.path() + ": expected an object like {\"header\": \"x-api-key\"}");
  auto members = v.asObject();
  if (members->size() != 1) return unexpected(v.path() + ": expected exactly one key source");
  const auto& [name, value] = (*members)[0];
  KeyPart p{};
  if (name == "header" || name == "query_param" || name == "cookie") {
    auto s = value.asString();
    if (!s || s->empty()) return unexpected(value.path() + ": expected a non-empty string");
    p.kind = name == "header"        ? KeyPart::Kind::Header
             : name == "query_param" ? KeyPart::Kind::QueryParam
                                     : KeyPart::Kind::Cookie;
    p.name = *s;
    if (p.kind == KeyPart::Kind::Header) {
      proxy_wasm::strings::lowerAsciiInPlace(p.name);
    }
  } else if (name == "source_address" || name == "path" || name == "connection") {
    auto b = value.asBool();
    if (!b || !*b) return unexpected(value.path() + ": expected true");
    p.kind = name == "path"             ? KeyPart::Kind::Path
             : name == "source_address" ? KeyPart::Kind::SourceAddress
                                        : KeyPart::Kind::Connection;
  } else if (name == "masked_remote_address") {  // Envoy's rate-limit action of that name
    p.kind = KeyPart::Kind::MaskedAddress;
    if (auto bad = value.unknownField({"v4_prefix_mask_len", "v6_prefix_mask_len"})) {
      return unexpected(bad->toString());
    }
    for (auto [field, max, out] : {std::tuple{"v4_prefix_mask_len", 32, &p.v4_prefix},
                                   std::tuple{"v6_prefix_mask_len", 128, &p.v6_prefix}}) {
      auto n = value.getInt64(field);
      if (!n) return unexpected(n.error().toString());
      if (*n && (**n < 0 || **n > max)) {
        return unexpected(value.path() + "." + field + ": expected 0 to " + std::to_string(max));
      }
      if (*n) *out = static_cast<int>(**n);
    }
  } else if (name == "xff_hop") {
    auto n = value.asInt64();
    if (!n || *n < 1) return unexpected(value.path() + ": expected a hop number >= 1 (1 = last)");
    p.kind = KeyPart::Kind::XffHop;
    p.hop = *n;
  } else {
    return unexpected(v.path() + "." + name +
                      ": unknown key source (header, source_address, masked_remote_address, "
                      "xff_hop, path, query_param, cookie, connection)");
  }
  return p;
}

// Durations: a number of seconds, or "1.5s", "250ms".
Expected<uint64_t, std::string> durationNs(const json::Value& v) {
  if (v.json().is_number()) {
    auto d = v.asDouble();
    if (!d || *d < 0) return unexpected(v.path() + ": expected a non-negative duration");
    return static_cast<uint64_t>(*d * 1e9);
  }
  auto s = v.asString();
  if (!s) return unexpected(s.error().toString());
  std::string t = *s;
  double scale = 1e9;
  if (t.size() > 2 && t.substr(t.size() - 2) == "ms") {
    scale = 1e6;
    t.resize(t.size() - 2);
  } else if (!t.empty() && t.back() == 's') {
    t.pop_back();
  }
  char* end = nullptr;
  double value = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || value < 0) {
    return unexpected(v.path() + ": expected a duration like \"1s\", \"0.5s\" or \"250ms\"");
  }
  return static_cast<uint64_t>(value * scale);
}

// Envoy's HeaderValueOption list: [{"header": {"key": "x-a", "value": "1"}}].
Expected<HeaderList, std::string> headerOptions(const json::Value& options) {
  HeaderList out;
  auto list = options.asArray();
  if (!list) return unexpected(list.error().toString());
  for (const auto& option : *list) {
    auto header = option.require("header");
    if (!header) return unexpected(header.error().toString());
    auto key = header->require("key");
    if (!key) return unexpected(key.error().toString());
    auto k = key->asString();
    if (!k || k->empty() || k->front() == ':') {
      return unexpected(key->path() + ": expected a header name");
    }
    auto value = header->getString("value");
    if (!value) return unexpected(value.error().toString());
    out.emplace_back(*k, value->value_or(""));
  }
  return out;
}

// Readers of fields whose value is more than a number.
std::optional<std::string> readQueryPer(const json::Value& v, Config& c, int window) {
  auto n = v.asUint64();
  if (!n) return n.error().toString();
  if (*n == 0) return v.path() + ": must be at least 1";
  c.query_per[window] = *n;
  return std::nullopt;
}

std::optional<std::string> readRefillSeconds(const json::Value& v, Config& c) {
  auto s = v.asUint64();
  if (!s) return s.error().toString();
  if (*s == 0) return v.path() + ": must be at least 1 (0 would never refill)";
  c.interval_ns = *s * 1'000'000'000ull;
  return std::nullopt;
}

std::optional<std::string> readFillInterval(const json::Value& v, Config& c) {
  auto d = durationNs(v);
  if (!d) return d.error();
  if (*d < kMinIntervalNs) return v.path() + ": must be at least 50ms";
  c.interval_ns = *d;
  return std::nullopt;
}

std::optional<std::string> readKey(const json::Value& v, Config& c) {
  std::vector<json::Value> parts;
  if (v.isArray()) {
    auto list = v.asArray();
    if (!list) return list.error().toString();
    parts = std::move(*list);
  } else {
    parts.push_back(v);
  }
  for (const auto& part : parts) {
    auto p = parseKeyPart(part);
    if (!p) return p.error();
    c.key.push_back(*p);
  }
  return std::nullopt;
}

template <HeaderList Config::* member>
std::optional<std::string> readHeaderOptions(const json::Value& v, Config& c) {
  auto list = headerOptions(v);
  if (!list) return list.error();
  c.*member = std::move(*list);
  return std::nullopt;
}

template <uint32_t Config::* member>
std::optional<std::string> readFraction(const json::Value& v, Config& c) {
  auto fraction = parseFractionalPercent(v);
  if (!fraction) return fraction.error();
  c.*member = *fraction;
  return std::nullopt;
}

// The windows: upstream's (and Envoy's) token bucket when any of its fields is given, then
// Higress's windows (a bucket of N refilled whole every second / minute / hour / day).
std::optional<std::string> buildWindows(const json::Value& root, Config& c) {
  const std::string at = root.path().empty() ? "" : root.path() + ".";
  const bool bucket = root.find("max_tokens") || root.find("tokens_per_refill") ||
                      root.find("refill_interval_sec") || root.find("fill_interval");
  if (bucket) {
    if (c.max_tokens == 0) return at + "max_tokens: missing required field";
    if (c.tokens_per_refill == 0) return at + "tokens_per_refill: missing required field";
    if (root.find("refill_interval_sec").has_value() == root.find("fill_interval").has_value()) {
      return at + "exactly one of refill_interval_sec and fill_interval is required";
    }
    c.windows.push_back({c.max_tokens, c.tokens_per_refill, c.interval_ns});
  }
  constexpr uint64_t kWindowSeconds[4] = {1, 60, 3600, 86400};
  for (int i = 0; i < 4; ++i) {
    if (c.query_per[i] > 0) {
      c.windows.push_back({c.query_per[i], c.query_per[i], kWindowSeconds[i] * 1'000'000'000ull});
    }
  }
  if (c.windows.empty() && c.descriptors.empty()) {
    return at +
           "max_tokens: missing required field (a token bucket: max_tokens, tokens_per_refill "
           "and fill_interval; or windows: query_per_second/minute/hour/day)";
  }
  return std::nullopt;
}

const config::Bounds kAtLeastOne{1};

// The fields of a limit's windows, at the top level and in each descriptor.
config::Schema<Config> windowFields() {
  config::Schema<Config> s;
  s.integer("max_tokens", &Config::max_tokens, kAtLeastOne)
      .integer("tokens_per_refill", &Config::tokens_per_refill, kAtLeastOne)
      .field("refill_interval_sec", readRefillSeconds)
      .field("fill_interval", readFillInterval)
      .field("query_per_second",
             [](const json::Value& v, Config& c) { return readQueryPer(v, c, 0); })
      .field("query_per_minute",
             [](const json::Value& v, Config& c) { return readQueryPer(v, c, 1); })
      .field("query_per_hour",
             [](const json::Value& v, Config& c) { return readQueryPer(v, c, 2); })
      .field("query_per_day",
             [](const json::Value& v, Config& c) { return readQueryPer(v, c, 3); });
  return s;
}

std::optional<std::string> readEntries(const json::Value& v, Config& c) {
  auto list = v.asArray();
  if (!list) return list.error().toString();
  if (list->empty()) return v.path() + ": at least one entry is required";
  for (const auto& entry : *list) {
    if (auto bad = entry.unknownField({"source", "value"})) return bad->toString();
    auto source = entry.require("source");
    if (!source) return source.error().toString();
    auto part = parseKeyPart(*source);
    if (!part) return part.error();
    auto value = entry.getString("value");
    if (!value) return value.error().toString();
    c.entries.push_back({*part, *value});
  }
  return std::nullopt;
}

const auto kDescriptorSchema =
    windowFields().field("entries", readEntries, config::kRequired).check(buildWindows);

constexpr size_t kMaxDescriptors = 64;

std::optional<std::string> readDescriptors(const json::Value& v, Config& c) {
  auto list = v.asArray();
  if (!list) return list.error().toString();
  if (list->size() > kMaxDescriptors) return v.path() + ": at most 64 descriptors";
  for (const auto& d : *list) {
    Config one;
    if (auto e = kDescriptorSchema.read(d, one)) return e;
    c.descriptors.push_back({std::move(one.entries), std::move(one.windows)});
  }
  return std::nullopt;
}

const auto kSchema =
    windowFields()
        .field("key", readKey)
        .field("local_rate_limit_per_downstream_connection",
               [](const json::Value& v, Config& c) -> std::optional<std::string> {
                 auto on = v.asBool();
                 if (!on) return on.error().toString();
                 if (*on) c.key.push_back(KeyPart{KeyPart::Kind::Connection, {}});
                 return std::nullopt;
               })
        .integer("max_keys", &Config::max_keys, kAtLeastOne)
        .integer("status", &Config::status, {400, 599})
        .string("body", &Config::body)
        .boolean("rate_limit_headers", &Config::rate_limit_headers)
        .field("enable_x_ratelimit_headers",
               [](const json::Value& v, Config& c) -> std::optional<std::string> {
                 auto version = v.asString();
                 if (!version) return version.error().toString();
                 if (*version != "OFF" && *version != "DRAFT_VERSION_03") {
                   return v.path() + ": expected OFF or DRAFT_VERSION_03";
                 }
                 c.rate_limit_headers = c.quota_policy = *version == "DRAFT_VERSION_03";
                 return std::nullopt;
               })
        .boolean("shadow_mode", &Config::shadow_mode)
        .boolean("rate_limited_as_resource_exhausted", &Config::rate_limited_as_resource_exhausted)
        .field("response_headers_to_add", readHeaderOptions<&Config::response_headers_to_add>)
        .field("request_headers_to_add_when_not_enforced",
               readHeaderOptions<&Config::request_headers_to_add_when_not_enforced>)
        .field("filter_enabled", readFraction<&Config::enabled_per_million>)
        .field("filter_enforced", readFraction<&Config::enforced_per_million>)
        .field("descriptors", readDescriptors)
        .check(buildWindows);

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  return kSchema.parse(text);
}

}  // namespace local_rate_limit
