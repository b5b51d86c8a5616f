#include "proxy_wasm/host/vm_pool.h"

#include <functional>

namespace proxy_wasm::host {

std::string VmPool::key(const PluginCode& code, const VmConfig& config, const Engine& engine) {
  std::string k;
  auto field = [&k](std::string_view s) {
    k += std::to_string(s.size());
    k += ':';
    k += s;
  };
  field(config.vm_id);
  field(engine.name());
  field(config.configuration);
  for (const auto& [name, value] : config.environment) {
    field(name);
    field(value);
  }
  field(std::to_string(config.callback_deadline.count()));
  field(std::to_string(config.memory_limit_bytes));
  field(std::to_string(std::hash<std::string>{}(code.bytes())));  // bytes compared on a hit
  return k;
}

std::shared_ptr<Vm> VmPool::get(const std::shared_ptr<const PluginCode>& code,
                                const VmConfig& config, Engine& engine, VmHost& host,
                                std::string* error) {
  const std::string k = key(*code, config, engine);
  auto [first, last] = vms_.equal_range(k);
  for (auto it = first; it != last;) {
    std::shared_ptr<Vm> vm = it->second.lock();
    if (!vm || vm->failed()) {
      it = vms_.erase(it);  // gone, or failed: the next plugin builds a fresh one
      continue;
    }
    if (vm->code().bytes() == code->bytes()) return vm;
    ++it;
  }
  std::shared_ptr<Vm> vm = Vm::create(code, config, engine, host, error);
  if (vm) vms_.emplace(k, vm);
  return vm;
}

}  // namespace proxy_wasm::host
