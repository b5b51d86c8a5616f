// The engine interface: the only place the host touches a Wasm runtime.
//
// An Engine is bound to one thread (V8: one isolate per thread) and is only used from it. It
// compiles modules into CompiledModules, which are immutable and may be shared with the Engines
// of other threads of the same kind, and instantiates them with host functions bound to imports.
// An Instance is one linear memory plus its exports; calls run under a deadline and can be
// interrupted from any thread. Engines know nothing of proxy-wasm.
//
// This header is C++17 so the wabt translation units (which need C++17) can include it.
#pragma once

#include <time.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace proxy_wasm::host {

enum class ValType : uint8_t { I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c };

struct FuncType {
  std::vector<ValType> params;
  std::vector<ValType> results;
  bool operator==(const FuncType& o) const { return params == o.params && results == o.results; }
  bool operator!=(const FuncType& o) const { return !(*this == o); }
};
// "(i32, i32) -> i32"
std::string toString(const FuncType& type);

// A host function bound to an import. Arguments and results are raw 64-bit slots (an i32 is the
// low 32 bits). Returning false aborts the calling wasm code: the engine unwinds it as a trap that
// the guest cannot catch. The function records the reason itself (in its user data).
using HostFunction = bool (*)(void* user_data, const uint64_t* args, uint64_t* results);
// The most argument slots an engine passes to a host function or an export.
inline constexpr size_t kMaxCallSlots = 16;

struct ImportBinding {
  std::string module;
  std::string name;
  FuncType type;
  HostFunction function;
};

struct MemoryView {
  uint8_t* data = nullptr;
  size_t size = 0;
};

// Where an engine keeps the memory's base and byte size, when both are plain fields at addresses
// fixed for the instance's life and current whenever host code runs (wasm2c's own fields; V8's
// copies, refreshed when wasm enters the host and when a call returns): the host reads them with
// two loads instead of a call.
struct MemoryFields {
  uint8_t* const* data = nullptr;
  const uint32_t* size = nullptr;
};

struct CallResult {
  enum class Status { Ok, Trap, Timeout };
  Status status = Status::Ok;
  std::string message;  // trap message (with the wasm function name when the module has names)
  bool ok() const { return status == Status::Ok; }
};

using Deadline = std::chrono::steady_clock::time_point;
constexpr Deadline kNoDeadline = Deadline::max();

// now + timeout on steady_clock's time line, read from the coarse monotonic clock (a few ns
// instead of ~20; its resolution of a few ms is ample for CPU deadlines of many ms).
inline Deadline deadlineAfter(std::chrono::milliseconds timeout) {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Deadline(std::chrono::duration_cast<Deadline::duration>(
             std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec))) +
         timeout;
}

// A point of steady_clock's time line in nanoseconds.
inline int64_t steadyNs(Deadline d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d.time_since_epoch()).count();
}

class CompiledModule {
 public:
  virtual ~CompiledModule() = default;
};

class Instance {
 public:
  virtual ~Instance() = default;
  // The linear memory. Valid until the next call into wasm (memory.grow may move it).
  virtual MemoryView memory() = 0;
  // The memory's fields, if the engine keeps them as MemoryFields describes; {} otherwise.
  virtual MemoryFields memoryFields() { return {}; }
  // Looks up an exported function; returns a handle for call(), or -1 when absent. Each lookup
  // creates a handle: resolve a name once and keep the handle (the Vm does).
  virtual int32_t findFunction(std::string_view name) = 0;
  // Calls an export. `args` are i32 values (every export a proxy-wasm host calls takes i32
  // parameters); `results` receives raw slots as for HostFunction.
  virtual CallResult call(int32_t function, const uint64_t* args, size_t num_args,
                          uint64_t* results, size_t num_results, Deadline deadline) = 0;
  // Thread-safe: makes the running call (if any) return Timeout as soon as possible.
  virtual void interrupt() = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;
  // Compiles (and validates) a module. Thread-compatible; the result is shareable. `origin` is
  // the file the module was read from ("" if none): an ahead-of-time engine looks for an artefact
  // built next to it.
  virtual std::shared_ptr<CompiledModule> compile(const std::string& bytes, std::string_view origin,
                                                  std::string* error) = 0;
  // Instantiates with one binding per import, in the module's import order. Does not run any
  // start or initialisation function other than the wasm start section.
  virtual std::unique_ptr<Instance> instantiate(const CompiledModule& module,
                                                const std::vector<ImportBinding>& imports,
                                                void* user_data, std::string* error) = 0;
  // Releases what the engine keeps bound to the calling thread between calls (V8 leaves its
  // isolate entered). An embedder whose thread ends before the engine is destroyed calls this
  // on that thread first; destroying the engine on its thread does it too.
  virtual void releaseThread() {}
};

// Runtime names: "v8" (also Envoy's "envoy.wasm.runtime.v8"), "wabt" (the wabt interpreter, also
// "envoy.wasm.runtime.wabt") and "wasm2c" (ahead of time, also "envoy.wasm.runtime.wasm2c").
// Returns the canonical name, or empty for an unknown runtime.
std::string canonicalRuntimeName(std::string_view runtime);
std::vector<std::string> availableRuntimes();
// A new engine for the calling thread, or nullptr with `error` set.
std::unique_ptr<Engine> createEngine(std::string_view runtime, std::string* error);

std::unique_ptr<Engine> createV8Engine(std::string* error);
std::unique_ptr<Engine> createWabtEngine(std::string* error);
std::unique_ptr<Engine> createWasm2cEngine(std::string* error);

// Where engines report work done outside calls (an ahead-of-time compile and how long it took).
// Standard error unless the embedder sets its own (once, at start-up).
using EngineLog = void (*)(std::string_view message);
void setEngineLog(EngineLog log);
void engineLog(std::string_view message);

}  // namespace proxy_wasm::host
