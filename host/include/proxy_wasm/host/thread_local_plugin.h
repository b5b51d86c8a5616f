// ThreadLocalPlugin: one plugin on one thread — its VM (its own, or shared through a VmPool with
// the thread's other plugins of the same VM key, as Envoy does), its root context in it, and the
// failure policy over time (FAIL_RELOAD rebuilds a failed VM with exponential backoff).
//
// Streams hold a shared_ptr to the Vm they started on, so a reload never pulls a VM out from
// under a stream in flight.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "proxy_wasm/host/embedder.h"
#include "proxy_wasm/host/plugin.h"
#include "proxy_wasm/host/vm.h"

namespace proxy_wasm::host {

class Metric;
class VmPool;

class ThreadLocalPlugin {
 public:
  // With a `pool` (which must outlive the plugin) the VM is shared; without, the plugin has its
  // own.
  ThreadLocalPlugin(std::shared_ptr<const PluginCode> code, VmConfig vm_config,
                    std::shared_ptr<const PluginConfig> plugin, Engine& engine, VmHost& host,
                    VmPool* pool = nullptr);
  ~ThreadLocalPlugin();

  // Creates the VM and starts the plugin (on_vm_start, on_configure).
  bool start(std::string* error);

  // The VM to run a new stream on, or nullptr when the plugin is down (failed and not reloaded).
  // With FAIL_RELOAD a failed VM is rebuilt here once its backoff has elapsed (by the host's
  // monotonicNanos(), read only for a failed VM).
  std::shared_ptr<Vm> vmForNewStream();
  std::shared_ptr<Vm> vm() const { return vm_; }
  uint32_t rootId() const { return root_id_; }
  const PluginConfig& plugin() const { return *plugin_; }
  uint64_t restarts() const { return restarts_; }
  // Backoff before the next reload attempt (doubles per consecutive failure, capped).
  uint64_t backoffNs() const { return backoff_ns_; }

  static constexpr uint64_t kInitialBackoffNs = 1'000'000'000ull;
  static constexpr uint64_t kMaxBackoffNs = 60'000'000'000ull;

 private:
  bool build(std::string* error);

  std::shared_ptr<const PluginCode> code_;
  VmConfig vm_config_;
  std::shared_ptr<const PluginConfig> plugin_;
  Engine& engine_;
  VmHost& host_;
  VmPool* pool_;
  std::shared_ptr<Vm> vm_;
  uint32_t root_id_ = 0;
  uint64_t failed_at_ns_ = 0;  // 0: no failure being backed off
  uint64_t last_reload_ns_ = 0;
  uint64_t backoff_ns_ = kInitialBackoffNs;
  uint64_t restarts_ = 0;
  Metric* restarts_metric_ = nullptr;
};

}  // namespace proxy_wasm::host
