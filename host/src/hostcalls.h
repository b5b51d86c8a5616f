// The table of every function the host provides to plugins: proxy-wasm 0.2.x hostcalls (module
// "env"), WASI preview 1 (modules "wasi_snapshot_preview1" and "wasi_unstable") and the two
// Emscripten helpers the reference host accepts. Internal to the host library.
#pragma once

#include <string_view>

#include "proxy_wasm/host/engine.h"

namespace proxy_wasm::host {

struct HostcallDef {
  const char* module;  // "env" or "wasi"
  const char* name;
  FuncType type;
  // Its trampoline knows whether it may run during module initialisation and inside the
  // allocator (Hostcalls::proxy/wasi<F, true>).
  HostFunction function;
};

const HostcallDef* findHostcall(std::string_view module, std::string_view name);
const HostcallDef* findHostcallByFunction(HostFunction fn);

}  // namespace proxy_wasm::host
