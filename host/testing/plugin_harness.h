// PluginHarness: runs a real .wasm on a real engine (V8 or wabt) through the real host, without a
// network. It is the VmHost of one simulated worker thread: a fake clock that fires ticks as time
// advances, fake HTTP/gRPC peers that capture callouts and answer when the test says so, captured
// logs, node properties; and it creates streams whose headers, bodies, trailers, local replies and
// continue/close calls the test drives and observes. Every extension's tests use it.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_wasm/host/embedder.h"
#include "proxy_wasm/host/engine.h"
#include "proxy_wasm/host/plugin.h"
#include "proxy_wasm/host/shared_state.h"
#include "proxy_wasm/host/thread_local_plugin.h"
#include "proxy_wasm/host/vm.h"

namespace proxy_wasm::host::testing {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct HarnessOptions {
  std::string runtime = "v8";
  PluginConfig plugin;
  VmConfig vm;
  // Node/listener properties, already visible when the plugin starts (path NUL-joined).
  std::map<std::string, std::string> host_properties;
};

// `<name>.wasm` in $PWX_PLUGIN_DIR (set by add_proxy_wasm_plugin_test for a test of an installed
// harness; in this tree, the build's plugins folder by default).
std::string pluginPath(std::string_view name);
// Every engine this host has ("v8", "wabt", "wasm2c"), for ::testing::ValuesIn.
std::vector<std::string> allEngines();
std::optional<std::string> readFile(const std::string& path);

class PluginHarness;

// One HTTP stream driven by a test.
class FakeStream : public StreamHost {
 public:
  FakeStream(PluginHarness& harness, std::shared_ptr<Vm> vm, uint32_t root);
  ~FakeStream() override;

  FilterHeadersStatus sendRequestHeaders(const Headers& headers, bool end_of_stream = true);
  FilterDataStatus sendRequestBody(std::string_view chunk, bool end_of_stream);
  FilterTrailersStatus sendRequestTrailers(const Headers& trailers);
  FilterHeadersStatus sendResponseHeaders(const Headers& headers, bool end_of_stream = true);
  FilterDataStatus sendResponseBody(std::string_view chunk, bool end_of_stream);
  FilterTrailersStatus sendResponseTrailers(const Headers& trailers);
  // on_log, on_done, on_delete (Envoy's order). Idempotent. Also done by the harness for
  // streams still open when it goes away, after which the stream holds no VM.
  void end();
  void detach();

  uint32_t id() const { return id_; }
  Vm& vm() { return *vm_; }

  // Observed state.
  VectorHeaderMap request_headers, request_trailers, response_headers, response_trailers;
  std::string request_body, response_body;
  std::optional<LocalReply> local_reply;
  int request_continued = 0, response_continued = 0;
  int request_closed = 0, response_closed = 0;
  std::map<std::string, std::string> properties;  // stream properties (path NUL-joined)
  std::map<std::string, std::string> filter_state;
  // Which phases the plugin may touch; a real proxy narrows these as the stream progresses.
  bool request_body_available = true, response_body_available = true;

  // StreamHost
  HeaderMap* headers(MapType type) override;
  std::string* body(BufferType type) override;
  void sendLocalReply(LocalReply reply) override { local_reply = std::move(reply); }
  void continueStream(StreamType type) override;
  void closeStream(StreamType type) override;
  WasmResult getProperty(std::string_view path, std::string* value) override;
  WasmResult setProperty(std::string_view path, std::string_view value) override;

 private:
  PluginHarness* harness_;  // null once the harness has gone
  std::shared_ptr<Vm> vm_;
  uint32_t id_ = 0;
  bool ended_ = false;
};

class PluginHarness : public VmHost {
 public:
  // Loads `wasm_path` and starts the plugin. nullptr with `error` (naming the failure) when the
  // module does not load or the plugin rejects its configuration.
  static std::unique_ptr<PluginHarness> create(const std::string& wasm_path, HarnessOptions options,
                                               std::string* error);
  ~PluginHarness() override;

  Vm& vm() { return *plugin_->vm(); }
  std::shared_ptr<Vm> vmPtr() { return plugin_->vm(); }
  ThreadLocalPlugin& plugin() { return *plugin_; }
  uint32_t rootId() const { return plugin_->rootId(); }
  Engine& engine() { return *engine_; }

  // A new stream on the plugin's current VM (reloaded first if the policy says so).
  std::unique_ptr<FakeStream> newStream();

  // Fake clock: advances time and fires every tick that falls due, in order.
  void advance(std::chrono::milliseconds by);
  uint64_t nowNs() const { return now_ns_; }
  // Moves the wall clock (not the monotonic one) by `delta_ns`, e.g. backwards (NTP step).
  void shiftRealtime(int64_t delta_ns) { realtime_base_ns_ += static_cast<uint64_t>(delta_ns); }
  // Each read of the wall clock by the plugin moves it on by this much: a clock that runs while a
  // callback waits for something (0: it stands still between advance() calls).
  uint64_t realtime_step_ns = 0;
  uint32_t tickPeriodMs() const;

  // Callouts captured from the plugin.
  struct HttpCall {
    uint32_t root = 0, token = 0;
    HttpCallRequest request;
  };
  struct GrpcCall {
    uint32_t root = 0, token = 0;
    GrpcCallRequest request;
    bool stream = false;
    std::vector<std::string> sent;
    bool closed = false, cancelled = false;
  };
  std::vector<HttpCall>& httpCalls() { return http_calls_; }
  std::vector<GrpcCall>& grpcCalls() { return grpc_calls_; }
  // Answers (and forgets) a pending HTTP call; empty headers = failure (reset/timeout).
  void respondHttpCall(uint32_t token, const Headers& headers, std::string_view body,
                       const Headers& trailers = {});
  // Answers a gRPC call (status 0: `message` is the response; else the failure and its status
  // message). A unary call is then forgotten; a stream stays listed.
  void respondGrpcCall(uint32_t token, uint32_t status, std::string_view message);
  // Set an HTTP cluster as unknown (proxy_http_call then returns BadArgument).
  std::vector<std::string> unknown_clusters;

  // Runs tasks posted to this "thread" (shared-queue notifications).
  size_t runPosted();

  // Captured logs.
  std::vector<std::pair<LogLevel, std::string>> logs;
  bool logged(std::string_view needle) const;
  void clearLogs() { logs.clear(); }
  LogLevel log_level = LogLevel::Trace;
  // Runs in proxy_log, inside the plugin's call, after the message is captured (a test plays a
  // slow log sink with it).
  std::function<void(LogLevel, std::string_view)> on_log;
  int vm_failures = 0;

  // Node/listener properties served to the plugin (path NUL-joined).
  std::map<std::string, std::string> host_properties;

  // A metric's value for the whole process (metrics are process-wide, as in a proxy: every VM
  // of a plugin adds to the same counter), or nullopt when no VM defined it.
  static std::optional<int64_t> metric(std::string_view name);
  // What the metric gained since this harness was created: what this harness's plugin did, when
  // tests run one after another (another engine's run of the same test included).
  int64_t metricDelta(std::string_view name) const;

  // VmHost
  uint64_t realtimeNanos() override { return (realtime_base_ns_ += realtime_step_ns) + now_ns_; }
  uint64_t monotonicNanos() override { return now_ns_; }
  void log(const PluginConfig* plugin, LogLevel level, std::string_view message) override;
  LogLevel logLevel() override { return log_level; }
  void setTickPeriod(Vm& vm, uint32_t root, uint32_t period_ms) override;
  WasmResult httpCall(Vm& vm, uint32_t root, uint32_t token, HttpCallRequest request) override;
  WasmResult grpcCall(Vm& vm, uint32_t root, uint32_t token, GrpcCallRequest request) override;
  WasmResult grpcStream(Vm& vm, uint32_t root, uint32_t token, GrpcCallRequest request) override;
  WasmResult grpcSend(Vm& vm, uint32_t token, std::string_view message, bool eos) override;
  WasmResult grpcCancel(Vm& vm, uint32_t token) override;
  WasmResult grpcClose(Vm& vm, uint32_t token) override;
  void cancelAll(Vm& vm) override;
  void post(std::function<void()> task) override { posted_.push_back(std::move(task)); }
  WasmResult getProperty(std::string_view path, std::string* value) override;
  void onVmFailed(Vm&) override { ++vm_failures; }
  void holdUntilDone(std::shared_ptr<Vm> vm, uint32_t root) override;
  void onPluginDone(Vm& vm, uint32_t root) override;

  // Stops the plugin as a proxy does at shutdown (on_done). True when it finished at once; false
  // when it flushes first: its VM stays alive (callouts still answerable) until proxy_done.
  bool stopPlugin();
  // Plugins stopped but not yet done.
  size_t finishingPlugins() const;

 private:
  friend class FakeStream;
  std::set<FakeStream*> streams_;
  std::map<std::string, int64_t, std::less<>> metrics_at_start_;
  PluginHarness() = default;
  struct Timer {
    Vm* vm;
    uint32_t period_ms;
    uint64_t next_ns;
  };
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<const PluginCode> code_;
  std::unique_ptr<ThreadLocalPlugin> plugin_;
  uint64_t now_ns_ = 1'000'000'000;
  uint64_t realtime_base_ns_ = 1'700'000'000'000'000'000ull;
  std::map<uint32_t, Timer> timers_;  // by root context id
  std::vector<HttpCall> http_calls_;
  std::vector<GrpcCall> grpc_calls_;
  std::map<uint32_t, Vm*> callout_vm_;
  std::deque<std::function<void()>> posted_;
  std::vector<std::pair<std::shared_ptr<Vm>, uint32_t>> finishing_;
};

}  // namespace proxy_wasm::host::testing
