// The table of every function the host provides to plugins: proxy-wasm 0.2.x hostcalls (module
// "env"), WASI preview 1 (modules "wasi_snapshot_preview1" and "wasi_unstable") and the two
// Emscripten helpers the reference host accepts. Internal to the host library.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "proxy_wasm/host/engine.h"

namespace proxy_wasm::host {

struct HostcallDef {
  const char* module;  // "env" or "wasi"
  const char* name;
  FuncType type;
  // Its trampoline knows whether it may run during module initialisation and inside the
  // allocator (hostcall_env.h).
  HostFunction function;
};

const HostcallDef* findHostcall(std::string_view module, std::string_view name);
const HostcallDef* findHostcallByFunction(HostFunction fn);
// The names of the ABI table's hostcalls, in its order (each has an entry in the host's table).
std::vector<std::string_view> abiHostcallNames();
// The engine type of an ABI callback the plugin exports, from the ABI table; nullopt for a name
// that is not one.
std::optional<FuncType> abiCallbackType(std::string_view name);

}  // namespace proxy_wasm::host
