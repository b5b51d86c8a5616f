// wasm2c behind the Engine interface: plugins translated to C and compiled ahead of time into a
// shared object (wasm2c_build.h), loaded with dlopen and called like C functions.
//
// The sandbox, as on the other engines:
//  - memory: every load and store is bounds-checked by the generated code (no signal handler, no
//    guard-page reservations); the cap is the module's maximum, rewritten by PluginCode;
//  - traps (OOB, unreachable, call stack over 2,000 frames, a host function refusing) unwind with
//    longjmp to the call's frame in call(); only C frames of the artefact are skipped;
//  - the CPU deadline: the process-wide watchdog (watchdog.h) sends the worker thread a real-time
//    signal tagged with the call's generation. The handler unwinds like a trap only when the
//    thread is in the plugin's own code (state.in_wasm); inside a hostcall or an allocation it
//    sets state.pending_timeout, and the call unwinds as soon as control comes back to the plugin.
//    A signal for an earlier call (its generation) is ignored. The signal is installed with
//    SA_NODEFER, so leaving the handler with longjmp leaves the signal unblocked.
//
// An artefact is searched next to the module's file (`name.wasm2c.so`, made by the build), then
// in the cache folder by sha256; without one it is built into the cache, with a log line saying
// how long it took. Artefacts stay loaded for the life of the process.
#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "proxy_wasm/host/engine.h"
#include "proxy_wasm/host/module_info.h"
#include "proxy_wasm/host/wasm2c_build.h"
#include "watchdog.h"

namespace proxy_wasm::host {
namespace {

// The artefact's C interface (wasm2c_runtime.c).
extern "C" {
enum { PWX_TRAP_HOST_ABORT = 100, PWX_TRAP_TIMEOUT = 101 };
struct pwx_w2c_host {
  [[noreturn]] void (*trap)(int code);
  void (*outside_wasm)(int outside);
};
struct pwx_w2c_binding {
  HostFunction fn;
  void* user;
};
struct pwx_w2c_memory {  // wasm_rt_memory_t
  uint8_t* data;
  uint32_t pages, max_pages, size;
};
struct pwx_w2c_state {
  volatile int in_wasm;
  volatile int pending_timeout;
  uint32_t depth;
  pwx_w2c_memory* memory;
};
struct pwx_w2c_export {
  const char* name;
  void (*call)(void* instance, const uint64_t* args, uint64_t* results);
  uint32_t num_params;
};
struct pwx_w2c_api {
  int interface_version;
  const char* stamp;
  void (*init)(const pwx_w2c_host* host);
  void* (*create)(const pwx_w2c_binding* bindings, uint32_t num_bindings);
  void (*instantiate)(void* instance);
  void (*destroy)(void* instance, int instantiated);
  pwx_w2c_state* (*state)(void* instance);
  uint32_t num_exports;
  const pwx_w2c_export* exports;
};
}
constexpr int kInterfaceVersion = 2;

// One call into an instance, innermost first. Lives on the stack of Wasm2cInstance::call.
struct Frame {
  jmp_buf buf;
  pwx_w2c_state* state;
};

// The thread's innermost frame and the generation of its armed outermost call (0: none). Plain
// thread_locals of the executable: readable from a signal handler.
thread_local Frame* t_frame = nullptr;
thread_local uint64_t t_generation = 0;
thread_local uint64_t t_next_generation = 0;

[[noreturn]] void trapToFrame(int code) {
  Frame* f = t_frame;
  f->state->in_wasm = 0;
  longjmp(f->buf, code);
}

void outsideWasm(int outside) {
  Frame* f = t_frame;
  if (f == nullptr) return;
  f->state->in_wasm = outside ? 0 : 1;
  if (!outside && f->state->pending_timeout) trapToFrame(PWX_TRAP_TIMEOUT);
}

const pwx_w2c_host kHost{trapToFrame, outsideWasm};

int deadlineSignal() {
  return SIGRTMIN + 3;
}

void onDeadlineSignal(int, siginfo_t* info, void*) {
  Frame* f = t_frame;
  const auto generation = reinterpret_cast<uintptr_t>(info->si_value.sival_ptr);
  if (f == nullptr || t_generation == 0 || generation != t_generation) return;
  f->state->pending_timeout = 1;
  if (f->state->in_wasm) trapToFrame(PWX_TRAP_TIMEOUT);
}

bool installSignalHandler(std::string* error) {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] {
    struct sigaction sa{};
    sa.sa_sigaction = onDeadlineSignal;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    result = sigaction(deadlineSignal(), &sa, nullptr) == 0 ? 0 : errno;
  });
  if (result != 0)
    *error = std::string("cannot install the wasm2c deadline signal: ") + std::strerror(result);
  return result == 0;
}

// A loaded artefact, shared by the modules and instances made from it.
struct Artefact {
  const pwx_w2c_api* api = nullptr;
};

// Loads `path` if its stamp is `stamp`; nullptr (with the reason in `why`) otherwise.
std::shared_ptr<Artefact> load(const std::string& path, const std::string& stamp,
                               std::string* why) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<Artefact>> loaded;  // by stamp: one per module
  std::lock_guard lock(mu);
  if (auto it = loaded.find(stamp); it != loaded.end()) return it->second;
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    *why = e != nullptr ? e : "dlopen failed";
    return nullptr;
  }
  auto get = reinterpret_cast<const pwx_w2c_api* (*)()>(dlsym(handle, "pwx_w2c_get"));
  const pwx_w2c_api* api = get != nullptr ? get() : nullptr;
  if (api == nullptr || api->interface_version != kInterfaceVersion || stamp != api->stamp) {
    *why = api == nullptr ? "not a wasm2c artefact" : "made from another module or toolchain";
    dlclose(handle);
    return nullptr;
  }
  api->init(&kHost);
  auto artefact = std::make_shared<Artefact>();
  artefact->api = api;
  loaded.emplace(stamp, artefact);
  return artefact;
}

class Wasm2cModule : public CompiledModule {
 public:
  explicit Wasm2cModule(std::shared_ptr<Artefact> a) : artefact(std::move(a)) {}
  std::shared_ptr<Artefact> artefact;
};

// Sends the deadline signal to the engine's thread, tagged with the call's generation.
struct SignalledCalls : TaggedCalls {
  pthread_t thread = pthread_self();
  void stop(uint64_t generation) override {
    union sigval value;
    value.sival_ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(generation));
    pthread_sigqueue(thread, deadlineSignal(), value);
  }
};

class Wasm2cEngine;

class Wasm2cInstance : public Instance {
 public:
  Wasm2cInstance(Wasm2cEngine& engine, std::shared_ptr<Artefact> artefact, void* instance)
      : engine_(engine),
        artefact_(std::move(artefact)),
        instance_(instance),
        state_(artefact_->api->state(instance)),
        exports_(artefact_->api->exports),
        num_exports_(artefact_->api->num_exports) {}
  ~Wasm2cInstance() override { artefact_->api->destroy(instance_, instantiated_); }

  bool instantiate(std::string* error) {
    CallResult r = run(
        [](void* self, const uint64_t*, uint64_t*) {
          auto* me = static_cast<Wasm2cInstance*>(self);
          me->artefact_->api->instantiate(me->instance_);
        },
        this, nullptr, nullptr, kNoDeadline);
    instantiated_ = true;
    if (!r.ok()) *error = r.message;
    return r.ok();
  }

  MemoryView memory() override {
    if (state_->memory == nullptr) return {};
    return MemoryView{state_->memory->data, state_->memory->size};
  }
  MemoryFields memoryFields() override {
    if (state_->memory == nullptr) return {};
    return MemoryFields{&state_->memory->data, &state_->memory->size};
  }

  int32_t findFunction(std::string_view name) override {
    for (uint32_t i = 0; i < num_exports_; ++i) {
      if (name == exports_[i].name) return static_cast<int32_t>(i);
    }
    return -1;
  }

  CallResult call(int32_t function, const uint64_t* args, size_t num_args, uint64_t* results,
                  size_t num_results, Deadline deadline) override {
    if (function < 0 || static_cast<uint32_t>(function) >= num_exports_) {
      return CallResult{CallResult::Status::Trap, "no such function"};
    }
    const pwx_w2c_export& e = exports_[function];
    // The trampoline reads its parameters straight from `args`: a copy's jump table or
    // `rep movsq` cost more than the rest of the call. A parameter not passed is 0, as on the
    // other engines (a slow path: the host passes them all).
    uint64_t padded[kMaxCallSlots];  // e.num_params <= kMaxCallSlots (wasm2c_build.cc)
    if (num_args < e.num_params) [[unlikely]] {
      for (size_t i = 0; i < kMaxCallSlots; ++i) padded[i] = i < num_args ? args[i] : 0;
      args = padded;
    }
    uint64_t out[2] = {0, 0};
    CallResult r = run(e.call, instance_, args, out, deadline);
    for (size_t i = 0; r.ok() && i < num_results && i < 2; ++i) results[i] = out[i];
    return r;
  }

  void interrupt() override;

 private:
  using Entry = void (*)(void*, const uint64_t*, uint64_t*);
  CallResult run(Entry entry, void* target, const uint64_t* args, uint64_t* results,
                 Deadline deadline);

  Wasm2cEngine& engine_;
  std::shared_ptr<Artefact> artefact_;
  void* instance_;
  pwx_w2c_state* state_;
  // The artefact's export table, kept here: a call then reads no other object of the artefact
  // (through a busy proxy each is a cache miss: about 35 ns per call in a profile of the proxy).
  const pwx_w2c_export* exports_;
  uint32_t num_exports_;
  bool instantiated_ = false;
};

// Runs entry under a frame: 0 when it returned, else the trap code. Kept apart so nothing with a
// destructor lives between setjmp and a longjmp to it.
__attribute__((noinline)) int runInFrame(Frame& frame,
                                         void (*entry)(void*, const uint64_t*, uint64_t*),
                                         void* target, const uint64_t* args, uint64_t* results) {
  int code = setjmp(frame.buf);
  if (code == 0) {
    frame.state->in_wasm = 1;
    entry(target, args, results);
    frame.state->in_wasm = 0;
  }
  return code;
}

std::string trapMessage(int code) {
  switch (code) {
    case 1:
      return "out of bounds memory or table access";
    case 2:
      return "integer overflow";
    case 3:
      return "integer divide by zero";
    case 4:
      return "invalid conversion to integer";
    case 5:
      return "unreachable";
    case 6:
      return "indirect call signature mismatch or null entry";
    case 7:
      return "uncaught exception";
    case 8:
      return "call stack exhausted";
    case PWX_TRAP_HOST_ABORT:
      return "aborted by the host";
    default:
      return "trap " + std::to_string(code);
  }
}

class Wasm2cEngine : public Engine {
 public:
  Wasm2cEngine() : calls_(std::make_shared<SignalledCalls>()) { Watchdog::watch(calls_); }
  ~Wasm2cEngine() override { Watchdog::unwatch(calls_.get()); }

  std::string_view name() const override { return "wasm2c"; }

  std::shared_ptr<CompiledModule> compile(const std::string& bytes, std::string_view origin,
                                          std::string* error) override {
    const std::string& tools = wasm2c::toolchain(error);
    if (tools.empty()) return nullptr;
    const std::string sha = sha256Hex(bytes);
    const std::string stamp = wasm2c::stampFor(sha, tools);
    std::string why;
    if (!origin.empty()) {
      const std::string next_to = wasm2c::artefactNextTo(origin);
      if (std::filesystem::exists(next_to)) {
        if (auto a = load(next_to, stamp, &why)) return std::make_shared<Wasm2cModule>(a);
        engineLog("wasm2c: not using " + next_to + ": " + why);
      }
    }
    const std::string cached =
        wasm2c::cacheDir() + "/" + sha + "-" + sha256Hex(stamp).substr(0, 12) + ".so";
    if (std::filesystem::exists(cached)) {
      if (auto a = load(cached, stamp, &why)) return std::make_shared<Wasm2cModule>(a);
    }
    auto info = parseModule(bytes, error);
    if (!info) return nullptr;
    std::chrono::duration<double> took{};
    if (!wasm2c::build(bytes, *info, cached, &took, error)) return nullptr;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", took.count());
    engineLog("wasm2c: compiled module sha256 " + sha.substr(0, 12) + " in " + seconds +
              " s into " + cached);
    auto a = load(cached, stamp, &why);
    if (!a) {
      *error = "cannot load the wasm2c artefact " + cached + ": " + why;
      return nullptr;
    }
    return std::make_shared<Wasm2cModule>(a);
  }

  std::unique_ptr<Instance> instantiate(const CompiledModule& module,
                                        const std::vector<ImportBinding>& imports, void* user_data,
                                        std::string* error) override {
    const auto& artefact = static_cast<const Wasm2cModule&>(module).artefact;
    std::vector<pwx_w2c_binding> bindings;
    for (const auto& imp : imports) bindings.push_back(pwx_w2c_binding{imp.function, user_data});
    void* raw = artefact->api->create(bindings.data(), static_cast<uint32_t>(bindings.size()));
    if (raw == nullptr) {
      *error = "import count mismatch";
      return nullptr;
    }
    auto instance = std::make_unique<Wasm2cInstance>(*this, artefact, raw);
    if (!instance->instantiate(error)) return nullptr;
    return instance;
  }

  // The outermost call arms the watchdog under a new generation. A stop reported for an earlier
  // generation is ignored by the signal handler, so ending a call needs no handshake.
  void begin(Deadline deadline) {
    // Counted per thread, not per engine: a thread may hold several engines (a test's
    // harnesses), and a late signal for one engine's call must never match another's.
    const uint64_t g = ++t_next_generation;
    t_generation = g;
    calls_->begin(deadline, g);
  }
  void end() {
    calls_->end();
    t_generation = 0;
  }
  void interrupt() { calls_->interrupt(); }

  int depth = 0;

 private:
  std::shared_ptr<SignalledCalls> calls_;
};

CallResult Wasm2cInstance::run(Entry entry, void* target, const uint64_t* args, uint64_t* results,
                               Deadline deadline) {
  Frame frame;
  frame.state = state_;
  Frame* outer_frame = t_frame;
  const int saved_in_wasm = state_->in_wasm;
  const uint32_t saved_depth = state_->depth;
  const bool outer = engine_.depth == 0;
  if (outer) {
    state_->pending_timeout = 0;
    engine_.begin(deadline);
  }
  ++engine_.depth;
  t_frame = &frame;
  const int code = runInFrame(frame, entry, target, args, results);
  t_frame = outer_frame;
  --engine_.depth;
  state_->in_wasm = saved_in_wasm;
  if (outer) engine_.end();
  CallResult r;
  if (code == 0) return r;
  state_->depth = saved_depth;
  if (code == PWX_TRAP_TIMEOUT) {
    r.status = CallResult::Status::Timeout;
    r.message = "deadline exceeded";
  } else {
    r.status = CallResult::Status::Trap;
    r.message = trapMessage(code);
  }
  return r;
}

void Wasm2cInstance::interrupt() {
  engine_.interrupt();
}

}  // namespace

std::unique_ptr<Engine> createWasm2cEngine(std::string* error) {
  if (!installSignalHandler(error)) return nullptr;
  if (wasm2c::toolchain(error).empty()) return nullptr;
  return std::make_unique<Wasm2cEngine>();
}

}  // namespace proxy_wasm::host
