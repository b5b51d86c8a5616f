// Plugin and VM configuration, and the module code shared by every thread's VM.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "proxy_wasm/host/engine.h"
#include "proxy_wasm/host/module_info.h"

namespace proxy_wasm::host {

// What happens to traffic when a plugin's VM has failed (trap, deadline, restricted hostcall).
enum class FailurePolicy {
  FailClosed,  // 503 with details wasm_fail_stream (Envoy's default)
  FailOpen,    // skip the plugin
  FailReload,  // recreate the VM with backoff; fail closed meanwhile
};

// One plugin instance (one root context per VM): Envoy's PluginConfig minus vm_config.
struct PluginConfig {
  std::string name;
  std::string root_id;
  std::string configuration;  // the plugin configuration as the plugin reads it
  FailurePolicy failure_policy = FailurePolicy::FailClosed;
};

// How to build a VM: Envoy's vm_config.
struct VmConfig {
  std::string vm_id;
  std::string runtime = "v8";
  std::string configuration;  // vm_config.configuration, read in on_vm_start
  std::vector<std::pair<std::string, std::string>> environment;  // WASI environ
  std::chrono::milliseconds callback_deadline{250};  // CPU deadline of one call into the VM
  uint64_t memory_limit_bytes = 256ull << 20;        // cap on linear memory
};

// Validated module bytes plus their compiled form per engine kind. Immutable and shared by all
// threads; compiled() is thread-safe.
class PluginCode {
 public:
  // Parses and checks the module (magic, ABI marker, memory) and applies the memory cap.
  // `origin`: the file the bytes were read from, if any (see Engine::compile).
  static std::shared_ptr<PluginCode> load(std::string bytes, uint64_t memory_limit_bytes,
                                          std::string* error, std::string origin = "");
  const std::string& bytes() const { return bytes_; }
  const std::string& origin() const { return origin_; }
  const ModuleInfo& info() const { return info_; }
  // Compiles on first use per engine kind (the result is shared across threads).
  std::shared_ptr<CompiledModule> compiled(Engine& engine, std::string* error) const;

 private:
  std::string bytes_;
  std::string origin_;
  ModuleInfo info_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<CompiledModule>, std::less<>> compiled_;
};

}  // namespace proxy_wasm::host
