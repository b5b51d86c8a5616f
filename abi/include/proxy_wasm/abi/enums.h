// The numeric vocabulary of the proxy-wasm ABI 0.2.1: status codes, callback return values and the
// enums passed to hostcalls. Shared by the plugin SDK (compiled for wasm32) and the host, so the
// values here are the wire contract; never renumber them.
//
// Header-only, C++17, no exceptions, no allocation.
#pragma once

#include <cstdint>
#include <string_view>

namespace proxy_wasm::abi {

// Returned by every hostcall. 5, 9 and 11 are not in the spec text but are used by the reference
// host and Envoy (11 is the status reported by proxy_get_status after a failed HTTP callout).
enum class WasmResult : uint32_t {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
};

constexpr std::string_view toString(WasmResult r) {
  switch (r) {
    case WasmResult::Ok:
      return "Ok";
    case WasmResult::NotFound:
      return "NotFound";
    case WasmResult::BadArgument:
      return "BadArgument";
    case WasmResult::SerializationFailure:
      return "SerializationFailure";
    case WasmResult::ParseFailure:
      return "ParseFailure";
    case WasmResult::BadExpression:
      return "BadExpression";
    case WasmResult::InvalidMemoryAccess:
      return "InvalidMemoryAccess";
    case WasmResult::Empty:
      return "Empty";
    case WasmResult::CasMismatch:
      return "CasMismatch";
    case WasmResult::ResultMismatch:
      return "ResultMismatch";
    case WasmResult::InternalFailure:
      return "InternalFailure";
    case WasmResult::BrokenConnection:
      return "BrokenConnection";
    case WasmResult::Unimplemented:
      return "Unimplemented";
  }
  return "Unknown";
}

enum class LogLevel : uint32_t {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5
};
constexpr uint32_t kMaxLogLevel = 5;

constexpr std::string_view toString(LogLevel l) {
  switch (l) {
    case LogLevel::Trace:
      return "trace";
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
    case LogLevel::Critical:
      return "critical";
  }
  return "unknown";
}

// Return values of proxy_on_request_headers / proxy_on_response_headers.
// A host treats StopIteration as StopAllIterationAndWatermark (as Envoy does by default).
enum class FilterHeadersStatus : uint32_t {
  Continue = 0,
  StopIteration = 1,
  ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3,
  StopAllIterationAndWatermark = 4,
};

// Return values of proxy_on_request_body / proxy_on_response_body. "Pause" (1) buffers.
enum class FilterDataStatus : uint32_t {
  Continue = 0,
  StopIterationAndBuffer = 1,
  StopIterationAndWatermark = 2,
  StopIterationNoBuffer = 3,
};

enum class FilterTrailersStatus : uint32_t { Continue = 0, StopIteration = 1 };
enum class FilterMetadataStatus : uint32_t { Continue = 0 };
// TCP (network filter) callbacks.
enum class FilterStatus : uint32_t { Continue = 0, StopIteration = 1 };

enum class BufferType : uint32_t {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  NetworkDownstreamData = 2,
  NetworkUpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcReceiveBuffer = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  CallData = 8,
};
constexpr uint32_t kMaxBufferType = 8;

enum class MapType : uint32_t {
  HttpRequestHeaders = 0,
  HttpRequestTrailers = 1,
  HttpResponseHeaders = 2,
  HttpResponseTrailers = 3,
  GrpcReceiveInitialMetadata = 4,
  GrpcReceiveTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
};
constexpr uint32_t kMaxMapType = 7;

enum class StreamType : uint32_t { Request = 0, Response = 1, Downstream = 2, Upstream = 3 };
constexpr uint32_t kMaxStreamType = 3;

enum class PeerType : uint32_t { Unknown = 0, Local = 1, Remote = 2 };

enum class MetricType : uint32_t { Counter = 0, Gauge = 1, Histogram = 2 };
constexpr uint32_t kMaxMetricType = 2;

// gRPC status codes. InvalidCode (-1) passed to proxy_send_local_response means "no grpc-status".
enum class GrpcStatus : int32_t {
  Ok = 0,
  Canceled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
  InvalidCode = -1,
};

// Callout ids: the reference host hands out ids whose residue mod 4 tells the kind.
constexpr uint32_t kHttpCallIdTag = 0;
constexpr uint32_t kGrpcCallIdTag = 1;
constexpr uint32_t kGrpcStreamIdTag = 2;

// Metric ids: the residue mod 4 tells the metric type (counter 0, gauge 1, histogram 2).
constexpr MetricType metricTypeOfId(uint32_t id) {
  return static_cast<MetricType>(id & 3);
}

// WASI preview1 errno values the host returns.
namespace wasi_errno {
constexpr uint32_t kSuccess = 0;
constexpr uint32_t kBadf = 8;
constexpr uint32_t kNotdir = 20;
constexpr uint32_t kFault = 21;
constexpr uint32_t kInval = 28;
constexpr uint32_t kNoent = 44;
constexpr uint32_t kNosys = 52;
constexpr uint32_t kNotsup = 58;
constexpr uint32_t kNotcapable = 76;
}  // namespace wasi_errno

}  // namespace proxy_wasm::abi
