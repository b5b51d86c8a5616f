// The wabt interpreter behind the Engine interface: portable, deterministic, no signals, no JIT.
//
// Calls run in slices of kSliceInstructions; between slices the deadline (a budget of the
// thread's CPU time, cpu_deadline.h) and the interrupt flag are checked, so a runaway plugin stops
// within ~70 µs of its deadline. wabt 1.0.32 keeps the calls that start a function on a Thread
// private, so they are reached with the standard explicit-instantiation access idiom (pinned to
// that version's declarations). After any trap or stop the Thread's stacks are cleared: wabt
// leaves stale frames behind otherwise.
//
// Compiled as C++17: wabt 1.0.32's interp headers do not compile as C++20 with g++ 12.
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <utility>

#include "cpu_deadline.h"
#include "proxy_wasm/host/engine.h"
#include "wabt/binary-reader.h"
#include "wabt/error-formatter.h"
#include "wabt/feature.h"
#include "wabt/interp/binary-reader-interp.h"
#include "wabt/interp/interp.h"

namespace proxy_wasm::host {
namespace {

namespace wi = wabt::interp;

// ---- access to wabt::interp::Thread's private members (wabt 1.0.32) ----
template <class Tag, typename Tag::type M>
struct Rob {
  friend typename Tag::type get(Tag) { return M; }
};
struct PushValuesTag {
  using type = void (wi::Thread::*)(const wi::ValueTypes&, const wi::Values&);
  friend type get(PushValuesTag);
};
struct PopValuesTag {
  using type = void (wi::Thread::*)(const wi::ValueTypes&, wi::Values*);
  friend type get(PopValuesTag);
};
struct PushCallTag {
  using type = wi::RunResult (wi::Thread::*)(const wi::DefinedFunc&, wi::Trap::Ptr*);
  friend type get(PushCallTag);
};
struct FramesTag {
  using type = std::vector<wi::Frame> wi::Thread::*;
  friend type get(FramesTag);
};
struct ValuesTag {
  using type = std::vector<wi::Value> wi::Thread::*;
  friend type get(ValuesTag);
};
struct RefsTag {
  using type = std::vector<wi::u32> wi::Thread::*;
  friend type get(RefsTag);
};
struct ExceptionsTag {
  using type = wi::RefVec wi::Thread::*;
  friend type get(ExceptionsTag);
};
template struct Rob<PushValuesTag, &wi::Thread::PushValues>;
template struct Rob<PopValuesTag, &wi::Thread::PopValues>;
template struct Rob<
    PushCallTag, static_cast<wi::RunResult (wi::Thread::*)(const wi::DefinedFunc&, wi::Trap::Ptr*)>(
                     &wi::Thread::PushCall)>;
template struct Rob<FramesTag, &wi::Thread::frames_>;
template struct Rob<ValuesTag, &wi::Thread::values_>;
template struct Rob<RefsTag, &wi::Thread::refs_>;
template struct Rob<ExceptionsTag, &wi::Thread::exceptions_>;

void resetThread(wi::Thread& t) {
  (t.*get(FramesTag{})).clear();
  (t.*get(ValuesTag{})).clear();
  (t.*get(RefsTag{})).clear();
  (t.*get(ExceptionsTag{})).clear();
}

constexpr int kSliceInstructions = 10000;

wabt::Type toWabt(ValType t) {
  switch (t) {
    case ValType::I32:
      return wabt::Type::I32;
    case ValType::I64:
      return wabt::Type::I64;
    case ValType::F32:
      return wabt::Type::F32;
    case ValType::F64:
      return wabt::Type::F64;
  }
  return wabt::Type::I32;
}

uint64_t toSlot(const wi::Value& v, wabt::Type t) {
  switch (t) {
    case wabt::Type::I32:
      return v.Get<wi::u32>();
    case wabt::Type::I64:
      return v.Get<wi::u64>();
    case wabt::Type::F32: {
      float f = v.Get<float>();
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      return bits;
    }
    case wabt::Type::F64: {
      double d = v.Get<double>();
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      return bits;
    }
    default:
      return 0;
  }
}

wi::Value fromSlot(uint64_t slot, wabt::Type t) {
  switch (t) {
    case wabt::Type::I32:
      return wi::Value::Make(static_cast<wi::u32>(slot));
    case wabt::Type::I64:
      return wi::Value::Make(static_cast<wi::u64>(slot));
    case wabt::Type::F32: {
      uint32_t bits = static_cast<uint32_t>(slot);
      float f;
      std::memcpy(&f, &bits, 4);
      return wi::Value::Make(f);
    }
    case wabt::Type::F64: {
      double d;
      std::memcpy(&d, &slot, 8);
      return wi::Value::Make(d);
    }
    default:
      return wi::Value::Make(static_cast<wi::u32>(0));
  }
}

class WabtModule : public CompiledModule {
 public:
  explicit WabtModule(wi::ModuleDesc desc) : desc_(std::move(desc)) {}
  const wi::ModuleDesc& desc() const { return desc_; }

 private:
  wi::ModuleDesc desc_;
};

struct HostBinding {
  HostFunction fn;
  void* user;
  wi::FuncType type;
};

class WabtInstance : public Instance {
 public:
  explicit WabtInstance(wi::Store& store) : store_(store), thread_(store) {}
  ~WabtInstance() override {
    functions_.clear();
    export_index_.clear();
    memory_.reset();
    instance_.reset();
    module_.reset();
    store_.Collect();  // free this instance's objects now rather than at the next collection
  }

  bool init(const WabtModule& module, const std::vector<ImportBinding>& imports, void* user,
            std::string* error) {
    module_ = wi::Module::New(store_, module.desc());
    const auto& import_descs = module.desc().imports;
    if (import_descs.size() != imports.size()) {
      *error = "import count mismatch";
      return false;
    }
    wi::RefVec refs;
    for (size_t i = 0; i < imports.size(); ++i) {
      wi::ValueTypes params, results;
      for (ValType p : imports[i].type.params) params.push_back(toWabt(p));
      for (ValType r : imports[i].type.results) results.push_back(toWabt(r));
      wi::FuncType type(params, results);
      bindings_.push_back(HostBinding{imports[i].function, user, type});
      HostBinding* b = &bindings_.back();
      wi::HostFunc::Ptr f =
          wi::HostFunc::New(store_, type,
                            [this, b](wi::Thread&, const wi::Values& args, wi::Values& res,
                                      wi::Trap::Ptr* trap) -> wabt::Result {
                              uint64_t in[kMaxCallSlots] = {};
                              uint64_t out[2] = {};
                              if (sample_pending_) takeCpuSample();
                              for (size_t k = 0; k < args.size() && k < kMaxCallSlots; ++k) {
                                in[k] = toSlot(args[k], b->type.params[k]);
                              }
                              if (!b->fn(b->user, in, out)) {
                                *trap = wi::Trap::New(store_, "aborted by the host");
                                return wabt::Result::Error;
                              }
                              for (size_t k = 0; k < res.size() && k < 2; ++k) {
                                res[k] = fromSlot(out[k], b->type.results[k]);
                              }
                              return wabt::Result::Ok;
                            });
      refs.push_back(f.ref());
    }
    wi::Trap::Ptr trap;
    instance_ = wi::Instance::Instantiate(store_, module_.ref(), refs, &trap);
    if (!instance_) {
      *error = trap ? trap->message() : "instantiation failed";
      return false;
    }
    const auto& exports = module.desc().exports;
    for (size_t i = 0; i < exports.size(); ++i) {
      if (exports[i].type.type->kind == wabt::ExternalKind::Func) {
        export_index_.emplace_back(exports[i].type.name, instance_->exports()[i]);
      }
    }
    if (!instance_->memories().empty()) {
      memory_ = store_.UnsafeGet<wi::Memory>(instance_->memories()[0]);
    }
    return true;
  }

  MemoryView memory() override {
    if (!memory_) return {};
    return MemoryView{memory_->UnsafeData(), static_cast<size_t>(memory_->ByteSize())};
  }

  int32_t findFunction(std::string_view name) override {
    for (size_t i = 0; i < export_index_.size(); ++i) {
      if (export_index_[i].first == name) {
        functions_.push_back(store_.UnsafeGet<wi::Func>(export_index_[i].second));
        return static_cast<int32_t>(functions_.size() - 1);
      }
    }
    return -1;
  }

  CallResult call(int32_t function, const uint64_t* args, size_t num_args, uint64_t* results,
                  size_t num_results, Deadline deadline) override {
    CallResult out;
    if (function < 0 || static_cast<size_t>(function) >= functions_.size()) {
      out.status = CallResult::Status::Trap;
      out.message = "no such function";
      return out;
    }
    wi::Func::Ptr func = functions_[function];
    const wi::FuncType& type = func->type();
    wi::Values params;  // a parameter not passed is 0 (wabt asserts on a short list)
    for (size_t i = 0; i < type.params.size(); ++i) {
      params.push_back(fromSlot(i < num_args ? args[i] : 0, type.params[i]));
    }
    if (depth_ == 0) interrupted_.store(false, std::memory_order_relaxed);
    // The outermost call runs on the persistent Thread; a nested call (the allocator called from
    // inside a hostcall) gets a fresh one.
    std::unique_ptr<wi::Thread> nested;
    wi::Thread* thread = &thread_;
    if (depth_ > 0) {
      nested = std::make_unique<wi::Thread>(store_);
      thread = nested.get();
    }
    ++depth_;
    wi::Values values;
    out = run(*thread, func, params, &values, deadline);
    --depth_;
    for (size_t i = 0; out.ok() && i < num_results && i < values.size(); ++i) {
      results[i] = toSlot(values[i], type.results[i]);
    }
    return out;
  }

  void interrupt() override { interrupted_.store(true, std::memory_order_relaxed); }

 private:
  // The outermost call's deadline is a budget of CPU time (cpu_deadline.h), charged from a
  // sample taken at its first hostcall or at the end of its first slice, whichever comes first:
  // a call that does neither reads no CPU clock, and a wait in a hostcall is never charged.
  void takeCpuSample() {
    call_since_ = {steadyNs(std::chrono::steady_clock::now()), callingThreadCpuNs()};
    sample_pending_ = false;
  }
  // Whether the call has used its budget; the CPU clock is read once wall time is past it.
  bool pastDeadline(Deadline deadline) {
    if (deadline == kNoDeadline) return false;
    if (sample_pending_) takeCpuSample();
    const int64_t wall = steadyNs(std::chrono::steady_clock::now());
    const int64_t due = steadyNs(deadline);
    return wall >= due && cpuChargedNow(call_since_, wall, callingThreadCpuNs()) >= due;
  }

  CallResult run(wi::Thread& t, const wi::Func::Ptr& func, const wi::Values& params,
                 wi::Values* values, Deadline deadline) {
    CallResult out;
    wi::Trap::Ptr trap;
    if (func->kind() != wi::ObjectKind::DefinedFunc) {
      // An exported import: call straight through.
      if (wabt::Failed(func->Call(t, params, *values, &trap))) {
        resetThread(t);
        out.status = CallResult::Status::Trap;
        out.message = trap ? trap->message() : "trap";
      }
      return out;
    }
    const auto& defined = *wabt::cast<wi::DefinedFunc>(func.get());
    (t.*get(PushValuesTag{}))(func->type().params, params);
    wi::RunResult r = (t.*get(PushCallTag{}))(defined, &trap);
    if (deadline != kNoDeadline) sample_pending_ = true;
    while (r == wi::RunResult::Ok) {
      r = t.Run(kSliceInstructions, &trap);
      if (r != wi::RunResult::Ok) break;
      if (interrupted_.load(std::memory_order_relaxed) || pastDeadline(deadline)) {
        resetThread(t);
        out.status = CallResult::Status::Timeout;
        out.message = interrupted_.load() ? "interrupted" : "deadline exceeded";
        return out;
      }
    }
    if (r == wi::RunResult::Return) {
      (t.*get(PopValuesTag{}))(func->type().results, values);
      return out;
    }
    resetThread(t);
    out.status = CallResult::Status::Trap;
    out.message = trap ? trap->message() : "uncaught exception";
    return out;
  }

  wi::Store& store_;
  wi::Thread thread_;
  wi::Module::Ptr module_;
  wi::Instance::Ptr instance_;
  wi::Memory::Ptr memory_;
  std::deque<HostBinding> bindings_;
  std::vector<std::pair<std::string, wi::Ref>> export_index_;
  std::vector<wi::Func::Ptr> functions_;
  std::atomic<bool> interrupted_{false};
  bool sample_pending_ = false;  // the outermost call has not taken its CPU sample yet
  CpuSample call_since_;
  int depth_ = 0;
};

class WabtEngine : public Engine {
 public:
  std::string_view name() const override { return "wabt"; }

  std::shared_ptr<CompiledModule> compile(const std::string& bytes, std::string_view /*origin*/,
                                          std::string* error) override {
    wabt::Errors errors;
    wi::ModuleDesc desc;
    wabt::Features features;
    wabt::ReadBinaryOptions options(features, nullptr, /*read_debug_names=*/false,
                                    /*stop_on_first_error=*/true,
                                    /*fail_on_custom_section_error=*/false);
    if (wabt::Failed(wi::ReadBinaryInterp("plugin.wasm", bytes.data(), bytes.size(), options,
                                          &errors, &desc))) {
      *error =
          "invalid module: " + wabt::FormatErrorsToString(errors, wabt::Location::Type::Binary);
      while (!error->empty() && error->back() == '\n') error->pop_back();
      return nullptr;
    }
    return std::make_shared<WabtModule>(std::move(desc));
  }

  std::unique_ptr<Instance> instantiate(const CompiledModule& module,
                                        const std::vector<ImportBinding>& imports, void* user_data,
                                        std::string* error) override {
    auto instance = std::make_unique<WabtInstance>(store_);
    if (!instance->init(static_cast<const WabtModule&>(module), imports, user_data, error)) {
      return nullptr;
    }
    return instance;
  }

 private:
  // One store per engine (per thread): separate stores share nothing, so threads never race.
  wi::Store store_;
};

}  // namespace

std::unique_ptr<Engine> createWabtEngine(std::string* /*error*/) {
  return std::make_unique<WabtEngine>();
}

}  // namespace proxy_wasm::host
