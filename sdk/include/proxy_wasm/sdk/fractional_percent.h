// Envoy's RuntimeFractionalPercent read from a plugin's JSON configuration, and a sampler that
// answers "is this request in the fraction". Plugins see no Envoy runtime, so only
// `default_value` is accepted (`runtime_key` is refused by name, never ignored).
//
//   "filter_enabled": {"default_value": {"numerator": 5, "denominator": "HUNDRED"}}
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "proxy_wasm/sdk/expected.h"
#include "proxy_wasm/sdk/json.h"

namespace proxy_wasm {

inline constexpr uint32_t kPerMillionAll = 1'000'000;

// A RuntimeFractionalPercent object as a fraction per million. Errors name the path
// ("filter_enabled.default_value.denominator: expected ...").
inline Expected<uint32_t, std::string> parseFractionalPercent(const json::Value& v) {
  if (auto bad = v.unknownField({"default_value"})) {
    return unexpected(bad->toString() + (bad->path.ends_with("runtime_key")
                                             ? " (plugins see no Envoy runtime: use default_value)"
                                             : ""));
  }
  auto value = v.require("default_value");
  if (!value) return unexpected(value.error().toString());
  if (auto bad = value->unknownField({"numerator", "denominator"})) {
    return unexpected(bad->toString());
  }
  auto numerator = value->getUint64("numerator", 0);
  if (!numerator) return unexpected(numerator.error().toString());
  auto denominator = value->getString("denominator", "HUNDRED");
  if (!denominator) return unexpected(denominator.error().toString());
  const uint64_t scale = *denominator == "HUNDRED"        ? 10'000
                         : *denominator == "TEN_THOUSAND" ? 100
                         : *denominator == "MILLION"      ? 1
                                                          : 0;
  if (scale == 0) {
    return unexpected(value->path() + ".denominator: expected HUNDRED, TEN_THOUSAND or MILLION");
  }
  return static_cast<uint32_t>(std::min<uint64_t>(kPerMillionAll, *numerator * scale));
}

// The member `field` of `parent`, as above; nullopt when absent.
inline Expected<std::optional<uint32_t>, std::string> parseFractionalPercent(
    const json::Value& parent, std::string_view field) {
  auto v = parent.find(field);
  if (!v) return std::optional<uint32_t>();
  auto fraction = parseFractionalPercent(*v);
  if (!fraction) return unexpected(fraction.error());
  return std::optional<uint32_t>(*fraction);
}

// True for `per_million` of the calls, from a per-VM generator seeded from the host's entropy
// (WASI random_get).
class FractionSampler {
 public:
  bool sample(uint32_t per_million) {
    if (per_million >= kPerMillionAll) return true;
    if (per_million == 0) return false;
    return random_() % kPerMillionAll < per_million;
  }

 private:
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace proxy_wasm
