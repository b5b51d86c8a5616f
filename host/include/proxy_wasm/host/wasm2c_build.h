// Ahead-of-time artefacts for the wasm2c engine: a module translated to C by Debian's wasm2c,
// compiled with the system C compiler into a shared object together with a generated shim (one C
// function per import and per export, in the generic slot convention of engine.h) and the
// runtime in wasm2c_runtime.c.
//
// An artefact carries a stamp naming the module's sha256 and the versions of the translator, the
// compiler and our runtime; an artefact is used only when its stamp is the one this host would
// write for the module, so a stale or foreign file is rebuilt, never run.
//
// Used by the engine (at load time), by `wasm-proxy compile` and by the build (tool pwx-wasm2c).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "proxy_wasm/host/module_info.h"

namespace proxy_wasm::host::wasm2c {

// "wasm2c 1.0.32; cc (Debian 12.2.0-14) 12.2.0; runtime <hash>", computed once per process.
// Empty with `error` when a tool is missing.
const std::string& toolchain(std::string* error);

// The stamp an artefact of the module with this sha256 carries.
std::string stampFor(std::string_view module_sha256, std::string_view toolchain);

// `dir/name.wasm` → `dir/name.wasm2c.so`: where the build puts a plugin's artefact.
std::string artefactNextTo(std::string_view wasm_path);

// The cache folder: `--wasm-cache` (setCacheDir), else $PWX_WASM_CACHE, else
// $XDG_CACHE_HOME/wasm-proxy, else ~/.cache/wasm-proxy.
void setCacheDir(std::string dir);
std::string cacheDir();

// Translates and compiles `bytes` into `out` (replaced atomically). `info` is the parsed module.
// Refuses what the engine cannot bind (non-function imports, multi-value signatures) by name.
bool build(const std::string& bytes, const ModuleInfo& info, const std::string& out,
           std::chrono::duration<double>* took, std::string* error);

// Precompiles the module in `wasm_path` as a host loading it with this memory cap would run it
// (the cap is part of the module: another cap compiles into the cache at load time). `out`
// defaults to artefactNextTo(wasm_path). With `only_if_stale`, an artefact whose stamp already
// matches is kept (`*rebuilt` says which happened). A module the host would refuse to load is
// refused here too (`*refused`, with the host's reason in `error`).
bool precompile(const std::string& wasm_path, std::string out, uint64_t memory_limit_bytes,
                bool only_if_stale, bool* rebuilt, std::chrono::duration<double>* took,
                std::string* error, bool* refused = nullptr);

}  // namespace proxy_wasm::host::wasm2c
