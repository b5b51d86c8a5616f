// V8 (Debian's libnode108, V8 10.2) behind the Engine interface: the engine Envoy uses.
//
// One isolate and context per Engine (per thread), no Locker. Modules compile once and are shared
// across isolates through CompiledWasmModule. Runaway calls are stopped by one process-wide
// watchdog thread (watchdog.h) with TerminateExecution, which the guest cannot catch; termination
// is always cancelled after the outermost call that was flagged. A host function aborts the guest
// the same way (never with a JS exception, which wasm try/catch could swallow).
#include <libplatform/libplatform.h>
#include <v8.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include "proxy_wasm/host/engine.h"
#include "watchdog.h"

namespace proxy_wasm::host {
namespace {

// ---- process-wide V8 ---------------------------------------------------------------------------

void initializeV8Once() {
  static std::once_flag once;
  std::call_once(once, [] {
    static std::unique_ptr<v8::Platform> platform = v8::platform::NewDefaultPlatform();
    v8::V8::InitializePlatform(platform.get());
    v8::V8::EnableWebAssemblyTrapHandler(true);
    v8::V8::Initialize();
  });
}

// Stops a call with TerminateExecution, which the guest cannot catch.
struct V8Calls : FencedCalls {
  v8::Isolate* isolate = nullptr;
  void stop() override { isolate->TerminateExecution(); }
};

class V8Module : public CompiledModule {
 public:
  explicit V8Module(v8::CompiledWasmModule compiled) : compiled_(std::move(compiled)) {}
  const v8::CompiledWasmModule& compiled() const { return compiled_; }

 private:
  v8::CompiledWasmModule compiled_;
};

class V8Engine;
class V8Instance;

struct HostBinding {
  HostFunction fn;
  void* user;
  FuncType type;
  V8Engine* engine;
  V8Instance* instance;  // whose memory fields are refreshed on entry: wasm ran, it may have grown
};

void hostCallback(const v8::FunctionCallbackInfo<v8::Value>& info);

std::string exceptionText(v8::Isolate* iso, v8::Local<v8::Context> ctx, v8::TryCatch& tc) {
  if (!tc.HasCaught()) return "unknown error";
  v8::Local<v8::Value> ex = tc.Exception();
  std::string text;
  v8::String::Utf8Value message(iso, ex);
  if (*message != nullptr) text = *message;
  // The first wasm frame names the function (when the module has a name section).
  if (ex->IsObject()) {
    v8::Local<v8::Value> stack;
    if (ex.As<v8::Object>()
            ->Get(ctx, v8::String::NewFromUtf8Literal(iso, "stack"))
            .ToLocal(&stack) &&
        stack->IsString()) {
      v8::String::Utf8Value s(iso, stack);
      std::string st = *s != nullptr ? *s : "";
      size_t at = st.find("\n    at ");
      if (at != std::string::npos) {
        size_t end = st.find(" (", at);
        size_t nl = st.find('\n', at + 1);
        if (end != std::string::npos && (nl == std::string::npos || end < nl)) {
          text += " in " + st.substr(at + 8, end - at - 8);
        }
      }
    }
  }
  return text;
}

class V8Engine : public Engine {
 public:
  V8Engine() {
    initializeV8Once();
    allocator_.reset(v8::ArrayBuffer::Allocator::NewDefaultAllocator());
    v8::Isolate::CreateParams params;
    params.array_buffer_allocator = allocator_.get();
    isolate_ = v8::Isolate::New(params);
    // Plugins run no promises: no microtask checkpoint after every outermost call.
    isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
    state_ = std::make_shared<V8Calls>();
    state_->isolate = isolate_;
    Watchdog::watch(state_);
    v8::Isolate::Scope is(isolate_);
    v8::HandleScope hs(isolate_);
    v8::Local<v8::Context> ctx = v8::Context::New(isolate_);
    context_.Reset(isolate_, ctx);
    v8::Context::Scope cs(ctx);
    v8::Local<v8::Object> wa =
        ctx->Global()
            ->Get(ctx, v8::String::NewFromUtf8Literal(isolate_, "WebAssembly"))
            .ToLocalChecked()
            .As<v8::Object>();
    instance_ctor_.Reset(isolate_,
                         wa->Get(ctx, v8::String::NewFromUtf8Literal(isolate_, "Instance"))
                             .ToLocalChecked()
                             .As<v8::Function>());
  }

  ~V8Engine() override {
    releaseThread();
    Watchdog::unwatch(state_.get());
    instance_ctor_.Reset();
    context_.Reset();
    isolate_->Dispose();
  }

  std::string_view name() const override { return "v8"; }

  std::shared_ptr<CompiledModule> compile(const std::string& bytes, std::string_view /*origin*/,
                                          std::string* error) override {
    v8::Isolate::Scope is(isolate_);
    v8::HandleScope hs(isolate_);
    v8::Local<v8::Context> ctx = context_.Get(isolate_);
    v8::Context::Scope cs(ctx);
    v8::TryCatch tc(isolate_);
    v8::Local<v8::WasmModuleObject> module;
    if (!v8::WasmModuleObject::Compile(
             isolate_, v8::MemorySpan<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                     bytes.size()))
             .ToLocal(&module)) {
      *error = "invalid module: " + exceptionText(isolate_, ctx, tc);
      return nullptr;
    }
    return std::make_shared<V8Module>(module->GetCompiledModule());
  }

  std::unique_ptr<Instance> instantiate(const CompiledModule& module,
                                        const std::vector<ImportBinding>& imports, void* user_data,
                                        std::string* error) override;

  v8::Isolate* isolate() const { return isolate_; }
  v8::Local<v8::Context> context() const { return context_.Get(isolate_); }

  // Entering the isolate and its context is a third of the cost of an empty call. So the
  // outermost call of a thread with no isolate entered leaves them entered afterwards, and the
  // next call finds them so. Under another isolate (an engine being set up on this thread) the
  // call enters through `scope` and leaves again. At most one engine per thread is left entered.
  void enterForCall(std::optional<v8::Isolate::Scope>& scope) {
    v8::Isolate* current = v8::Isolate::GetCurrent();
    if (current == isolate_) return;
    if (current != nullptr) {
      scope.emplace(isolate_);
      return;
    }
    isolate_->Enter();
    // Kept while the isolate stays entered: without a live outer scope every call's scope would
    // be the outermost one, allocating a handle block on its first handle and freeing it on exit.
    outer_scope_.emplace(isolate_);
    entered_context_ = context();  // a handle of outer_scope_: valid while entered_
    entered_context_->Enter();
    entered_ = true;
  }

  void releaseThread() override {
    if (!entered_ || v8::Isolate::GetCurrent() != isolate_) return;
    entered_context_->Exit();
    entered_context_.Clear();
    outer_scope_.reset();
    isolate_->Exit();
    entered_ = false;
  }

  // Outermost call bookkeeping: arms the watchdog.
  void beginCall(Deadline deadline) {
    state_->begin(deadline);
    abort_requested_ = false;
  }
  // Returns true when the watchdog (or interrupt) terminated the call.
  bool endCall() { return state_->end(); }
  void interrupt() { state_->interrupt(); }
  // Called from a host function that wants the guest gone.
  void abortFromHost() {
    abort_requested_ = true;
    isolate_->TerminateExecution();
  }
  bool abortRequested() const { return abort_requested_; }

  int depth = 0;
  bool entered_ = false;  // left entered by enterForCall (on the thread that made the call)
  std::optional<v8::HandleScope> outer_scope_;  // while entered_ (see enterForCall)
  v8::Local<v8::Context> entered_context_;      // while entered_: the context, entered
  v8::Local<v8::Context> call_context_;         // during an outermost call: the context it runs in

 private:
  std::unique_ptr<v8::ArrayBuffer::Allocator> allocator_;
  v8::Isolate* isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  v8::Global<v8::Function> instance_ctor_;
  std::shared_ptr<V8Calls> state_;
  bool abort_requested_ = false;
  friend class V8Instance;
};

class V8Instance : public Instance {
 public:
  explicit V8Instance(V8Engine& engine) : engine_(engine) {}
  ~V8Instance() override {
    backing_store_.reset();
    functions_.clear();
    memory_.Reset();
    exports_.Reset();
  }

  bool init(const V8Module& module, const std::vector<ImportBinding>& imports, void* user,
            std::string* error) {
    v8::Isolate* iso = engine_.isolate_;
    v8::Isolate::Scope is(iso);
    v8::HandleScope hs(iso);
    v8::Local<v8::Context> ctx = engine_.context();
    v8::Context::Scope cs(ctx);
    v8::TryCatch tc(iso);
    v8::Local<v8::WasmModuleObject> mod;
    if (!v8::WasmModuleObject::FromCompiledModule(iso, module.compiled()).ToLocal(&mod)) {
      *error = "cannot load compiled module: " + exceptionText(iso, ctx, tc);
      return false;
    }
    v8::Local<v8::Object> import_object = v8::Object::New(iso);
    std::map<std::string, v8::Local<v8::Object>> namespaces;
    for (const ImportBinding& imp : imports) {
      bindings_.push_back(HostBinding{imp.function, user, imp.type, &engine_, this});
      auto [it, inserted] = namespaces.emplace(imp.module, v8::Local<v8::Object>());
      if (inserted) {
        it->second = v8::Object::New(iso);
        import_object
            ->Set(ctx, v8::String::NewFromUtf8(iso, imp.module.c_str()).ToLocalChecked(),
                  it->second)
            .Check();
      }
      v8::Local<v8::Function> fn =
          v8::Function::New(ctx, hostCallback, v8::External::New(iso, &bindings_.back()),
                            static_cast<int>(imp.type.params.size()),
                            v8::ConstructorBehavior::kThrow)
              .ToLocalChecked();
      it->second->Set(ctx, v8::String::NewFromUtf8(iso, imp.name.c_str()).ToLocalChecked(), fn)
          .Check();
    }
    v8::Local<v8::Value> argv[] = {mod, import_object};
    v8::Local<v8::Object> instance;
    if (!engine_.instance_ctor_.Get(iso)->NewInstance(ctx, 2, argv).ToLocal(&instance)) {
      *error = "instantiation failed: " + exceptionText(iso, ctx, tc);
      return false;
    }
    v8::Local<v8::Object> exports =
        instance->Get(ctx, v8::String::NewFromUtf8Literal(iso, "exports"))
            .ToLocalChecked()
            .As<v8::Object>();
    exports_.Reset(iso, exports);
    v8::Local<v8::Value> memory;
    if (exports->Get(ctx, v8::String::NewFromUtf8Literal(iso, "memory")).ToLocal(&memory) &&
        memory->IsWasmMemoryObject()) {
      memory_.Reset(iso, memory.As<v8::WasmMemoryObject>());
      checkMemory();
    }
    return true;
  }

  MemoryView memory() override { return MemoryView{memory_data_, memory_size_}; }
  MemoryFields memoryFields() override {
    if (memory_.IsEmpty()) return {};
    return MemoryFields{&memory_data_, &memory_size_};
  }

  // The memory's base and size are kept current whenever host code can read them: refreshed
  // when a host function is entered and when a call returns (only running wasm can grow the
  // memory), so the host reads two fields instead of calling into the engine. Two ways:
  //  - checkMemory: at instantiation and at the first host function of each outermost call,
  //    through the memory object's current buffer (a handle scope and three API calls); the
  //    buffer's backing store is kept;
  //  - refreshMemory: the kept backing store's length (one API call). V8 grows a wasm memory in
  //    place within its reservation (with the trap handler, the whole 4 GiB plus guard regions),
  //    updating the store's length, so the store and its base stay the memory's.
  // A 4 GiB memory reads as 4 GiB - 1 bytes (the size field is 32 bits, as wasm2c's).
  void enterHost() { backing_store_checked_ ? refreshMemory() : checkMemory(); }
  void refreshMemory() {
    if (!backing_store_) return;  // no memory
    memory_size_ = static_cast<uint32_t>(
        std::min<size_t>(backing_store_->ByteLength(), std::numeric_limits<uint32_t>::max()));
  }
  [[gnu::noinline]] void checkMemory() {  // once per outermost call: kept out of the hostcall
    if (memory_.IsEmpty()) return;
    v8::Isolate* iso = engine_.isolate_;
    v8::HandleScope hs(iso);
    v8::Local<v8::ArrayBuffer> buffer = memory_.Get(iso)->Buffer();
    if (!backing_store_ || backing_store_->Data() != buffer->Data()) {
      backing_store_ = buffer->GetBackingStore();
      memory_data_ = static_cast<uint8_t*>(backing_store_->Data());
    }
    backing_store_checked_ = engine_.depth > 0;  // checked for the rest of this call
    refreshMemory();
  }

  int32_t findFunction(std::string_view name) override {
    v8::Isolate* iso = engine_.isolate_;
    v8::Isolate::Scope is(iso);
    v8::HandleScope hs(iso);
    v8::Local<v8::Context> ctx = engine_.context();
    v8::Context::Scope cs(ctx);
    v8::Local<v8::Value> v;
    if (!exports_.Get(iso)
             ->Get(ctx, v8::String::NewFromUtf8(iso, std::string(name).c_str()).ToLocalChecked())
             .ToLocal(&v) ||
        !v->IsFunction()) {
      return -1;
    }
    functions_.emplace_back(iso, v.As<v8::Function>());
    return static_cast<int32_t>(functions_.size() - 1);
  }

  CallResult call(int32_t function, const uint64_t* args, size_t num_args, uint64_t* results,
                  size_t num_results, Deadline deadline) override {
    CallResult out;
    if (function < 0 || static_cast<size_t>(function) >= functions_.size()) {
      out.status = CallResult::Status::Trap;
      out.message = "no such function";
      return out;
    }
    v8::Isolate* iso = engine_.isolate_;
    // A nested call (the allocator, from inside a host function) is already in the isolate and
    // its context; only the outermost call enters them.
    const bool outer = engine_.depth == 0;
    std::optional<v8::Isolate::Scope> isolate_scope;
    if (outer) engine_.enterForCall(isolate_scope);
    // A nested call runs inside a host function, whose handle scope (V8 opens one around every
    // API callback) holds the few handles made here until the host function returns.
    std::optional<v8::HandleScope> hs;
    if (outer) hs.emplace(iso);
    // Left entered by an earlier call (the usual case), the isolate's current context is ours and
    // needs no lookup; a nested call runs in its outermost call's context.
    const bool left_entered = outer && !isolate_scope && engine_.entered_;
    v8::Local<v8::Context> ctx = left_entered ? engine_.entered_context_
                                 : outer      ? engine_.context()
                                              : engine_.call_context_;
    std::optional<v8::Context::Scope> context_scope;
    if (outer && !left_entered && (!iso->InContext() || iso->GetCurrentContext() != ctx)) {
      context_scope.emplace(ctx);
    }
    if (outer) engine_.call_context_ = ctx;
    v8::Local<v8::Function> fn = functions_[function].Get(iso);
    // Only the arguments passed are constructed: zeroing all kMaxCallSlots handles (a `rep stos`)
    // was an eighth of an empty call.
    alignas(v8::Local<v8::Value>) unsigned char
        argv_storage[kMaxCallSlots * sizeof(v8::Local<v8::Value>)];
    auto* argv = reinterpret_cast<v8::Local<v8::Value>*>(argv_storage);
    num_args = std::min<size_t>(num_args, kMaxCallSlots);
    for (size_t i = 0; i < num_args; ++i) {
      new (&argv[i]) v8::Local<v8::Value>(
          v8::Integer::New(iso, static_cast<int32_t>(static_cast<uint32_t>(args[i]))));
    }
    ++engine_.depth;
    if (outer) {
      engine_.beginCall(deadline);
      backing_store_checked_ = false;
    }
    v8::TryCatch tc(iso);
    v8::MaybeLocal<v8::Value> maybe =
        fn->Call(ctx, v8::Undefined(iso), static_cast<int>(num_args), argv);
    --engine_.depth;
    refreshMemory();
    if (outer) backing_store_checked_ = false;
    bool killed = outer ? engine_.endCall() : false;
    bool aborted = engine_.abortRequested();
    v8::Local<v8::Value> value;
    if (!maybe.ToLocal(&value) || killed || aborted) {
      bool terminated = tc.HasTerminated() || killed || aborted;
      if (terminated) {
        out.status = aborted ? CallResult::Status::Trap : CallResult::Status::Timeout;
        out.message = aborted ? "aborted by the host" : "deadline exceeded";
        if (outer) iso->CancelTerminateExecution();
      } else {
        out.status = CallResult::Status::Trap;
        out.message = exceptionText(iso, ctx, tc);
      }
      return out;
    }
    if (num_results > 0) {
      if (value->IsBigInt()) {
        results[0] = value.As<v8::BigInt>()->Uint64Value();
      } else {
        results[0] = static_cast<uint32_t>(value->Int32Value(ctx).FromMaybe(0));
      }
    }
    return out;
  }

  void interrupt() override { engine_.interrupt(); }

 private:
  V8Engine& engine_;
  std::deque<HostBinding> bindings_;
  v8::Global<v8::Object> exports_;
  v8::Global<v8::WasmMemoryObject> memory_;
  std::vector<v8::Global<v8::Function>> functions_;
  uint8_t* memory_data_ = nullptr;  // see refreshMemory
  uint32_t memory_size_ = 0;
  std::shared_ptr<v8::BackingStore> backing_store_;  // the memory's, as last checked
  bool backing_store_checked_ = false;               // checked during the running outer call
};

void hostCallback(const v8::FunctionCallbackInfo<v8::Value>& info) {
  auto* b = static_cast<HostBinding*>(info.Data().As<v8::External>()->Value());
  b->instance->enterHost();
  v8::Isolate* iso = info.GetIsolate();
  // Outside a call (a start function run by instantiation) there is no call context yet.
  const v8::Local<v8::Context> ctx =
      b->engine->depth > 0 ? b->engine->call_context_ : iso->GetCurrentContext();
  // Not zeroed (a `rep stos` of 128 bytes on every hostcall): the first n slots are set below,
  // and a host function reads only its own parameters.
  uint64_t in[kMaxCallSlots];
  uint64_t out[2] = {};
  const size_t n = b->type.params.size() < kMaxCallSlots ? b->type.params.size() : kMaxCallSlots;
  for (size_t i = 0; i < n; ++i) {
    v8::Local<v8::Value> a = info[static_cast<int>(i)];
    if (b->type.params[i] == ValType::I64) {
      in[i] = a->IsBigInt() ? a.As<v8::BigInt>()->Uint64Value() : 0;
    } else {
      // One API call (a Number's fast path) where IsInt32 and Value were two.
      in[i] = static_cast<uint32_t>(a->Int32Value(ctx).FromMaybe(0));
    }
  }
  if (!b->fn(b->user, in, out)) {
    b->engine->abortFromHost();
    return;
  }
  if (!b->type.results.empty()) {
    if (b->type.results[0] == ValType::I64) {
      info.GetReturnValue().Set(v8::BigInt::NewFromUnsigned(iso, out[0]));
    } else {
      info.GetReturnValue().Set(static_cast<int32_t>(static_cast<uint32_t>(out[0])));
    }
  }
}

std::unique_ptr<Instance> V8Engine::instantiate(const CompiledModule& module,
                                                const std::vector<ImportBinding>& imports,
                                                void* user_data, std::string* error) {
  auto instance = std::make_unique<V8Instance>(*this);
  if (!instance->init(static_cast<const V8Module&>(module), imports, user_data, error)) {
    return nullptr;
  }
  return instance;
}

}  // namespace

std::unique_ptr<Engine> createV8Engine(std::string* /*error*/) {
  return std::make_unique<V8Engine>();
}

}  // namespace proxy_wasm::host
