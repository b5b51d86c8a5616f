// Vm: one instance of a plugin module on one thread, with Envoy's context lifecycle.
//
// A Vm owns the engine instance, the contexts (root contexts, one per plugin started in it, and
// stream contexts), the current/effective context of the running callback and the actions
// deferred until the outermost call into the VM returns. It is entered only from its own thread.
//
// Failure: any trap, deadline overrun, restricted hostcall or proc_exit fails the whole VM. From
// then on nothing calls into it; stream callbacks apply the plugin's failure policy (fail closed:
// 503 with details wasm_fail_stream; fail open: continue) and the embedder is told (onVmFailed) so
// that FAIL_RELOAD can build a new VM. Every failure is logged with plugin, callback and message.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "proxy_wasm/abi/enums.h"
#include "proxy_wasm/host/embedder.h"
#include "proxy_wasm/host/engine.h"
#include "proxy_wasm/host/plugin.h"
#include "proxy_wasm/host/vm_state.h"

namespace proxy_wasm::host {

using abi::FilterDataStatus;
using abi::FilterHeadersStatus;
using abi::FilterTrailersStatus;
using abi::GrpcStatus;

class HostcallEnv;

// What a call into the plugin returned: false when the export is absent or the call failed, else
// the result slot. Two full words rather than std::optional: a byte-wide flag stored and then
// loaded with its word missed store forwarding on every call.
struct CallOutcome {
  uint64_t value = 0;
  uint64_t ok = 0;
  explicit operator bool() const { return ok != 0; }
  uint64_t operator*() const { return value; }
};

class Vm {
 public:
  // Instantiates `code` on `engine` (which must outlive the Vm), links every import strictly, and
  // runs the module's initialisation with restricted hostcalls. nullptr with `error` on failure.
  static std::unique_ptr<Vm> create(std::shared_ptr<const PluginCode> code, VmConfig config,
                                    Engine& engine, VmHost& host, std::string* error);
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  const VmConfig& config() const { return config_; }
  const PluginCode& code() const { return *code_; }
  std::string_view engineName() const { return engine_.name(); }
  bool failed() const { return failed_; }
  const std::string& failureMessage() const { return failure_message_; }

  // ---- plugins (root contexts) ----
  // on_context_create, on_vm_start, on_configure. Returns the root context id, or nullopt with
  // `error` when either returns false or the VM fails.
  std::optional<uint32_t> startPlugin(std::shared_ptr<const PluginConfig> plugin,
                                      std::string* error);
  // on_done, then on_delete now: true. When on_done returns false the root stays (its callouts
  // and timers keep running) until the plugin calls proxy_done, which deletes it and tells the
  // embedder (VmHost::onPluginDone): false. Stopping a root that is already waiting: false.
  bool stopPlugin(uint32_t root_context_id);
  const PluginConfig* plugin(uint32_t root_context_id) const;

  // ---- HTTP streams ----
  // Creates a stream context under `root` (on_context_create). `stream` must stay valid until
  // endStream() returns. Returns 0 when the VM has failed.
  uint32_t createStream(uint32_t root_context_id, StreamHost* stream);
  FilterHeadersStatus onRequestHeaders(uint32_t stream, uint32_t headers, bool end_of_stream);
  FilterDataStatus onRequestBody(uint32_t stream, uint32_t body_size, bool end_of_stream);
  FilterTrailersStatus onRequestTrailers(uint32_t stream, uint32_t trailers);
  FilterHeadersStatus onResponseHeaders(uint32_t stream, uint32_t headers, bool end_of_stream);
  FilterDataStatus onResponseBody(uint32_t stream, uint32_t body_size, bool end_of_stream);
  FilterTrailersStatus onResponseTrailers(uint32_t stream, uint32_t trailers);
  // Envoy's order at stream end: on_log, on_done, on_delete. The context is gone afterwards.
  void endStream(uint32_t stream);
  // Whether context `id` exists (a stream is gone after endStream(), a root after its on_delete).
  bool hasContext(uint32_t id) const { return contexts_.find(id) != nullptr; }

  // ---- events delivered by the embedder on this thread ----
  void onTick(uint32_t root_context_id);
  void onQueueReady(uint32_t root_context_id, uint32_t queue_id);
  void onHttpCallResponse(uint32_t root_context_id, uint32_t token, HttpCalloutAnswer response);
  void onGrpcReceiveInitialMetadata(uint32_t root_context_id, uint32_t token,
                                    std::vector<std::pair<std::string, std::string>> metadata);
  void onGrpcReceive(uint32_t root_context_id, uint32_t token, std::string message);
  void onGrpcReceiveTrailingMetadata(uint32_t root_context_id, uint32_t token,
                                     std::vector<std::pair<std::string, std::string>> metadata);
  void onGrpcClose(uint32_t root_context_id, uint32_t token, uint32_t status, std::string message);

  // For tests and benchmarks: call an arbitrary export (handle from exportHandle) with i32
  // arguments, as `context_id`, under the callback deadline.
  int32_t exportHandle(std::string_view name) { return instance_->findFunction(name); }
  CallOutcome callExportForTest(int32_t function, const std::vector<uint64_t>& args,
                                uint32_t context_id = 0);
  uint64_t memoryBytes();

 private:
  friend class HostcallEnv;  // what hostcall bodies may reach (host/src/hostcall_env.h)

  // The exports the host calls, resolved and type-checked once.
  enum Callback : int {
    kMalloc,
    kOnContextCreate,
    kOnVmStart,
    kOnConfigure,
    kOnTick,
    kOnQueueReady,
    kOnDone,
    kOnLog,
    kOnDelete,
    kOnRequestHeaders,
    kOnRequestBody,
    kOnRequestTrailers,
    kOnResponseHeaders,
    kOnResponseBody,
    kOnResponseTrailers,
    kOnHttpCallResponse,
    kOnGrpcReceiveInitialMetadata,
    kOnGrpcReceive,
    kOnGrpcReceiveTrailingMetadata,
    kOnGrpcClose,
    kOnForeignFunction,
    kCallbackCount
  };
  static const char* callbackName(int cb);

  // One call into the VM (RAII, created only where the host calls plugin code): sets the call's
  // context (no effective context), callback name and restricted flag and counts the depth;
  // restores all of them when the call returns, however it returns.
  class CallScope {
   public:
    CallScope(Vm& vm, uint32_t context_id, std::string_view callback, bool restricted);
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;
    bool outermost() const { return outermost_; }

   private:
    Vm& vm_;
    uint32_t saved_current_, saved_effective_;
    std::string_view saved_callback_;
    bool saved_restricted_;
    bool outermost_;
  };

  using Context = VmContext;
  using CalloutResponse = CalloutState::Response;

  Vm(std::shared_ptr<const PluginCode> code, VmConfig config, Engine& engine, VmHost& host);
  bool initialize(std::string* error);
  // Resolves and type-checks the callback exports (an allocator is required).
  bool resolveCallbacks(const ModuleInfo& info, std::string* error);
  bool runModuleInitialisation(const ModuleInfo& info, std::string* error);

  // Calls a callback as `context_id`; returns the result slot, or nullopt if absent or failed.
  CallOutcome call(Callback cb, uint32_t context_id, std::initializer_list<uint64_t> args);
  void runDeferred();
  void fail(std::string_view callback, std::string_view message);
  // A stream callback on a failed VM: applies the failure policy once.
  bool applyFailurePolicy(Context& stream);

  template <class Status>
  Status streamCall(Callback cb, uint32_t stream, std::initializer_list<uint64_t> args,
                    Status stop);

  Context* context(uint32_t id);
  Context* currentContext();  // effective if set, else current
  Context* rootOf(Context* c);
  const PluginConfig* currentPlugin();
  void logFromPlugin(LogLevel level, std::string_view message);

  // Memory helpers for hostcalls (bounds-checked against the current memory). Inline: a
  // hostcall's whole cost is a few of these.
  MemoryView memoryView() {
    return memory_fields_.data != nullptr ? MemoryView{*memory_fields_.data, *memory_fields_.size}
                                          : instance_->memory();
  }
  bool read(uint32_t ptr, uint32_t size, std::string_view* out) {
    MemoryView m = memoryView();
    if (uint64_t{ptr} + size > m.size) return false;
    *out = std::string_view(reinterpret_cast<const char*>(m.data) + ptr, size);
    return true;
  }
  // Wasm memory is little-endian; host values are stored as they are.
  static_assert(std::endian::native == std::endian::little, "the host must be little-endian");
  template <class T>
  bool write(uint32_t ptr, T value) {  // one store: the plugin's next load is forwarded from it
    static_assert(std::is_integral_v<T>);
    MemoryView m = memoryView();
    if (uint64_t{ptr} + sizeof(T) > m.size) return false;
    std::memcpy(m.data + ptr, &value, sizeof(T));
    return true;
  }
  bool writeU32(uint32_t ptr, uint32_t value) { return write(ptr, value); }
  bool writeU64(uint32_t ptr, uint64_t value) { return write(ptr, value); }
  // Allocates in the plugin and copies `data`; writes the pointer/size slots. Empty data gives
  // ptr 0 / size 0 without allocating.
  WasmResult copyOut(std::string_view data, uint32_t ptr_slot, uint32_t size_slot);
  // The address of `size` bytes from the plugin's allocator; 0 if it failed or returned none.
  uint32_t allocate(uint32_t size);

  std::shared_ptr<const PluginCode> code_;
  VmConfig config_;
  Engine& engine_;
  VmHost& host_;
  std::unique_ptr<Instance> instance_;
  MemoryFields memory_fields_;
  int32_t callbacks_[kCallbackCount];
  uint8_t callback_results_[kCallbackCount] = {};  // result count of each export found
  ContextTable contexts_;
  uint32_t current_context_ = 0;
  uint32_t effective_context_ = 0;
  int depth_ = 0;
  bool restricted_ = false;  // during _initialize and inside the allocator
  bool failed_ = false;
  std::string failure_message_;
  std::string aborted_reason_;         // set by a hostcall that aborts the guest
  std::string_view current_callback_;  // a static name (the callback table, "_initialize")
  std::string last_plugin_warning_;    // the plugin's last warning or error log line
  std::vector<std::function<void()>> deferred_;
  CalloutState callouts_;
  MetricHandles metrics_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace proxy_wasm::host
