// Process-wide state shared by every VM of every thread: the key-value store with CAS, the shared
// queues, and the metrics registry. All thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy_wasm/abi/enums.h"

namespace proxy_wasm::host {

using abi::MetricType;
using abi::WasmResult;

// Shared data, namespaced by vm_id. CAS values come from one process-wide counter (never 0),
// bumped on every successful set, as in the reference host.
class SharedDataStore {
 public:
  static SharedDataStore& instance();
  WasmResult get(std::string_view vm_id, std::string_view key, std::string* value,
                 uint32_t* cas) const;
  // cas == 0: unconditional; otherwise CasMismatch unless the stored cas equals it.
  WasmResult set(std::string_view vm_id, std::string_view key, std::string_view value,
                 uint32_t cas);
  // Test support: drop everything of one vm_id.
  void clear(std::string_view vm_id);

 private:
  struct Entry {
    std::string value;
    uint32_t cas;
  };
  uint32_t nextCas();
  mutable std::mutex mu_;
  std::map<std::string, std::unordered_map<std::string, Entry>, std::less<>> data_;
  uint32_t cas_counter_ = 0;
};

// Shared queues: (vm_id, name) -> id. Registration makes the caller the one notified (on its own
// thread, through `notify`) when an item is enqueued; any VM may enqueue or dequeue.
class SharedQueues {
 public:
  static SharedQueues& instance();
  using Notify = std::function<void(uint32_t queue_id)>;
  uint32_t registerQueue(std::string_view vm_id, std::string_view name, Notify notify);
  std::optional<uint32_t> resolve(std::string_view vm_id, std::string_view name) const;
  WasmResult enqueue(uint32_t id, std::string_view data);
  WasmResult dequeue(uint32_t id, std::string* data);
  size_t depth(uint32_t id) const;

 private:
  struct Queue {
    std::string vm_id, name;
    std::deque<std::string> items;
    Notify notify;
  };
  mutable std::mutex mu_;
  std::map<uint32_t, Queue> queues_;
  std::map<std::pair<std::string, std::string>, uint32_t> by_name_;
  uint32_t next_id_ = 1;
};

// One metric. Counters and gauges are single atomics (cheap on the hot path); histograms keep
// Envoy's default bucket bounds.
class Metric {
 public:
  Metric(MetricType type, std::string name);
  MetricType type() const { return type_; }
  const std::string& name() const { return name_; }
  void add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }
  void record(uint64_t sample);
  struct HistogramSnapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, plus +Inf last
    uint64_t count = 0;
    double sum = 0;
  };
  HistogramSnapshot snapshot() const;
  static const std::vector<double>& bucketBounds();

 private:
  MetricType type_;
  std::string name_;
  std::atomic<int64_t> value_{0};
  mutable std::mutex mu_;
  std::vector<uint64_t> buckets_;  // histogram only; last is +Inf
  uint64_t count_ = 0;
  double sum_ = 0;
};

// All metrics by name. Defining an existing name returns the same metric (as in Envoy: every
// worker's VM updates one stat). Also the home of the host's and proxy's own metrics.
class MetricsRegistry {
 public:
  static MetricsRegistry& instance();
  // nullptr when the name exists with another type.
  Metric* define(MetricType type, std::string_view name);
  Metric* find(std::string_view name) const;
  // Prometheus text exposition: dots and other invalid characters become '_'.
  std::string renderPrometheus() const;
  // Envoy's /stats text format: "name: value", histograms as quantiles.
  std::string renderEnvoyText() const;
  std::vector<const Metric*> all() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Metric>, std::less<>> metrics_;
};

std::string prometheusName(std::string_view name);

}  // namespace proxy_wasm::host
