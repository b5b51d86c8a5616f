// The raw proxy-wasm ABI 0.2.1 as seen from a plugin, generated from the ABI table: every hostcall
// imported from module "env" and every callback the plugin exports. Compiled for wasm32 these are
// real imports and exports; compiled natively (unit tests) the hostcalls are ordinary functions
// that a test host defines.
//
// Most plugin code should use the typed wrappers in api.h instead.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy_wasm/abi/abi_table.h"
#include "proxy_wasm/abi/enums.h"

#if defined(__wasm__)
#define PROXY_WASM_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define PROXY_WASM_EXPORT(name) __attribute__((export_name(#name)))
#else
#define PROXY_WASM_IMPORT(name)
#define PROXY_WASM_EXPORT(name) __attribute__((visibility("default")))
#endif

namespace proxy_wasm::abi {

// The ABI table's kinds as C types, for the declarations below.
struct CKinds {
  using U32 = uint32_t;
  using I32 = int32_t;
  using U64 = uint64_t;
  using I64 = int64_t;
  using LogLevel = uint32_t;
  using MapType = uint32_t;
  using BufferType = uint32_t;
  using StreamType = uint32_t;
  using MetricType = uint32_t;
  using Ptr = const char*;
  using Size = size_t;
  using PtrOut = char**;
  using SizeOut = size_t*;
  using U32Out = uint32_t*;
  using U64Out = uint64_t*;
  using Address = void*;
  using Void = void;
};

}  // namespace proxy_wasm::abi

extern "C" {
using proxy_wasm::abi::WasmResult;

// Every hostcall of the ABI table (proxy_wasm/abi/abi_table.h), imported from module "env".
#define PROXY_WASM_DECLARE_HOSTCALL(name, params) PROXY_WASM_IMPORT(name) WasmResult name params;
PROXY_WASM_HOSTCALLS(PROXY_WASM_DECLARE_HOSTCALL, proxy_wasm::abi::CKinds)
#undef PROXY_WASM_DECLARE_HOSTCALL

// Every callback of the ABI table, and the ABI version marker. The SDK defines and exports them
// under these names, except the stream callbacks: a module exports those only for what its context
// classes override, as function templates (detail::exportStreamCallbacks in context.h), not as C
// functions.
#define PROXY_WASM_DECLARE_CALLBACK(name, result, params) result name params;
PROXY_WASM_CALLBACKS(PROXY_WASM_DECLARE_CALLBACK, proxy_wasm::abi::CKinds)
#undef PROXY_WASM_DECLARE_CALLBACK
void proxy_abi_version_0_2_1();
}
