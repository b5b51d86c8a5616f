// grpc_access_logging's contexts (filter.h).
#include "filter.h"

namespace grpc_access_logging {

using namespace proxy_wasm;

namespace {

constexpr uint32_t kWriteLogEntryField = 1;  // WriteLogRequest.log_entries
constexpr uint32_t kOtlpRecordField = 2;     // ScopeLogs.log_records

}  // namespace

bool Root::onConfigure(std::string_view configuration) {
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

void Root::onTick() {
  const uint64_t now = getCurrentTimeNanoseconds();
  for (auto& e : exporters_) e.onTick(now);
}

bool Root::onDone() {
  const uint64_t deadline = getCurrentTimeNanoseconds() + uint64_t{config_.timeout_ms} * 1'000'000;
  draining_ = exporters_.size();
  for (auto& e : exporters_) {
    e.drain(deadline, [this] {
      if (--draining_ == 0 && waiting_) done();
    });
  }
  waiting_ = draining_ > 0;
  return !waiting_;
}

void Root::log(const AccessEntry& entry) {
  for (auto& e : exporters_) e.add(entry);
}

void Stream::onLog() {
  Root& root = rootAs<Root>();
  root.log(readAccessEntry(root.wantsOtlp()));
}

static RegisterContextFactory registration(rootFactory<Root>(), streamFactory<Stream>());

}  // namespace grpc_access_logging
