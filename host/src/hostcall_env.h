// How a hostcall body is written and registered. The ABI table (proxy_wasm/abi/abi_table.h) gives
// each hostcall's parameters as ABI kinds; a body takes typed arguments instead, each made from one
// or two of those slots and checked before the body runs:
//
//   WasmResult getHeaderMapValue(HostcallEnv&, MapType, GuestBytes key, GuestOut value);
//   PROXY_WASM_HOST_ENTRY(proxy_get_header_map_value, getHeaderMapValue)
//
// An enum past its last value is BadArgument and bytes outside the plugin's memory are
// InvalidMemoryAccess, left to right, before the body is called. The entry's engine signature is
// the table's; a body whose arguments do not spell the table's kinds, or a signature over the
// engines' slot limit, does not compile.
//
// HostcallEnv is what a body may reach of its VM: memory, the call in progress (contexts, deferred
// actions, abort), the embedder and the VM's callout and metric state.
#pragma once

#include <array>
#include <functional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "hostcalls.h"
#include "proxy_wasm/abi/abi_table.h"
#include "proxy_wasm/host/engine.h"
#include "proxy_wasm/host/vm.h"

namespace proxy_wasm::host {

class HostcallEnv {
 public:
  using Context = Vm::Context;
  using CalloutResponse = Vm::CalloutResponse;
  explicit HostcallEnv(Vm& vm) : vm_(vm) {}

  // ---- the plugin's memory (bounds-checked) ----
  bool read(uint32_t ptr, uint32_t size, std::string_view* out) { return vm_.read(ptr, size, out); }
  bool writeU32(uint32_t ptr, uint32_t value) { return vm_.writeU32(ptr, value); }
  bool writeU64(uint32_t ptr, uint64_t value) { return vm_.writeU64(ptr, value); }
  WasmResult copyOut(std::string_view data, uint32_t ptr_slot, uint32_t size_slot) {
    return vm_.copyOut(data, ptr_slot, size_slot);
  }
  MemoryView memory() { return vm_.memoryView(); }

  // ---- the call in progress ----
  Context* currentContext() { return vm_.currentContext(); }  // effective if set, else current
  Context* rootOf(Context* c) { return vm_.rootOf(c); }
  Context* context(uint32_t id) { return vm_.context(id); }
  const PluginConfig* currentPlugin() { return vm_.currentPlugin(); }
  void setEffectiveContext(uint32_t id) { vm_.effective_context_ = id; }
  // Runs `action` when the outermost call into the VM returns.
  void defer(std::function<void()> action) { vm_.deferred_.push_back(std::move(action)); }
  // Ends the plugin's call with a VM failure carrying `reason`.
  void abort(std::string reason) { vm_.aborted_reason_ = std::move(reason); }
  bool aborted() const { return !vm_.aborted_reason_.empty(); }
  bool restricted() const { return vm_.restricted_; }
  // Where a restricted call is, for the refusal's message.
  std::string restrictedWhere() const {
    return std::string(vm_.depth_ > 1 || vm_.current_callback_ == "malloc"
                           ? "inside the allocator"
                           : "during module initialisation (static constructors)") +
           " (called from " + std::string(vm_.current_callback_) + ")";
  }
  // on_delete for a root context whose plugin said proxy_done, then tells the embedder.
  void deleteRootContext(uint32_t id) {
    vm_.call(Vm::kOnDelete, id, {id});
    vm_.contexts_.erase(id);
    vm_.host_.onPluginDone(vm_, id);
  }
  void log(LogLevel level, std::string_view message) { vm_.logFromPlugin(level, message); }

  // ---- the VM and its embedder ----
  Vm& vm() { return vm_; }
  VmHost& host() { return vm_.host_; }
  const VmConfig& config() const { return vm_.config_; }
  std::weak_ptr<bool> alive() const { return vm_.alive_; }

  // ---- callouts: tokens, the answer being delivered, gRPC streams, the last status ----
  uint32_t nextCalloutToken(uint32_t tag) { return vm_.callouts_.nextToken(tag); }
  const CalloutResponse* calloutResponse() const { return vm_.callouts_.response; }
  std::string_view grpcMessage() const { return vm_.callouts_.grpc_message; }
  std::unordered_map<uint32_t, uint32_t>& grpcStreams() { return vm_.callouts_.grpc_streams; }
  const std::pair<uint32_t, std::string>& lastStatus() const { return vm_.callouts_.last_status; }

  // ---- metric handles ----
  uint32_t addMetric(Metric* m, uint32_t type) { return vm_.metrics_.add(m, type); }
  Metric* metric(uint32_t id) { return vm_.metrics_.find(id); }

 private:
  Vm& vm_;
};

// A hostcall refused where it was called (module initialisation, inside the allocator): the VM
// fails with a message naming it.
bool refuse(HostcallEnv& env, HostFunction self);

// ---- typed arguments ----

// Bytes the plugin passed (ptr, size); the view points into plugin memory and is valid until the
// body allocates in the plugin (copyOut may grow and move the memory).
struct GuestBytes {
  std::string_view view;
};
// Where the host writes the address and length of bytes it allocates in the plugin.
struct GuestOut {
  uint32_t ptr_slot = 0, size_slot = 0;
  WasmResult write(HostcallEnv& env, std::string_view data) const {
    return env.copyOut(data, ptr_slot, size_slot);
  }
  // Both slots writable: checked before an action that cannot be undone.
  bool writable(HostcallEnv& env) const {
    const uint64_t size = env.memory().size;
    return uint64_t{ptr_slot} + 4 <= size && uint64_t{size_slot} + 4 <= size;
  }
};
// Where the host writes one 32-bit value (U32Out, and SizeOut on wasm32).
struct GuestU32Out {
  uint32_t ptr = 0;
  bool write(HostcallEnv& env, uint32_t v) const { return env.writeU32(ptr, v); }
};
struct GuestSizeOut : GuestU32Out {};
struct GuestU64Out {
  uint32_t ptr = 0;
  bool write(HostcallEnv& env, uint64_t v) const { return env.writeU64(ptr, v); }
};

// The kinds of the ABI table as the host sees them: tags, mapped to wasm value types.
struct HostKinds {
  struct U32 {};
  struct I32 {};
  struct U64 {};
  struct I64 {};
  struct LogLevel {};
  struct MapType {};
  struct BufferType {};
  struct StreamType {};
  struct MetricType {};
  struct Ptr {};
  struct Size {};
  struct PtrOut {};
  struct SizeOut {};
  struct U32Out {};
  struct U64Out {};
  struct Address {};
  struct Void {};
};

template <class Kind>
constexpr ValType kValTypeOf =
    std::is_same_v<Kind, HostKinds::U64> || std::is_same_v<Kind, HostKinds::I64> ? ValType::I64
                                                                                 : ValType::I32;

// The ABI table's hostcall signatures as types: abi_sig::proxy_log is
// WasmResult(HostKinds::LogLevel, HostKinds::Ptr, HostKinds::Size).
namespace abi_sig {
#define PROXY_WASM_HOST_SIG(name, params) using name = WasmResult params;
PROXY_WASM_HOSTCALLS(PROXY_WASM_HOST_SIG, HostKinds)
#undef PROXY_WASM_HOST_SIG
}  // namespace abi_sig

template <class... Kinds>
struct KindList {};

template <class... Lists>
struct Concat;
template <>
struct Concat<> {
  using type = KindList<>;
};
template <class... A>
struct Concat<KindList<A...>> {
  using type = KindList<A...>;
};
template <class... A, class... B, class... Rest>
struct Concat<KindList<A...>, KindList<B...>, Rest...> {
  using type = typename Concat<KindList<A..., B...>, Rest...>::type;
};

template <class List>
struct ListSize;
template <class... A>
struct ListSize<KindList<A...>> {
  static constexpr size_t value = sizeof...(A);
};

// How a body argument of type T is made from its slots: Kinds (the table kinds it stands for)
// and make(env, slots, out) -> Ok or the status the hostcall returns without calling the body.
template <class T>
struct Param;

template <class T, class Kind>
struct ValueParam {
  using Kinds = KindList<Kind>;
  static WasmResult make(HostcallEnv&, const uint64_t* s, T& out) {
    out = static_cast<T>(s[0]);
    return WasmResult::Ok;
  }
};
template <>
struct Param<uint32_t> : ValueParam<uint32_t, HostKinds::U32> {};
template <>
struct Param<int32_t> : ValueParam<int32_t, HostKinds::I32> {};
template <>
struct Param<uint64_t> : ValueParam<uint64_t, HostKinds::U64> {};
template <>
struct Param<int64_t> : ValueParam<int64_t, HostKinds::I64> {};

template <class Enum, class Kind, uint32_t kMax>
struct EnumParam {
  using Kinds = KindList<Kind>;
  static WasmResult make(HostcallEnv&, const uint64_t* s, Enum& out) {
    if (s[0] > kMax) return WasmResult::BadArgument;
    out = static_cast<Enum>(s[0]);
    return WasmResult::Ok;
  }
};
template <>
struct Param<LogLevel> : EnumParam<LogLevel, HostKinds::LogLevel, abi::kMaxLogLevel> {};
template <>
struct Param<MapType> : EnumParam<MapType, HostKinds::MapType, abi::kMaxMapType> {};
template <>
struct Param<BufferType> : EnumParam<BufferType, HostKinds::BufferType, abi::kMaxBufferType> {};
template <>
struct Param<StreamType> : EnumParam<StreamType, HostKinds::StreamType, abi::kMaxStreamType> {};
template <>
struct Param<abi::MetricType>
    : EnumParam<abi::MetricType, HostKinds::MetricType, abi::kMaxMetricType> {};

template <>
struct Param<GuestBytes> {
  using Kinds = KindList<HostKinds::Ptr, HostKinds::Size>;
  static WasmResult make(HostcallEnv& env, const uint64_t* s, GuestBytes& out) {
    return env.read(static_cast<uint32_t>(s[0]), static_cast<uint32_t>(s[1]), &out.view)
               ? WasmResult::Ok
               : WasmResult::InvalidMemoryAccess;
  }
};
template <>
struct Param<GuestOut> {
  using Kinds = KindList<HostKinds::PtrOut, HostKinds::SizeOut>;
  static WasmResult make(HostcallEnv&, const uint64_t* s, GuestOut& out) {
    out = {static_cast<uint32_t>(s[0]), static_cast<uint32_t>(s[1])};
    return WasmResult::Ok;
  }
};
template <class T, class Kind>
struct OutParam {
  using Kinds = KindList<Kind>;
  static WasmResult make(HostcallEnv&, const uint64_t* s, T& out) {
    out.ptr = static_cast<uint32_t>(s[0]);
    return WasmResult::Ok;
  }
};
template <>
struct Param<GuestU32Out> : OutParam<GuestU32Out, HostKinds::U32Out> {};
template <>
struct Param<GuestSizeOut> : OutParam<GuestSizeOut, HostKinds::SizeOut> {};
template <>
struct Param<GuestU64Out> : OutParam<GuestU64Out, HostKinds::U64Out> {};

template <class Fn>
struct BodyTraits;
template <class... Args>
struct BodyTraits<WasmResult (*)(HostcallEnv&, Args...)> {
  using Tuple = std::tuple<Args...>;
  using Kinds = typename Concat<typename Param<Args>::Kinds...>::type;
  // Where each argument's slots start.
  static constexpr std::array<size_t, sizeof...(Args)> offsets() {
    std::array<size_t, sizeof...(Args)> out{};
    [[maybe_unused]] size_t at = 0, i = 0;
    ((out[i++] = at, at += ListSize<typename Param<Args>::Kinds>::value), ...);
    return out;
  }
};

template <class Sig>
struct AbiKinds;
template <class... Kinds>
struct AbiKinds<WasmResult(Kinds...)> {
  using type = KindList<Kinds...>;
  static FuncType signature() { return FuncType{{kValTypeOf<Kinds>...}, {ValType::I32}}; }
};

// The engine-facing function of one hostcall: checks the call scope, makes the typed arguments,
// calls the body, stores its status.
template <auto Body, class Sig, bool kAllowedWhileRestricted>
struct Trampoline {
  using B = BodyTraits<decltype(Body)>;
  static_assert(std::is_same_v<typename B::Kinds, typename AbiKinds<Sig>::type>,
                "the body's arguments do not spell the ABI table's parameters");
  static_assert(ListSize<typename B::Kinds>::value <= kMaxCallSlots,
                "more parameters than the engines pass");

  static bool call(void* user, const uint64_t* a, uint64_t* r) {
    HostcallEnv env(*static_cast<Vm*>(user));
    if (!kAllowedWhileRestricted && env.restricted()) return refuse(env, &call);
    r[0] = static_cast<uint32_t>(
        invoke(env, a, std::make_index_sequence<std::tuple_size_v<typename B::Tuple>>()));
    return !env.aborted();
  }

 private:
  template <size_t... I>
  static WasmResult invoke(HostcallEnv& env, [[maybe_unused]] const uint64_t* a,
                           std::index_sequence<I...>) {
    typename B::Tuple args{};
    [[maybe_unused]] constexpr auto offsets = B::offsets();
    WasmResult status = WasmResult::Ok;
    ((status == WasmResult::Ok
          ? (void)(status = Param<std::tuple_element_t<I, typename B::Tuple>>::make(
                       env, a + offsets[I], std::get<I>(args)))
          : void()),
     ...);
    if (status != WasmResult::Ok) return status;
    return Body(env, std::get<I>(args)...);
  }
};

// Hostcalls that may run during module initialisation and inside the allocator, as in the
// reference host.
constexpr bool allowedWhileRestricted(std::string_view name) {
  return name == "proxy_log" || name == "proxy_get_log_level" ||
         name == "proxy_get_current_time_nanoseconds";
}

// One entry of the host's table for the ABI hostcall `name`, served by `body`.
#define PROXY_WASM_HOST_ENTRY(name, body)                                      \
  HostcallDef {                                                                \
    "env", #name, AbiKinds<abi_sig::name>::signature(),                        \
        &Trampoline<&body, abi_sig::name, allowedWhileRestricted(#name)>::call \
  }

// Pairs in the ABI's encoding, copied out of plugin memory (malformed bytes: none).
std::vector<std::pair<std::string, std::string>> decodeOwnedPairs(std::string_view bytes);

// The sections of the table, one per file under host/src/hostcalls/.
std::vector<HostcallDef> lifecycleHostcalls();
std::vector<HostcallDef> bufferAndMapHostcalls();
std::vector<HostcallDef> streamAndCalloutHostcalls();
std::vector<HostcallDef> sharedStateHostcalls();
std::vector<HostcallDef> metricAndPropertyHostcalls();
std::vector<HostcallDef> wasiHostcalls();  // WASI preview 1 and two Emscripten helpers

}  // namespace proxy_wasm::host
