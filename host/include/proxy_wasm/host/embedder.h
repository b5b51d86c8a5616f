// The interfaces through which the host reaches its embedder (wasm-proxy's filter and worker
// loop, or the test harness). The host knows nothing of sockets, event loops or HTTP parsing:
// everything a hostcall needs from the outside world comes through these.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_wasm/abi/enums.h"

namespace proxy_wasm::host {

using abi::BufferType;
using abi::LogLevel;
using abi::MapType;
using abi::StreamType;
using abi::WasmResult;

class Vm;
struct PluginConfig;

// A header map as plugins see it: keys compared case-insensitively and reported lower-cased,
// duplicates kept in order, pseudo-headers (":path", ":status", ...) included.
class HeaderMap {
 public:
  virtual ~HeaderMap() = default;
  virtual std::optional<std::string_view> get(std::string_view key) const = 0;
  virtual void add(std::string_view key, std::string_view value) = 0;
  virtual void replace(std::string_view key, std::string_view value) = 0;
  virtual void remove(std::string_view key) = 0;
  virtual void clear() = 0;
  virtual void forEach(const std::function<void(std::string_view, std::string_view)>& f) const = 0;
  virtual size_t size() const = 0;      // number of entries
  virtual size_t byteSize() const = 0;  // sum of key and value lengths (Envoy's byteSize)
};

// The plain implementation: a vector of lower-cased entries.
class VectorHeaderMap final : public HeaderMap {
 public:
  using Entries = std::vector<std::pair<std::string, std::string>>;
  VectorHeaderMap() = default;
  explicit VectorHeaderMap(const Entries& entries);
  std::optional<std::string_view> get(std::string_view key) const override;
  void add(std::string_view key, std::string_view value) override;
  void replace(std::string_view key, std::string_view value) override;
  void remove(std::string_view key) override;
  void clear() override { entries_.clear(); }
  void forEach(const std::function<void(std::string_view, std::string_view)>& f) const override;
  size_t size() const override { return entries_.size(); }
  size_t byteSize() const override;
  const Entries& entries() const { return entries_; }
  void reserve(size_t n) { entries_.reserve(n); }
  // The value of the entry at `index` (for codecs that fill an entry after adding it).
  void setValue(size_t index, std::string_view value) { entries_[index].second.assign(value); }
  // Removes the entries whose keys `drop` (lower-cased) selects, keeping the order of the rest.
  template <class Pred>
  void removeIf(Pred drop) {
    std::erase_if(entries_, [&](const auto& e) { return drop(std::string_view(e.first)); });
  }

 private:
  Entries entries_;
};

// ASCII lower case (header names, host names); other bytes are left as they are.
std::string lowerAscii(std::string_view s);
// Equal when lower-cased as lowerAscii does; allocates nothing.
bool equalsIgnoreCaseAscii(std::string_view a, std::string_view b);

struct LocalReply {
  uint32_t status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string details;       // response code details (whitespace replaced by '_', as Envoy)
  int32_t grpc_status = -1;  // -1: none
};

// One HTTP stream as the plugin sees it. Implemented by the embedder's filter.
class StreamHost {
 public:
  virtual ~StreamHost() = default;
  // Request/response headers and trailers; nullptr when not available at this point.
  virtual HeaderMap* headers(MapType type) = 0;
  // The buffered request (HttpRequestBody) or response (HttpResponseBody) body; nullptr when not
  // available at this point.
  virtual std::string* body(BufferType type) = 0;
  // Actions, always invoked after the VM call that asked for them has returned.
  virtual void sendLocalReply(LocalReply reply) = 0;
  virtual void continueStream(StreamType type) = 0;
  virtual void closeStream(StreamType type) = 0;
  // Stream-level properties (request.*, response.*, source.*, connection.*, filter state ...).
  // `path` is NUL-separated segments without a trailing NUL; the value is in the ABI encoding.
  virtual WasmResult getProperty(std::string_view path, std::string* value) = 0;
  virtual WasmResult setProperty(std::string_view path, std::string_view value) = 0;
};

struct HttpCallRequest {
  std::string cluster;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  uint32_t timeout_ms = 0;  // 0: no timeout (Envoy)
};

// An empty `headers` means the call failed without a response (reset, connect failure, timeout).
struct HttpCalloutAnswer {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
};

struct GrpcCallRequest {
  std::string service;  // cluster name, or a serialized envoy.config.core.v3.GrpcService
  std::string service_name;
  std::string method;
  std::vector<std::pair<std::string, std::string>> initial_metadata;
  std::string message;
  uint32_t timeout_ms = 0;
};

// The services of one thread: clock, logs, timers, callouts, deferred work, node properties.
// Implemented by the embedder once per worker thread (or by the harness).
class VmHost {
 public:
  virtual ~VmHost() = default;
  virtual uint64_t realtimeNanos() = 0;
  virtual uint64_t monotonicNanos() = 0;
  virtual void log(const PluginConfig* plugin, LogLevel level, std::string_view message) = 0;
  virtual LogLevel logLevel() = 0;
  // Arms (period > 0) or disarms the tick timer of a root context; the embedder then calls
  // vm.onTick(root) every period on this thread.
  virtual void setTickPeriod(Vm& vm, uint32_t root_context_id, uint32_t period_ms) = 0;
  // Starts a callout; the embedder answers later with vm.onHttpCallResponse / onGrpc* on this
  // thread. Returns BadArgument for an unknown cluster.
  virtual WasmResult httpCall(Vm& vm, uint32_t root_context_id, uint32_t token,
                              HttpCallRequest request) = 0;
  virtual WasmResult grpcCall(Vm& vm, uint32_t root_context_id, uint32_t token,
                              GrpcCallRequest request) = 0;
  virtual WasmResult grpcStream(Vm& vm, uint32_t root_context_id, uint32_t token,
                                GrpcCallRequest request) = 0;
  virtual WasmResult grpcSend(Vm& vm, uint32_t token, std::string_view message,
                              bool end_of_stream) = 0;
  // Cancel a call or reset a stream (no further callbacks) / half-close a stream.
  virtual WasmResult grpcCancel(Vm& vm, uint32_t token) = 0;
  virtual WasmResult grpcClose(Vm& vm, uint32_t token) = 0;
  // Drops any callouts of this VM (it is going away).
  virtual void cancelAll(Vm& vm) = 0;
  // Runs `task` later on this thread. Must be callable from any thread.
  virtual void post(std::function<void()> task) = 0;
  // Properties not tied to a stream (node, cluster_name, listener ...): NotFound if unknown.
  virtual WasmResult getProperty(std::string_view path, std::string* value) = 0;
  // The VM trapped: the embedder may schedule a reload (FAIL_RELOAD).
  virtual void onVmFailed(Vm& vm) = 0;
  // A plugin whose on_done returned false (it flushes before it goes) is handed over here by its
  // owner: the embedder keeps `vm` alive and keeps serving its callouts until onPluginDone, or
  // until the VM fails, or until the embedder's own deadline (e.g. the end of a drain).
  virtual void holdUntilDone(std::shared_ptr<Vm> vm, uint32_t root_context_id) = 0;
  // The plugin called proxy_done; its root is deleted. Called from inside the VM: release the VM
  // later (post), never from here.
  virtual void onPluginDone(Vm& vm, uint32_t root_context_id) = 0;
};

}  // namespace proxy_wasm::host
