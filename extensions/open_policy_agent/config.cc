// open_policy_agent's configuration read through the SDK's schema (config.h).
#include "config.h"

#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/json.h"
#include "proxy_wasm/sdk/strings.h"

using namespace proxy_wasm;

namespace open_policy_agent {
namespace {

std::optional<std::string> readMatchers(const json::Value& v, std::vector<NameMatcher>& out) {
  if (auto bad = v.unknownField({"patterns"})) return bad->toString();
  auto patterns = v.getArray("patterns");
  if (!patterns) return patterns.error().toString();
  for (const auto& p : *patterns) {
    if (auto bad = p.unknownField({"exact", "prefix", "suffix", "contains", "ignore_case"})) {
      return bad->toString() + (bad->path.ends_with("safe_regex")
                                    ? " (regular expressions are not supported by this plugin)"
                                    : "");
    }
    constexpr std::pair<const char*, NameMatcher::Kind> kKinds[] = {
        {"exact", NameMatcher::Kind::Exact},
        {"prefix", NameMatcher::Kind::Prefix},
        {"suffix", NameMatcher::Kind::Suffix},
        {"contains", NameMatcher::Kind::Contains}};
    std::optional<NameMatcher> m;
    for (auto [key, kind] : kKinds) {
      auto text = p.getString(key);
      if (!text) return text.error().toString();
      if (!*text) continue;
      if (m) return p.path() + ": exactly one of exact, prefix, suffix, contains";
      m = NameMatcher{kind, **text};
    }
    if (!m) return p.path() + ": exactly one of exact, prefix, suffix, contains";
    // Header names are lower-case, so every match ignores case (ignore_case: false included).
    proxy_wasm::strings::lowerAsciiInPlace(m->text);
    auto ignore_case = p.getBool("ignore_case");
    if (!ignore_case) return ignore_case.error().toString();
    out.push_back(std::move(*m));
  }
  return std::nullopt;
}

void lowerCaseAll(std::vector<std::string>& names) {
  for (auto& h : names) proxy_wasm::strings::lowerAsciiInPlace(h);
}

const auto kSchema =
    config::Schema<Config>()
        .string("opa_service_host", &Config::service_host, config::kRequired | config::kNonEmpty)
        .string("opa_cluster_name", &Config::cluster, config::kRequired | config::kNonEmpty)
        .string("policy_path", &Config::policy_path, config::kNonEmpty)
        .integer("check_result_cache_valid_sec", &Config::cache_valid_sec)
        .integer("timeout_ms", &Config::timeout_ms, {1, 600'000})
        .boolean("failure_mode_allow", &Config::failure_mode_allow)
        .boolean("failure_mode_allow_header_add", &Config::failure_mode_allow_header_add)
        .integer("status_on_error", &Config::status_on_error, {200, 599})
        .integer("cache_max_entries", &Config::cache_max_entries)
        .stringList("input_headers", &Config::input_headers)
        .field("allowed_headers",
               [](const json::Value& v, Config& c) {
                 c.header_matchers = true;
                 return readMatchers(v, c.allowed_headers);
               })
        .field("disallowed_headers",
               [](const json::Value& v, Config& c) {
                 c.header_matchers = true;
                 return readMatchers(v, c.disallowed_headers);
               })
        .field("filter_enabled",
               [](const json::Value& v, Config& c) -> std::optional<std::string> {
                 auto fraction = parseFractionalPercent(v);
                 if (!fraction) return fraction.error();
                 c.enabled_per_million = *fraction;
                 return std::nullopt;
               })
        .check([](const json::Value&, Config& c) -> std::optional<std::string> {
          // "/v1/data/x/allow", "/x/allow" and "x/allow" name the same document.
          while (!c.policy_path.empty() && c.policy_path.front() == '/') c.policy_path.erase(0, 1);
          if (c.policy_path.rfind("v1/data/", 0) == 0) c.policy_path.erase(0, 8);
          lowerCaseAll(c.input_headers);
          return std::nullopt;
        });

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  return kSchema.parse(text);
}

}  // namespace open_policy_agent
