// Counters, gauges and histograms with tags.
//
// The name is the stat's whole name: neither Envoy nor wasm-proxy adds a prefix, so give it the
// plugin's ("my_filter.allowed"). Tag values are encoded in the stat name the way upstream's SDK
// does: tags [t1, t2] with values [v1, v2] give "t1.v1.t2.v2.<name>" (separators configurable).
// Prometheus output turns the dots into underscores: "my_filter.allowed" is my_filter_allowed.
//
// A metric is listed (at 0) only once defined: call resolve({}) in onConfigure for the ones a
// dashboard should see before their first increment.
//
// Metrics are defined lazily, on first use, and the id is cached per full name; so a metric object
// may be a global or a member constructed anywhere (construction makes no hostcall).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy_wasm/sdk/api.h"

namespace proxy_wasm {

using TagValues = std::initializer_list<std::string_view>;

class MetricFamily {
 public:
  MetricFamily(MetricType type, std::string name, std::vector<std::string> tags = {},
               std::string_view field_separator = ".", std::string_view value_separator = ".");

  // The flat stat name for these tag values (their count must match the tag names).
  std::string fullName(TagValues values) const;
  // The host's id for these tag values, defining the stat on first use.
  Result<uint32_t> resolve(TagValues values);
  MetricType type() const { return type_; }

 private:
  MetricType type_;
  std::string name_;
  std::vector<std::string> tags_;
  std::string field_separator_, value_separator_;
  // The hot path: the first few tag-value combinations, compared without building a name.
  std::vector<std::pair<std::vector<std::string>, uint32_t>> recent_;
  std::unordered_map<std::string, uint32_t> ids_;
};

class Counter : public MetricFamily {
 public:
  explicit Counter(std::string name, std::vector<std::string> tags = {})
      : MetricFamily(MetricType::Counter, std::move(name), std::move(tags)) {}
  WasmResult increment(uint64_t delta = 1, TagValues values = {});
  uint64_t value(TagValues values = {});
};

class Gauge : public MetricFamily {
 public:
  explicit Gauge(std::string name, std::vector<std::string> tags = {})
      : MetricFamily(MetricType::Gauge, std::move(name), std::move(tags)) {}
  WasmResult set(uint64_t value, TagValues values = {});
  WasmResult add(int64_t delta, TagValues values = {});
  uint64_t value(TagValues values = {});
};

class Histogram : public MetricFamily {
 public:
  explicit Histogram(std::string name, std::vector<std::string> tags = {})
      : MetricFamily(MetricType::Histogram, std::move(name), std::move(tags)) {}
  WasmResult record(uint64_t value, TagValues values = {});
};

}  // namespace proxy_wasm
