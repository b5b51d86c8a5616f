// VmPool: the VMs of one thread, shared by the plugins whose VMs would be identical — same
// vm_id, runtime, code, vm configuration, environment and limits — as Envoy shares one VM per
// such key and thread. Each plugin keeps its own root context in the shared VM. A failed VM is
// replaced by the next plugin that asks for one; VMs go when their last plugin and stream do.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "proxy_wasm/host/plugin.h"
#include "proxy_wasm/host/vm.h"

namespace proxy_wasm::host {

class VmPool {
 public:
  // The live VM for `code` and `config` on this thread, or a new one (nullptr with `error`).
  std::shared_ptr<Vm> get(const std::shared_ptr<const PluginCode>& code, const VmConfig& config,
                          Engine& engine, VmHost& host, std::string* error);

 private:
  static std::string key(const PluginCode& code, const VmConfig& config, const Engine& engine);
  std::multimap<std::string, std::weak_ptr<Vm>> vms_;
};

}  // namespace proxy_wasm::host
