#include "proxy_wasm/sdk/metrics.h"

#include <algorithm>

namespace proxy_wasm {

namespace {
constexpr size_t kRecent = 8;
}  // namespace

MetricFamily::MetricFamily(MetricType type, std::string name, std::vector<std::string> tags,
                           std::string_view field_separator, std::string_view value_separator)
    : type_(type),
      name_(std::move(name)),
      tags_(std::move(tags)),
      field_separator_(field_separator),
      value_separator_(value_separator) {}

std::string MetricFamily::fullName(TagValues values) const {
  std::string out;
  size_t i = 0;
  for (std::string_view v : values) {
    if (i < tags_.size()) {
      out += tags_[i];
      out += value_separator_;
    }
    out += v;
    out += field_separator_;
    ++i;
  }
  out += name_;
  return out;
}

Result<uint32_t> MetricFamily::resolve(TagValues values) {
  if (values.size() != tags_.size()) {
    logError("metric ", name_, ": expected ", tags_.size(), " tag values, got ", values.size());
    return unexpected(WasmResult::BadArgument);
  }
  for (const auto& [cached, id] : recent_) {
    if (std::equal(cached.begin(), cached.end(), values.begin(), values.end())) return id;
  }
  std::string name = fullName(values);
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  auto id = defineMetric(type_, name);
  if (!id) return id;
  ids_.emplace(std::move(name), *id);
  if (recent_.size() < kRecent)
    recent_.emplace_back(std::vector<std::string>(values.begin(), values.end()), *id);
  return id;
}

WasmResult Counter::increment(uint64_t delta, TagValues values) {
  auto id = resolve(values);
  return id ? incrementMetric(*id, static_cast<int64_t>(delta)) : id.error();
}
uint64_t Counter::value(TagValues values) {
  auto id = resolve(values);
  return id ? getMetric(*id).value_or(0) : 0;
}

WasmResult Gauge::set(uint64_t value, TagValues values) {
  auto id = resolve(values);
  return id ? recordMetric(*id, value) : id.error();
}
WasmResult Gauge::add(int64_t delta, TagValues values) {
  auto id = resolve(values);
  return id ? incrementMetric(*id, delta) : id.error();
}
uint64_t Gauge::value(TagValues values) {
  auto id = resolve(values);
  return id ? getMetric(*id).value_or(0) : 0;
}

WasmResult Histogram::record(uint64_t value, TagValues values) {
  auto id = resolve(values);
  return id ? recordMetric(*id, value) : id.error();
}

}  // namespace proxy_wasm
