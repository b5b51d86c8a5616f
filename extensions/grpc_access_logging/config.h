// grpc_access_logging's configuration: where entries go (upstream's LoggingService and/or OTLP)
// and the batching limits, read from JSON through the SDK's schema; every error names its path.
// Pure (no hostcall). See README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proxy_wasm/sdk/expected.h"

namespace grpc_access_logging {

// Where one service's exports go: a serialized envoy.config.core.v3.GrpcService, so Envoy and
// wasm-proxy resolve it alike (google_grpc for "host:port", envoy_grpc for a cluster name).
struct ServiceTarget {
  std::string configured;    // as written in the configuration, for logs
  std::string grpc_service;  // the proxy_grpc_call `upstream` argument
};

struct Config {
  std::optional<ServiceTarget> logging_service;  // upstream's WriteLog
  std::optional<ServiceTarget> otlp_service;     // OTLP LogsService/Export
  uint32_t flush_interval_ms = 1000;
  uint32_t max_batch_entries = 500;
  uint32_t max_batch_bytes = 16384;
  uint32_t max_buffered_entries = 10000;
  uint32_t timeout_ms = 5000;
};

// Parses the plugin configuration.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view json);

// envoy.config.core.v3.GrpcService for a target "host:port" (google_grpc) or a cluster name.
std::string encodeGrpcService(std::string_view target_or_cluster);

}  // namespace grpc_access_logging
