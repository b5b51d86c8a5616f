// What the host needs to know about a module before instantiating it, read from the binary:
// imports and exports with their types, the memory limits, the proxy-wasm ABI version marker and
// the function names of the "name" section. Also caps the memory maximum by rewriting the memory
// section, which works the same on every engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy_wasm/host/engine.h"

namespace proxy_wasm::host {

enum class AbiVersion { Unknown, V0_1_0, V0_2_0, V0_2_1 };
std::string_view toString(AbiVersion v);

struct ModuleImport {
  std::string module;
  std::string name;
  uint8_t kind = 0;  // 0 func, 1 table, 2 memory, 3 global, 4 tag
  FuncType type;     // functions only
};

struct ModuleExport {
  std::string name;
  uint8_t kind = 0;
  uint32_t index = 0;
  FuncType type;  // functions only
};

struct ModuleInfo {
  std::vector<ModuleImport> imports;
  std::vector<ModuleExport> exports;
  bool has_memory = false;
  uint64_t memory_initial_pages = 0;
  std::optional<uint64_t> memory_max_pages;
  AbiVersion abi = AbiVersion::Unknown;
  std::unordered_map<uint32_t, std::string> function_names;

  const ModuleExport* findExport(std::string_view name) const;
};

// Lower-case hex sha256 of a module (or any bytes): how modules are named in configs, caches and
// wasm2c artefacts.
std::string sha256Hex(std::string_view bytes);

// Parses the sections the host cares about. Returns nullopt with `error` for a malformed binary.
std::optional<ModuleInfo> parseModule(const std::string& bytes, std::string* error);

// Returns a copy of `bytes` whose (defined) memory may grow to at most `max_pages` pages.
// Fails when the module's initial memory already exceeds the cap or it imports its memory.
std::optional<std::string> capMemory(const std::string& bytes, uint64_t max_pages,
                                     std::string* error);

}  // namespace proxy_wasm::host
