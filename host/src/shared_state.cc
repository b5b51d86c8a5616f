#include "proxy_wasm/host/shared_state.h"

#include <cmath>
#include <cstdio>

namespace proxy_wasm::host {

// ---- SharedDataStore
// -----------------------------------------------------------------------------

SharedDataStore& SharedDataStore::instance() {
  static SharedDataStore* d = new SharedDataStore();
  return *d;
}

uint32_t SharedDataStore::nextCas() {
  if (++cas_counter_ == 0) ++cas_counter_;
  return cas_counter_;
}

WasmResult SharedDataStore::get(std::string_view vm_id, std::string_view key, std::string* value,
                                uint32_t* cas) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto ns = data_.find(vm_id);
  if (ns == data_.end()) return WasmResult::NotFound;
  auto it = ns->second.find(std::string(key));
  if (it == ns->second.end()) return WasmResult::NotFound;
  *value = it->second.value;
  *cas = it->second.cas;
  return WasmResult::Ok;
}

WasmResult SharedDataStore::set(std::string_view vm_id, std::string_view key,
                                std::string_view value, uint32_t cas) {
  std::lock_guard<std::mutex> lock(mu_);
  auto ns = data_.find(vm_id);
  if (ns == data_.end()) ns = data_.emplace(std::string(vm_id), decltype(ns->second)()).first;
  auto it = ns->second.find(std::string(key));
  if (it == ns->second.end()) {
    // As the reference host: a missing key is created whatever the cas.
    ns->second.emplace(std::string(key), Entry{std::string(value), nextCas()});
    return WasmResult::Ok;
  }
  if (cas != 0 && it->second.cas != cas) return WasmResult::CasMismatch;
  it->second.value.assign(value);
  it->second.cas = nextCas();
  return WasmResult::Ok;
}

void SharedDataStore::clear(std::string_view vm_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto ns = data_.find(vm_id);
  if (ns != data_.end()) data_.erase(ns);
}

// ---- SharedQueues ---------------------------------------------------------------------------

SharedQueues& SharedQueues::instance() {
  static SharedQueues* q = new SharedQueues();
  return *q;
}

uint32_t SharedQueues::registerQueue(std::string_view vm_id, std::string_view name, Notify notify) {
  std::lock_guard<std::mutex> lock(mu_);
  auto key = std::make_pair(std::string(vm_id), std::string(name));
  auto it = by_name_.find(key);
  if (it != by_name_.end()) {
    queues_[it->second].notify = std::move(notify);  // re-registering moves the notifications
    return it->second;
  }
  uint32_t id = next_id_++;
  queues_[id] = Queue{key.first, key.second, {}, std::move(notify)};
  by_name_.emplace(std::move(key), id);
  return id;
}

std::optional<uint32_t> SharedQueues::resolve(std::string_view vm_id, std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(std::make_pair(std::string(vm_id), std::string(name)));
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

WasmResult SharedQueues::enqueue(uint32_t id, std::string_view data) {
  Notify notify;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = queues_.find(id);
    if (it == queues_.end()) return WasmResult::NotFound;
    it->second.items.emplace_back(data);
    notify = it->second.notify;
  }
  if (notify) notify(id);  // posts to the registrant's thread; never runs the VM here
  return WasmResult::Ok;
}

WasmResult SharedQueues::dequeue(uint32_t id, std::string* data) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(id);
  if (it == queues_.end()) return WasmResult::NotFound;
  if (it->second.items.empty()) return WasmResult::Empty;
  *data = std::move(it->second.items.front());
  it->second.items.pop_front();
  return WasmResult::Ok;
}

size_t SharedQueues::depth(uint32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = queues_.find(id);
  return it == queues_.end() ? 0 : it->second.items.size();
}

// ---- Metrics ----------------------------------------------------------------------------------

const std::vector<double>& Metric::bucketBounds() {
  static const std::vector<double> bounds = {0.5,   1,      5,      10,      25,     50,    100,
                                             250,   500,    1000,   2500,    5000,   10000, 30000,
                                             60000, 300000, 600000, 1800000, 3600000};
  return bounds;
}

Metric::Metric(MetricType type, std::string name) : type_(type), name_(std::move(name)) {
  if (type_ == MetricType::Histogram) buckets_.assign(bucketBounds().size() + 1, 0);
}

void Metric::record(uint64_t sample) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& bounds = bucketBounds();
  size_t i = 0;
  while (i < bounds.size() && static_cast<double>(sample) > bounds[i]) ++i;
  ++buckets_[i];
  ++count_;
  sum_ += static_cast<double>(sample);
}

Metric::HistogramSnapshot Metric::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  HistogramSnapshot s;
  s.bounds = bucketBounds();
  uint64_t running = 0;
  for (uint64_t b : buckets_) {
    running += b;
    s.cumulative.push_back(running);
  }
  s.count = count_;
  s.sum = sum_;
  return s;
}

MetricsRegistry& MetricsRegistry::instance() {
  static MetricsRegistry* r = new MetricsRegistry();
  return *r;
}

Metric* MetricsRegistry::define(MetricType type, std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = metrics_.find(name);
  if (it != metrics_.end()) return it->second->type() == type ? it->second.get() : nullptr;
  auto m = std::make_unique<Metric>(type, std::string(name));
  Metric* raw = m.get();
  metrics_.emplace(std::string(name), std::move(m));
  return raw;
}

Metric* MetricsRegistry::find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = metrics_.find(name);
  return it == metrics_.end() ? nullptr : it->second.get();
}

std::vector<const Metric*> MetricsRegistry::all() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const Metric*> out;
  for (auto& [name, m] : metrics_) out.push_back(m.get());
  return out;
}

std::string prometheusName(std::string_view name) {
  std::string out;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':';
    out.push_back(ok ? c : '_');
  }
  if (!out.empty() && out[0] >= '0' && out[0] <= '9') out.insert(out.begin(), '_');
  return out;
}

namespace {
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}
}  // namespace

std::string MetricsRegistry::renderPrometheus() const {
  std::string out;
  for (const Metric* m : all()) {
    std::string n = prometheusName(m->name());
    switch (m->type()) {
      case MetricType::Counter:
        out += "# TYPE " + n + " counter\n" + n + " " + std::to_string(m->value()) + "\n";
        break;
      case MetricType::Gauge:
        out += "# TYPE " + n + " gauge\n" + n + " " + std::to_string(m->value()) + "\n";
        break;
      case MetricType::Histogram: {
        auto s = m->snapshot();
        out += "# TYPE " + n + " histogram\n";
        for (size_t i = 0; i < s.bounds.size(); ++i) {
          out += n + "_bucket{le=\"" + number(s.bounds[i]) + "\"} " +
                 std::to_string(s.cumulative[i]) + "\n";
        }
        out += n + "_bucket{le=\"+Inf\"} " + std::to_string(s.count) + "\n";
        out += n + "_sum " + number(s.sum) + "\n";
        out += n + "_count " + std::to_string(s.count) + "\n";
        break;
      }
    }
  }
  return out;
}

std::string MetricsRegistry::renderEnvoyText() const {
  std::string out;
  for (const Metric* m : all()) {
    if (m->type() != MetricType::Histogram) {
      out += m->name() + ": " + std::to_string(m->value()) + "\n";
      continue;
    }
    auto s = m->snapshot();
    if (s.count == 0) {
      out += m->name() + ": No recorded values\n";
      continue;
    }
    // Quantiles estimated as the upper bound of the bucket holding them.
    out += m->name() + ":";
    for (double q : {0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0}) {
      uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(s.count)));
      if (rank == 0) rank = 1;
      size_t i = 0;
      while (i < s.bounds.size() && s.cumulative[i] < rank) ++i;
      double v = i < s.bounds.size() ? s.bounds[i] : INFINITY;
      out += " P" + number(q * 100) + "(" + number(v) + ")";
    }
    out += " count(" + std::to_string(s.count) + ") sum(" + number(s.sum) + ")\n";
  }
  return out;
}

}  // namespace proxy_wasm::host
