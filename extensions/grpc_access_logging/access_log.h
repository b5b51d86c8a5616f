// grpc_access_logging: one access-log entry per HTTP stream, batched per VM and exported over gRPC
// to upstream's LoggingService/WriteLog and/or OpenTelemetry's LogsService/Export. See README.md.
//
// The pieces, each in its own file:
//   config.{h,cc}  the JSON configuration (every error names its field); pure
//   wire.{h,cc}    Protocol Buffers basics without generated code; pure
//   entry.cc       AccessEntry: what one stream's properties say, absent ones left out
//   encoding.cc    the two wire formats (nanopb messages; a batch is a run of encoded entries)
//   exporter.cc    Exporter: batching, the buffer bound, one export in flight, retries, shutdown
//   filter.cc      the root and stream contexts
// This header declares entry, encoding and exporter.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.h"
#include "proxy_wasm/sdk.h"
#include "wire.h"

namespace grpc_access_logging {

// One HTTP stream as its properties describe it at log time; a property the proxy does not have
// stays nullopt and is left out of every wire format.
struct AccessEntry {
  std::optional<std::string> source_address, destination_address;  // "ip:port"
  std::optional<std::string> host, path, query, method, scheme, protocol;
  std::optional<std::string> user_agent, referer, request_id, traceparent;
  std::optional<uint32_t> response_code;
  std::optional<uint64_t> start_unix_ns, duration_ns;
  uint64_t observed_unix_ns = 0;
};

// What the node says about the workload (read once at configure).
struct NodeInfo {
  std::optional<std::string> workload, namespace_name, node_id, cluster;
};

// `for_otlp`: also what only the OTLP record carries (scheme, protocol).
AccessEntry readAccessEntry(bool for_otlp);
NodeInfo readNodeInfo();

// Encodings. A batch is the concatenation of `entry_field`-tagged encoded entries, so adding an
// entry is an append and its size is known exactly; wrap() turns a batch into the request.
std::string encodeLogEntry(const AccessEntry& e, const NodeInfo& node);  // upstream's LogEntry
std::string encodeLogRecord(const AccessEntry& e);                       // OTLP LogRecord
std::string encodeOtlpResource(const NodeInfo& node);                    // OTLP Resource
// An ExportLogsServiceRequest around a batch of ScopeLogs.log_records.
std::string wrapOtlpBatch(std::string_view resource, std::string_view records);

// The counters of one service, shared by every VM of the plugin (the host's metrics).
struct ExporterCounters {
  proxy_wasm::Counter written, dropped, failures;
  explicit ExporterCounters(const std::string& prefix)
      : written(prefix + "logs_written"),
        dropped(prefix + "logs_dropped"),
        failures(prefix + "export_failures") {}
};

// Batches entries for one service and exports them, at most one call in flight; a backlog goes
// out in exports of up to max_batch_entries. Retries UNAVAILABLE and DEADLINE_EXCEEDED with
// backoff; beyond max_buffered_entries new entries are dropped and counted. Every entry ends up
// counted once: written or dropped.
class Exporter {
 public:
  struct Wire {
    std::string service, method;                            // gRPC service and method names
    uint32_t entry_field;                                   // the repeated field a batch is made of
    std::function<std::string(const AccessEntry&)> encode;  // entry -> message
    std::function<std::string(std::string_view)> wrap;      // batch -> request message
  };
  Exporter(proxy_wasm::RootContext& root, ServiceTarget target, Wire wire, const Config& limits,
           const std::string& counter_prefix);

  void add(const AccessEntry& entry);
  // Flush interval elapsed: the current batch goes out (or waits behind the one in flight).
  void onTick(uint64_t now_ns);
  // Shutdown: export everything held, no retries, until `deadline_ns`; `done` runs once nothing
  // is held or in flight (at once when already idle).
  void drain(uint64_t deadline_ns, std::function<void()> done);
  bool idle() const { return sealed_.empty() && current_.entries == 0 && !in_flight_; }
  size_t buffered() const { return buffered_; }

 private:
  struct Batch {
    std::string bytes;
    uint32_t entries = 0;
  };
  void seal();
  void sendNext(uint64_t now_ns);
  void onAnswer(const proxy_wasm::GrpcCallResponse& r);
  // The batches of the export in flight (the first in_flight_batches_ of sealed_): removed and
  // counted as written, or as dropped.
  uint32_t popInFlight();
  void dropInFlight(std::string_view why);

  proxy_wasm::RootContext& root_;
  ServiceTarget target_;
  Wire wire_;
  const Config& limits_;
  ExporterCounters counters_;
  Batch current_;
  std::deque<Batch> sealed_;  // the first in_flight_batches_ are the export in flight, if any
  size_t buffered_ = 0;       // entries in current_ and sealed_
  bool in_flight_ = false;
  size_t in_flight_batches_ = 0;
  uint32_t attempts_ = 0;     // failed attempts of the front batch
  uint64_t next_try_ns_ = 0;  // backoff: no retry before this
  bool draining_ = false;
  uint64_t deadline_ns_ = 0;
  std::function<void()> on_drained_;
};

}  // namespace grpc_access_logging
