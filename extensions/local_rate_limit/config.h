// local_rate_limit's configuration: the limits (windows, descriptors), the keys and the replies,
// read from JSON through the SDK's schema; every error names its path. See README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "keys.h"
#include "proxy_wasm/sdk.h"

namespace local_rate_limit {

// One token bucket's shape. A key has one bucket per window; a request passes only when every
// window has a token, and then takes one from each.
struct Window {
  uint64_t max_tokens = 0;
  uint64_t tokens_per_refill = 0;
  uint64_t interval_ns = 0;
};

// Envoy's descriptors: a limit of its own for requests whose attributes match every entry (an
// entry without a value matches any value the request has, and each value gets its buckets).
struct DescriptorEntry {
  KeyPart source;
  std::optional<std::string> value;
};
struct Descriptor {
  std::vector<DescriptorEntry> entries;
  std::vector<Window> windows;
};

struct Config {
  // The default limit: at least one window unless descriptors are given (then requests that
  // match no descriptor and find no window here are not limited).
  std::vector<Window> windows;
  std::vector<Descriptor> descriptors;
  std::vector<DescriptorEntry> entries;  // a descriptor's, while it is read
  // As configured: upstream's/Envoy's token bucket (0: absent) and Higress's windows (0: none).
  uint64_t max_tokens = 0, tokens_per_refill = 0, interval_ns = 0;
  uint64_t query_per[4] = {0, 0, 0, 0};  // second, minute, hour, day
  std::vector<KeyPart> key;
  uint64_t max_keys = 10000;
  uint32_t status = 429;
  std::string body = "rate_limited";
  bool rate_limit_headers = false;
  bool quota_policy = false;  // Envoy's enable_x_ratelimit_headers: limit with ";w=<seconds>"
  bool shadow_mode = false;
  proxy_wasm::HeaderList response_headers_to_add;  // on limited responses (Envoy's field)
  // Envoy's filter_enabled / filter_enforced, per million requests (default: all), and the
  // headers added to a request that was over its limit but not enforced.
  uint32_t enabled_per_million = 1'000'000, enforced_per_million = 1'000'000;
  proxy_wasm::HeaderList request_headers_to_add_when_not_enforced;
  bool rate_limited_as_resource_exhausted = false;  // gRPC status 8 instead of 14 (Envoy's)
};

// Parses the plugin configuration.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view text);

}  // namespace local_rate_limit
