// FakeHost: an in-process host for unit tests of plugin logic compiled natively (with sanitizers).
//
// It implements every proxy-wasm hostcall the way Envoy does for the common cases (header maps
// with lower-cased keys, local replies, bodies, properties, shared data with CAS, queues, metrics,
// ticks, HTTP/gRPC callouts answered by the test) and drives the SDK's exported callbacks. It is a
// test double, not the host: integration tests run the real .wasm in host/ and wasm-proxy.
//
// One plugin per process (the SDK keeps its contexts in process-wide state), several roots allowed.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_wasm/sdk/api.h"

namespace proxy_wasm::testing {

struct LocalReply {
  uint32_t status = 0;
  std::string body;
  HeaderList headers;
  std::string details;
  int32_t grpc_status = -1;
};

struct HttpCall {
  uint32_t token = 0;
  uint32_t root_id = 0;
  std::string cluster;
  HeaderList headers;
  std::string body;
  HeaderList trailers;
  uint32_t timeout_ms = 0;
};

struct GrpcCall {
  uint32_t token = 0;
  uint32_t root_id = 0;
  std::string service, service_name, method;
  HeaderList initial_metadata;
  std::string message;
  uint32_t timeout_ms = 0;
};

// State of one HTTP stream as the plugin left it.
struct StreamState {
  uint32_t root_id = 0;
  HeaderList request_headers, request_trailers, response_headers, response_trailers;
  std::string request_body, response_body;
  std::optional<LocalReply> local_reply;
  bool request_continued = false, response_continued = false, closed = false;
  std::map<std::string, std::string> filter_state;
};

class FakeHost {
 public:
  static FakeHost& instance();

  // ---- driving the plugin ----
  // Creates a root context and runs on_context_create, on_vm_start and on_configure.
  // Returns the root context id, or nullopt when on_vm_start or on_configure returned false.
  std::optional<uint32_t> startPlugin(std::string_view plugin_configuration,
                                      std::string_view root_id = "",
                                      std::string_view vm_configuration = "");
  // on_done then on_delete for a root.
  void stopPlugin(uint32_t root_context_id);

  uint32_t createStream(uint32_t root_context_id);
  FilterHeadersStatus sendRequestHeaders(uint32_t stream, HeaderList headers, bool end_of_stream);
  FilterDataStatus sendRequestBody(uint32_t stream, std::string_view chunk, bool end_of_stream);
  FilterTrailersStatus sendRequestTrailers(uint32_t stream, HeaderList trailers);
  FilterHeadersStatus sendResponseHeaders(uint32_t stream, HeaderList headers, bool end_of_stream);
  FilterDataStatus sendResponseBody(uint32_t stream, std::string_view chunk, bool end_of_stream);
  FilterTrailersStatus sendResponseTrailers(uint32_t stream, HeaderList trailers);
  // Envoy's order: on_log, on_done, on_delete.
  void completeStream(uint32_t stream);

  void advanceTime(uint64_t nanoseconds);  // fires ticks that fall due
  uint64_t now() const { return now_ns_; }

  // Answers a pending HTTP callout (headers empty = failure/reset).
  void respondHttpCall(uint32_t token, HeaderList headers, std::string_view body,
                       HeaderList trailers = {});
  void respondGrpcCall(uint32_t token, GrpcStatus status, std::string_view message);

  // ---- observing ----
  StreamState& stream(uint32_t id) { return streams_[id]; }
  const std::vector<HttpCall>& httpCalls() const { return http_calls_; }
  const std::vector<GrpcCall>& grpcCalls() const { return grpc_calls_; }
  const std::vector<std::pair<LogLevel, std::string>>& logs() const { return logs_; }
  bool logged(std::string_view needle) const;
  std::optional<uint64_t> metric(std::string_view name) const;
  std::map<std::string, std::string>& properties() { return properties_; }
  uint32_t tickPeriodMs(uint32_t root_context_id) { return roots_[root_context_id].tick_ms; }
  void clearLogs() { logs_.clear(); }

  // ---- hostcall implementations (called by the C entry points) ----
  struct Metric {
    MetricType type;
    std::string name;
    uint64_t value = 0;
  };
  struct RootState {
    uint32_t tick_ms = 0;
    uint64_t next_tick_ns = 0;
    std::string configuration;
    bool in_configure = false;
  };
  uint32_t current() const { return effective_ != 0 ? effective_ : current_; }
  HeaderList* map(uint32_t type);
  std::string* buffer(uint32_t type);

  std::vector<std::pair<LogLevel, std::string>> logs_;
  std::map<uint32_t, StreamState> streams_;
  std::map<uint32_t, RootState> roots_;
  std::map<std::string, std::string> properties_;
  std::map<std::string, std::pair<std::string, uint32_t>> shared_data_;
  uint32_t next_cas_ = 1;
  std::map<uint32_t, std::pair<std::string, std::deque<std::string>>> queues_;
  std::map<uint32_t, uint32_t> queue_owner_;
  std::map<uint32_t, Metric> metrics_;
  std::vector<HttpCall> http_calls_;
  std::vector<GrpcCall> grpc_calls_;
  uint32_t next_context_ = 1, next_metric_ = 0, next_callout_ = 0, next_queue_ = 1;
  uint32_t current_ = 0, effective_ = 0;
  uint64_t now_ns_ = 1'000'000'000ull * 1'700'000'000ull;
  std::string vm_configuration_;
  // Callout answer being delivered.
  HeaderList call_headers_, call_trailers_;
  std::string call_body_, grpc_message_;
  CallStatus last_status_;

 private:
  // Runs a callback as `context`, like a host entering the VM.
  template <class F>
  auto enter(uint32_t context, F&& f);
};

}  // namespace proxy_wasm::testing
