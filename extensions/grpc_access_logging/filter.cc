// grpc_access_logging: the root (configuration, exporters, flush ticks, shutdown) and the stream
// (one entry at log time).
#include "access_log.h"

namespace grpc_access_logging {

using namespace proxy_wasm;

namespace {

constexpr uint32_t kWriteLogEntryField = 1;  // WriteLogRequest.log_entries
constexpr uint32_t kOtlpRecordField = 2;     // ScopeLogs.log_records

class Root : public RootContext {
 public:
  using RootContext::RootContext;

  bool onConfigure(std::string_view configuration) override {
    auto config = parseConfig(configuration);
    if (!config) {
      logError("grpc_access_logging: ", config.error());
      return false;
    }
    config_ = std::move(*config);
    node_ = readNodeInfo();
    exporters_.clear();
    if (config_.logging_service) {
      exporters_.emplace_back(
          *this, *config_.logging_service,
          Exporter::Wire{"istio_ecosystem.wasm_extensions.grpc_logging.LoggingService", "WriteLog",
                         kWriteLogEntryField,
                         [this](const AccessEntry& e) { return encodeLogEntry(e, node_); },
                         [](std::string_view batch) { return std::string(batch); }},
          config_, "grpc_access_logging.write_log.");
    }
    if (config_.otlp_service) {
      std::string resource = encodeOtlpResource(node_);
      exporters_.emplace_back(*this, *config_.otlp_service,
                              Exporter::Wire{"opentelemetry.proto.collector.logs.v1.LogsService",
                                             "Export", kOtlpRecordField, encodeLogRecord,
                                             [resource](std::string_view batch) {
                                               return wrapOtlpBatch(resource, batch);
                                             }},
                              config_, "grpc_access_logging.otlp.");
    }
    setTickPeriod(std::chrono::milliseconds(config_.flush_interval_ms));
    return true;
  }

  void onTick() override {
    const uint64_t now = getCurrentTimeNanoseconds();
    for (auto& e : exporters_) e.onTick(now);
  }

  // Shutdown: everything held goes out before the plugin says it is done (bounded by timeout_ms).
  bool onDone() override {
    const uint64_t deadline =
        getCurrentTimeNanoseconds() + uint64_t{config_.timeout_ms} * 1'000'000;
    draining_ = exporters_.size();
    for (auto& e : exporters_) {
      e.drain(deadline, [this] {
        if (--draining_ == 0 && waiting_) done();
      });
    }
    waiting_ = draining_ > 0;
    return !waiting_;
  }

  bool wantsOtlp() const { return config_.otlp_service.has_value(); }
  void log(const AccessEntry& entry) {
    for (auto& e : exporters_) e.add(entry);
  }

 private:
  Config config_;
  NodeInfo node_;
  std::deque<Exporter> exporters_;  // a deque: exporters hand out `this` to their callbacks
  size_t draining_ = 0;
  bool waiting_ = false;
};

class Stream : public HttpContext {
 public:
  using HttpContext::HttpContext;
  void onLog() override {
    Root& root = rootAs<Root>();
    root.log(readAccessEntry(root.wantsOtlp()));
  }
};

static RegisterContextFactory registration(rootFactory<Root>(), streamFactory<Stream>());

}  // namespace

}  // namespace grpc_access_logging
