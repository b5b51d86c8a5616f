#include "proxy_wasm/host/vm.h"

#include <cstring>

#include "hostcalls.h"
#include "proxy_wasm/abi/pairs.h"

namespace proxy_wasm::host {
namespace {

// The exports the host calls, in the order of Vm::Callback; their types come from the ABI table.
// "malloc" (the reference host's first choice of allocator) has proxy_on_memory_allocate's.
constexpr std::string_view kCallbackNames[] = {
    "malloc",
    "proxy_on_context_create",
    "proxy_on_vm_start",
    "proxy_on_configure",
    "proxy_on_tick",
    "proxy_on_queue_ready",
    "proxy_on_done",
    "proxy_on_log",
    "proxy_on_delete",
    "proxy_on_request_headers",
    "proxy_on_request_body",
    "proxy_on_request_trailers",
    "proxy_on_response_headers",
    "proxy_on_response_body",
    "proxy_on_response_trailers",
    "proxy_on_http_call_response",
    "proxy_on_grpc_receive_initial_metadata",
    "proxy_on_grpc_receive",
    "proxy_on_grpc_receive_trailing_metadata",
    "proxy_on_grpc_close",
    "proxy_on_foreign_function",
};
static_assert(sizeof(kCallbackNames) / sizeof(kCallbackNames[0]) == 21);

const FuncType& callbackType(int cb) {
  static const std::vector<FuncType> types = [] {
    std::vector<FuncType> out;
    for (std::string_view name : kCallbackNames) {
      out.push_back(*abiCallbackType(name == "malloc" ? "proxy_on_memory_allocate" : name));
    }
    return out;
  }();
  return types[cb];
}

constexpr ValType I = ValType::I32;

std::string describeImport(const ModuleImport& imp) {
  return imp.module + "." + imp.name + " " + toString(imp.type);
}

}  // namespace

Vm::CallScope::CallScope(Vm& vm, uint32_t context_id, std::string_view callback, bool restricted)
    : vm_(vm),
      saved_current_(vm.current_context_),
      saved_effective_(vm.effective_context_),
      saved_callback_(vm.current_callback_),
      saved_restricted_(vm.restricted_),
      outermost_(vm.depth_ == 0) {
  vm.current_context_ = context_id;
  vm.effective_context_ = 0;
  vm.current_callback_ = callback;
  vm.restricted_ = restricted || vm.restricted_;
  ++vm.depth_;
}

Vm::CallScope::~CallScope() {
  --vm_.depth_;
  vm_.current_context_ = saved_current_;
  vm_.effective_context_ = saved_effective_;
  vm_.current_callback_ = saved_callback_;
  vm_.restricted_ = saved_restricted_;
}

const char* Vm::callbackName(int cb) {
  return kCallbackNames[cb].data();  // literals: NUL-terminated
}

Vm::Vm(std::shared_ptr<const PluginCode> code, VmConfig config, Engine& engine, VmHost& host)
    : code_(std::move(code)), config_(std::move(config)), engine_(engine), host_(host) {
  for (int32_t& c : callbacks_) c = -1;
}

Vm::~Vm() {
  *alive_ = false;
  host_.cancelAll(*this);
}

std::unique_ptr<Vm> Vm::create(std::shared_ptr<const PluginCode> code, VmConfig config,
                               Engine& engine, VmHost& host, std::string* error) {
  std::unique_ptr<Vm> vm(new Vm(std::move(code), std::move(config), engine, host));
  if (!vm->initialize(error)) return nullptr;
  return vm;
}

namespace {

// One binding per import, each a hostcall of the table with the module's exact type; false with
// `error` naming the first import the host cannot satisfy.
bool linkImports(const ModuleInfo& info, std::vector<ImportBinding>* bindings, std::string* error) {
  bindings->reserve(info.imports.size());
  for (const ModuleImport& imp : info.imports) {
    if (imp.kind != 0) {
      *error =
          "unsupported import " + imp.module + "." + imp.name + " (only functions may be imported)";
      return false;
    }
    const HostcallDef* def = findHostcall(imp.module, imp.name);
    if (def == nullptr) {
      *error = "unknown import " + describeImport(imp);
      return false;
    }
    if (def->type != imp.type) {
      *error = "import " + imp.module + "." + imp.name + " has type " + toString(imp.type) +
               ", the host provides " + toString(def->type);
      return false;
    }
    bindings->push_back(ImportBinding{imp.module, imp.name, imp.type, def->function});
  }
  return true;
}

}  // namespace

bool Vm::initialize(std::string* error) {
  const ModuleInfo& info = code_->info();
  std::vector<ImportBinding> bindings;
  if (!linkImports(info, &bindings, error)) return false;
  auto compiled = code_->compiled(engine_, error);
  if (!compiled) return false;
  instance_ = engine_.instantiate(*compiled, bindings, this, error);
  if (!instance_) return false;
  memory_fields_ = instance_->memoryFields();
  return resolveCallbacks(info, error) && runModuleInitialisation(info, error);
}

bool Vm::resolveCallbacks(const ModuleInfo& info, std::string* error) {
  for (int cb = 0; cb < kCallbackCount; ++cb) {
    const ModuleExport* e = info.findExport(kCallbackNames[cb]);
    if (e == nullptr || e->kind != 0) continue;
    if (e->type != callbackType(cb)) {
      *error = "export " + std::string(kCallbackNames[cb]) + " has type " + toString(e->type) +
               ", expected " + toString(callbackType(cb));
      return false;
    }
    callbacks_[cb] = instance_->findFunction(kCallbackNames[cb]);
    callback_results_[cb] = static_cast<uint8_t>(e->type.results.size());
  }
  // The reference host looks for malloc first, then proxy_on_memory_allocate.
  if (callbacks_[kMalloc] < 0) {
    const ModuleExport* e = info.findExport("proxy_on_memory_allocate");
    if (e != nullptr && e->kind == 0 && e->type == callbackType(kMalloc)) {
      callbacks_[kMalloc] = instance_->findFunction("proxy_on_memory_allocate");
      callback_results_[kMalloc] = static_cast<uint8_t>(e->type.results.size());
    }
  }
  if (callbacks_[kMalloc] < 0) {
    *error = "the module exports no allocator (malloc or proxy_on_memory_allocate)";
    return false;
  }
  return true;
}

// WASI reactor (_initialize, then main or __main_void) or command (_start) initialisation, with
// hostcalls restricted as in the reference host.
bool Vm::runModuleInitialisation(const ModuleInfo& info, std::string* error) {
  auto run = [&](const char* name, std::vector<uint64_t> args, size_t results) -> bool {
    int32_t fn = instance_->findFunction(name);
    if (fn < 0) return true;
    uint64_t result = 0;
    const CallResult r = [&] {
      CallScope scope(*this, 0, name, /*restricted=*/true);
      return instance_->call(fn, args.data(), args.size(), &result, results,
                             deadlineAfter(config_.callback_deadline));
    }();
    if (!r.ok()) {
      fail(name, !aborted_reason_.empty() ? aborted_reason_ : r.message);
      *error = failure_message_;
      return false;
    }
    return true;
  };
  auto typed = [&](const char* name, const FuncType& type) {
    const ModuleExport* e = info.findExport(name);
    return e != nullptr && e->kind == 0 && e->type == type;
  };
  if (typed("_initialize", FuncType{{}, {}})) {
    if (!run("_initialize", {}, 0)) return false;
    if (typed("main", FuncType{{I, I}, {I}})) return run("main", {0, 0}, 1);
    if (typed("__main_void", FuncType{{}, {I}})) return run("__main_void", {}, 1);
    return true;
  }
  if (typed("_start", FuncType{{}, {}})) return run("_start", {}, 0);
  return true;
}

Vm::Context* Vm::context(uint32_t id) {
  return contexts_.find(id);
}

Vm::Context* Vm::currentContext() {
  if (effective_context_ != 0) {
    if (Context* c = context(effective_context_)) return c;
  }
  return context(current_context_);
}

Vm::Context* Vm::rootOf(Context* c) {
  return c == nullptr ? nullptr : context(c->root_id);
}

const PluginConfig* Vm::currentPlugin() {
  Context* c = currentContext();
  return c == nullptr ? nullptr : c->plugin.get();
}

const PluginConfig* Vm::plugin(uint32_t root) const {
  const Context* c = contexts_.find(root);
  return c == nullptr ? nullptr : c->plugin.get();
}

void Vm::logFromPlugin(LogLevel level, std::string_view message) {
  if (level >= LogLevel::Warn) last_plugin_warning_ = std::string(message);
  host_.log(currentPlugin(), level, message);
}

CallOutcome Vm::call(Callback cb, uint32_t context_id, std::initializer_list<uint64_t> args) {
  if (failed_) return {};
  int32_t fn = callbacks_[cb];
  if (fn < 0) return {};
  const bool outer = depth_ == 0;
  if (outer) aborted_reason_.clear();
  uint64_t result = 0;
  // Built in place (a lambda's prvalue), not move-assigned: the move of its string cost a few ns.
  const CallResult r = [&] {
    CallScope scope(*this, context_id, kCallbackNames[cb], /*restricted=*/false);
    return instance_->call(fn, args.begin(), args.size(), &result, callback_results_[cb],
                           outer ? deadlineAfter(config_.callback_deadline) : kNoDeadline);
  }();
  if (!r.ok()) {
    std::string message = r.message;
    if (!aborted_reason_.empty()) message = aborted_reason_;
    if (r.status == CallResult::Status::Timeout) {
      message = "exceeded its CPU deadline of " +
                std::to_string(config_.callback_deadline.count()) + " ms";
    }
    fail(kCallbackNames[cb], message);
    if (outer) deferred_.clear();
    return {};
  }
  if (outer) runDeferred();
  return {result, 1};
}

void Vm::runDeferred() {
  // Actions may enqueue more actions (a local reply triggering response callbacks): drain.
  while (!deferred_.empty()) {
    std::vector<std::function<void()>> now;
    now.swap(deferred_);
    for (auto& action : now) action();
  }
}

void Vm::fail(std::string_view callback, std::string_view message) {
  if (failed_) return;
  failed_ = true;
  failure_message_ = "Function: " + std::string(callback) + " failed: " + std::string(message);
  const PluginConfig* p = currentPlugin();
  if (p == nullptr && contexts_.first() != nullptr) p = contexts_.first()->plugin.get();
  host_.log(p, LogLevel::Critical,
            "wasm VM failed (plugin " + std::string(p != nullptr ? p->name : "?") + ", vm_id " +
                config_.vm_id + ", engine " + std::string(engine_.name()) +
                "): " + failure_message_);
  host_.cancelAll(*this);
  // Streams paused in this VM would wait forever for a resume that can no longer come: apply
  // the failure policy to every live stream now (the running one included; it is not applied
  // twice).
  for (uint32_t id : contexts_.streamIds()) {
    Context* c = context(id);
    if (c == nullptr) continue;
    if (applyFailurePolicy(*c)) {
      c->stream->continueStream(StreamType::Request);
      c->stream->continueStream(StreamType::Response);
    }
  }
  host_.onVmFailed(*this);
}

bool Vm::applyFailurePolicy(Context& stream) {
  if (stream.plugin && stream.plugin->failure_policy == FailurePolicy::FailOpen) return true;
  if (!stream.failed_stream && stream.stream != nullptr) {
    stream.failed_stream = true;
    LocalReply reply;
    reply.status = 503;
    reply.details = "wasm_fail_stream";
    reply.grpc_status = static_cast<int32_t>(GrpcStatus::Unavailable);
    stream.stream->sendLocalReply(std::move(reply));
  }
  return false;
}

// ---- plugins -------------------------------------------------------------------------------

std::optional<uint32_t> Vm::startPlugin(std::shared_ptr<const PluginConfig> plugin,
                                        std::string* error) {
  if (failed_) {
    *error = failure_message_;
    return std::nullopt;
  }
  const uint32_t id = contexts_.create(0, std::move(plugin)).id;
  auto abandon = [&](std::string message) -> std::optional<uint32_t> {
    *error = failed_ ? failure_message_ : std::move(message);
    if (!failed_) call(kOnDelete, id, {id});
    contexts_.erase(id);
    return std::nullopt;
  };
  call(kOnContextCreate, id, {id, 0});
  if (failed_) return abandon("");
  auto started = call(kOnVmStart, id, {id, config_.configuration.size()});
  if (failed_) return abandon("");
  if (started && *started == 0) return abandon("the plugin's proxy_on_vm_start returned false");
  context(id)->in_configure = true;
  last_plugin_warning_.clear();
  auto configured = call(kOnConfigure, id, {id, context(id)->plugin->configuration.size()});
  if (Context* c = context(id)) c->in_configure = false;
  if (failed_) return abandon("");
  if (configured && *configured == 0) {
    // The plugin's own last warning usually says why; pass it on.
    return abandon("the plugin rejected its configuration (proxy_on_configure returned false)" +
                   (last_plugin_warning_.empty() ? "" : ": " + last_plugin_warning_));
  }
  return id;
}

bool Vm::stopPlugin(uint32_t root_context_id) {
  Context* root = context(root_context_id);
  if (root == nullptr || root->root_id != root_context_id) return true;
  if (root->pending_done) return false;
  host_.setTickPeriod(*this, root_context_id, 0);
  if (failed_) {
    contexts_.erase(root_context_id);
    return true;
  }
  auto done = call(kOnDone, root_context_id, {root_context_id});
  if (!failed_ && done && *done == 0) {
    if (Context* c = context(root_context_id)) c->pending_done = true;
    return false;
  }
  if (!failed_) call(kOnDelete, root_context_id, {root_context_id});
  contexts_.erase(root_context_id);
  return true;
}

// ---- streams -------------------------------------------------------------------------------

uint32_t Vm::createStream(uint32_t root_context_id, StreamHost* stream) {
  Context* root = context(root_context_id);
  if (root == nullptr) return 0;
  Context& c = contexts_.create(root_context_id, root->plugin);
  c.stream = stream;
  const uint32_t id = c.id;
  if (!failed_) call(kOnContextCreate, id, {id, root_context_id});
  return id;
}

template <class Status>
Status Vm::streamCall(Callback cb, uint32_t stream, std::initializer_list<uint64_t> args,
                      Status stop) {
  if (callbacks_[cb] < 0 && !failed_) return Status{};  // not exported: continue, as Envoy does
  Context* c = context(stream);
  if (c == nullptr) return Status{};
  if (failed_) return applyFailurePolicy(*c) ? Status{} : stop;
  c->local_reply_sent = false;
  auto r = call(cb, stream, args);
  c = context(stream);
  if (failed_) return c != nullptr && applyFailurePolicy(*c) ? Status{} : stop;
  if (c != nullptr && c->local_reply_sent) return stop;
  if (!r) return Status{};
  return static_cast<Status>(static_cast<uint32_t>(*r));
}

namespace {
// As Envoy by default: StopIteration (and any unknown value) stops everything;
// ContinueAndEndStream continues.
FilterHeadersStatus normalize(FilterHeadersStatus s) {
  auto v = static_cast<uint32_t>(s);
  if (v == 1 || v > 4) return FilterHeadersStatus::StopAllIterationAndWatermark;
  if (v == 2) return FilterHeadersStatus::Continue;
  return s;
}
FilterDataStatus normalize(FilterDataStatus s) {
  return static_cast<uint32_t>(s) > 3 ? FilterDataStatus::StopIterationNoBuffer : s;
}
FilterTrailersStatus normalize(FilterTrailersStatus s) {
  return static_cast<uint32_t>(s) > 1 ? FilterTrailersStatus::StopIteration : s;
}
}  // namespace

FilterHeadersStatus Vm::onRequestHeaders(uint32_t stream, uint32_t headers, bool end_of_stream) {
  return normalize(streamCall(kOnRequestHeaders, stream, {stream, headers, end_of_stream ? 1u : 0u},
                              FilterHeadersStatus::StopAllIterationAndWatermark));
}

FilterDataStatus Vm::onRequestBody(uint32_t stream, uint32_t body_size, bool end_of_stream) {
  return normalize(streamCall(kOnRequestBody, stream, {stream, body_size, end_of_stream ? 1u : 0u},
                              FilterDataStatus::StopIterationNoBuffer));
}

FilterTrailersStatus Vm::onRequestTrailers(uint32_t stream, uint32_t trailers) {
  return normalize(streamCall(kOnRequestTrailers, stream, {stream, trailers},
                              FilterTrailersStatus::StopIteration));
}

FilterHeadersStatus Vm::onResponseHeaders(uint32_t stream, uint32_t headers, bool end_of_stream) {
  return normalize(streamCall(kOnResponseHeaders, stream,
                              {stream, headers, end_of_stream ? 1u : 0u},
                              FilterHeadersStatus::StopAllIterationAndWatermark));
}

FilterDataStatus Vm::onResponseBody(uint32_t stream, uint32_t body_size, bool end_of_stream) {
  return normalize(streamCall(kOnResponseBody, stream, {stream, body_size, end_of_stream ? 1u : 0u},
                              FilterDataStatus::StopIterationNoBuffer));
}

FilterTrailersStatus Vm::onResponseTrailers(uint32_t stream, uint32_t trailers) {
  return normalize(streamCall(kOnResponseTrailers, stream, {stream, trailers},
                              FilterTrailersStatus::StopIteration));
}

void Vm::endStream(uint32_t stream) {
  Context* c = context(stream);
  if (c == nullptr || c->root_id == stream) return;
  if (!failed_) {
    call(kOnLog, stream, {stream});
    call(kOnDone, stream, {stream});
    call(kOnDelete, stream, {stream});
  }
  contexts_.erase(stream);
}

// ---- root events ---------------------------------------------------------------------------

void Vm::onTick(uint32_t root) {
  if (context(root) != nullptr) call(kOnTick, root, {root});
}

void Vm::onQueueReady(uint32_t root, uint32_t queue_id) {
  if (context(root) != nullptr) call(kOnQueueReady, root, {root, queue_id});
}

void Vm::onHttpCallResponse(uint32_t root, uint32_t token, HttpCalloutAnswer response) {
  if (failed_ || context(root) == nullptr) return;
  CalloutResponse r{std::move(response.headers), std::move(response.trailers),
                    std::move(response.body)};
  if (r.headers.empty())
    callouts_.last_status = {static_cast<uint32_t>(WasmResult::BrokenConnection), "reset"};
  for (auto& [k, v] : r.headers) k = lowerAscii(k);
  callouts_.response = &r;
  call(kOnHttpCallResponse, root,
       {root, token, r.headers.size(), r.body.size(), r.trailers.size()});
  callouts_.response = nullptr;
}

void Vm::onGrpcReceiveInitialMetadata(uint32_t root, uint32_t token,
                                      std::vector<std::pair<std::string, std::string>> md) {
  if (failed_ || context(root) == nullptr) return;
  CalloutResponse r{std::move(md), {}, {}};
  callouts_.response = &r;
  call(kOnGrpcReceiveInitialMetadata, root, {root, token, r.headers.size()});
  callouts_.response = nullptr;
}

void Vm::onGrpcReceive(uint32_t root, uint32_t token, std::string message) {
  if (failed_ || context(root) == nullptr) return;
  callouts_.grpc_message = std::move(message);
  call(kOnGrpcReceive, root, {root, token, callouts_.grpc_message.size()});
  callouts_.grpc_message.clear();
}

void Vm::onGrpcReceiveTrailingMetadata(uint32_t root, uint32_t token,
                                       std::vector<std::pair<std::string, std::string>> md) {
  if (failed_ || context(root) == nullptr) return;
  CalloutResponse r{{}, std::move(md), {}};
  callouts_.response = &r;
  call(kOnGrpcReceiveTrailingMetadata, root, {root, token, r.trailers.size()});
  callouts_.response = nullptr;
}

void Vm::onGrpcClose(uint32_t root, uint32_t token, uint32_t status, std::string message) {
  if (failed_ || context(root) == nullptr) return;
  callouts_.grpc_streams.erase(token);
  callouts_.last_status = {status, std::move(message)};
  call(kOnGrpcClose, root, {root, token, status});
}

CallOutcome Vm::callExportForTest(int32_t fn, const std::vector<uint64_t>& args,
                                  uint32_t context_id) {
  if (failed_ || fn < 0) return {};
  uint64_t result = 0;
  const CallResult r = [&] {
    CallScope scope(*this, context_id, "(test export)", /*restricted=*/false);
    return instance_->call(fn, args.data(), args.size(), &result, 1,
                           deadlineAfter(config_.callback_deadline));
  }();
  if (!r.ok()) {
    fail("(test export)", !aborted_reason_.empty() ? aborted_reason_ : r.message);
    return {};
  }
  return {result, 1};
}

uint64_t Vm::memoryBytes() {
  return instance_ ? memoryView().size : 0;
}

// ---- memory helpers ------------------------------------------------------------------------

uint32_t Vm::allocate(uint32_t size) {
  uint64_t ptr = 0;
  const uint64_t arg = size;
  const CallResult r = [&] {
    // The allocator runs for the hostcall in progress: same contexts, same callback name.
    const uint32_t effective = effective_context_;
    CallScope scope(*this, current_context_, current_callback_, /*restricted=*/true);
    effective_context_ = effective;
    return instance_->call(callbacks_[kMalloc], &arg, 1, &ptr, 1, kNoDeadline);
  }();
  if (!r.ok()) {
    if (aborted_reason_.empty()) aborted_reason_ = "the allocator failed: " + r.message;
    return 0;
  }
  return static_cast<uint32_t>(ptr);
}

WasmResult Vm::copyOut(std::string_view data, uint32_t ptr_slot, uint32_t size_slot) {
  // Validate the slots before allocating, so a bad slot never leaks plugin memory.
  MemoryView m = memoryView();
  if (uint64_t{ptr_slot} + 4 > m.size || uint64_t{size_slot} + 4 > m.size) {
    return WasmResult::InvalidMemoryAccess;
  }
  if (data.empty()) {
    writeU32(ptr_slot, 0);
    writeU32(size_slot, 0);
    return WasmResult::Ok;
  }
  // `data` may point into wasm memory (it never does today) or host memory; the allocator may
  // grow and move the wasm memory, so copy into the fresh view afterwards.
  const uint32_t ptr = allocate(static_cast<uint32_t>(data.size()));
  if (ptr == 0)
    return aborted_reason_.empty() ? WasmResult::InvalidMemoryAccess : WasmResult::InternalFailure;
  m = memoryView();
  if (uint64_t{ptr} + data.size() > m.size) return WasmResult::InvalidMemoryAccess;
  std::memcpy(m.data + ptr, data.data(), data.size());
  writeU32(ptr_slot, ptr);
  writeU32(size_slot, static_cast<uint32_t>(data.size()));
  return WasmResult::Ok;
}

}  // namespace proxy_wasm::host
