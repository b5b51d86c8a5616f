// The host's table of every function a plugin may import: the proxy-wasm hostcalls of the ABI
// table (one section per file in this folder), WASI preview 1 and two Emscripten helpers.
#include <algorithm>

#include "../hostcall_env.h"

namespace proxy_wasm::host {
namespace {

const std::vector<HostcallDef>& table() {
  static const std::vector<HostcallDef> t = [] {
    std::vector<HostcallDef> all;
    for (auto section : {lifecycleHostcalls, bufferAndMapHostcalls, streamAndCalloutHostcalls,
                         sharedStateHostcalls, metricAndPropertyHostcalls, wasiHostcalls}) {
      auto part = section();
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }();
  return t;
}

}  // namespace

const HostcallDef* findHostcall(std::string_view module, std::string_view name) {
  std::string_view m = module;
  if (m == "wasi_snapshot_preview1" || m == "wasi_unstable")
    m = "wasi";
  else if (m != "env")
    return nullptr;
  for (const HostcallDef& d : table()) {
    if (m == d.module && name == d.name) return &d;
  }
  return nullptr;
}

const HostcallDef* findHostcallByFunction(HostFunction fn) {
  for (const HostcallDef& d : table()) {
    if (d.function == fn) return &d;
  }
  return nullptr;
}

std::vector<std::string_view> abiHostcallNames() {
  std::vector<std::string_view> names;
#define PROXY_WASM_NAME(name, params) names.push_back(#name);
  PROXY_WASM_HOSTCALLS(PROXY_WASM_NAME, HostKinds)
#undef PROXY_WASM_NAME
  return names;
}

namespace {

template <class F>
struct CallbackSig;
template <class R, class... P>
struct CallbackSig<R(P...)> {
  static FuncType type() {
    FuncType t{{kValTypeOf<P>...}, {}};
    if (!std::is_same_v<R, HostKinds::Void>) t.results.push_back(kValTypeOf<R>);
    return t;
  }
};

}  // namespace

std::optional<FuncType> abiCallbackType(std::string_view name) {
#define PROXY_WASM_CALLBACK_TYPE(callback, result, params) \
  if (name == #callback) return CallbackSig<result params>::type();
  PROXY_WASM_CALLBACKS(PROXY_WASM_CALLBACK_TYPE, HostKinds)
#undef PROXY_WASM_CALLBACK_TYPE
  return std::nullopt;
}

bool refuse(HostcallEnv& env, HostFunction self) {
  const HostcallDef* def = findHostcallByFunction(self);
  env.abort(std::string("hostcall ") + (def != nullptr ? def->name : "?") + " is not allowed " +
            env.restrictedWhere());
  return false;
}

}  // namespace proxy_wasm::host
