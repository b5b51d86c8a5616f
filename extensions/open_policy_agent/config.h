// open_policy_agent's configuration (upstream's fields and ext_authz's), read from JSON through
// the SDK's schema; every error names its path. See README.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_wasm/sdk/expected.h"
#include "proxy_wasm/sdk/fractional_percent.h"

namespace open_policy_agent {

// Envoy's StringMatcher on a header name (names are lower-case; ignore_case lowers the pattern).
struct NameMatcher {
  enum class Kind { Exact, Prefix, Suffix, Contains } kind = Kind::Exact;
  std::string text;
  bool matches(std::string_view name) const {
    switch (kind) {
      case Kind::Exact:
        return name == text;
      case Kind::Prefix:
        return name.starts_with(text);
      case Kind::Suffix:
        return name.ends_with(text);
      case Kind::Contains:
        return name.find(text) != std::string_view::npos;
    }
    return false;
  }
};

struct Config {
  std::string service_host;
  std::string cluster;
  uint64_t cache_valid_sec = 0;  // 0: no cache
  std::string policy_path = "test/allow";
  uint32_t timeout_ms = 5000;
  bool failure_mode_allow = false;
  bool failure_mode_allow_header_add = false;
  uint32_t status_on_error = 500;
  size_t cache_max_entries = 1000;
  std::vector<std::string> input_headers;
  // ext_authz's allowed_headers / disallowed_headers: request headers whose names match go into
  // input.headers (all of them when only disallowed_headers is given), but for disallowed ones.
  std::vector<NameMatcher> allowed_headers, disallowed_headers;
  bool header_matchers = false;
  uint32_t enabled_per_million = proxy_wasm::kPerMillionAll;  // ext_authz's filter_enabled
};

// Parses the plugin configuration.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view text);

}  // namespace open_policy_agent
