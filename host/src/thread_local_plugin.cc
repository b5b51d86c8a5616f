#include "proxy_wasm/host/thread_local_plugin.h"

#include "proxy_wasm/host/shared_state.h"
#include "proxy_wasm/host/vm_pool.h"

namespace proxy_wasm::host {

ThreadLocalPlugin::ThreadLocalPlugin(std::shared_ptr<const PluginCode> code, VmConfig vm_config,
                                     std::shared_ptr<const PluginConfig> plugin, Engine& engine,
                                     VmHost& host, VmPool* pool)
    : code_(std::move(code)),
      vm_config_(std::move(vm_config)),
      plugin_(std::move(plugin)),
      engine_(engine),
      host_(host),
      pool_(pool) {
  restarts_metric_ = MetricsRegistry::instance().define(MetricType::Counter,
                                                        "wasm." + plugin_->name + ".vm_restarts");
}

ThreadLocalPlugin::~ThreadLocalPlugin() {
  if (vm_ && !vm_->failed() && root_id_ != 0 && !vm_->stopPlugin(root_id_)) {
    host_.holdUntilDone(vm_, root_id_);
  }
}

bool ThreadLocalPlugin::build(std::string* error) {
  std::shared_ptr<Vm> vm = pool_ != nullptr ? pool_->get(code_, vm_config_, engine_, host_, error)
                                            : Vm::create(code_, vm_config_, engine_, host_, error);
  if (!vm) return false;
  auto root = vm->startPlugin(plugin_, error);
  if (!root) return false;
  vm_ = std::move(vm);
  root_id_ = *root;
  return true;
}

bool ThreadLocalPlugin::start(std::string* error) {
  return build(error);
}

std::shared_ptr<Vm> ThreadLocalPlugin::vmForNewStream() {
  if (!vm_->failed() || plugin_->failure_policy != FailurePolicy::FailReload) return vm_;
  const uint64_t now_ns =
      host_.monotonicNanos();  // read only here: streams on a healthy VM pay none
  if (failed_at_ns_ == 0) {
    // First sight of this failure: start backing off. A VM that ran a full maximum backoff
    // period since its last reload starts again from the initial backoff.
    failed_at_ns_ = now_ns;
    if (now_ns - last_reload_ns_ > kMaxBackoffNs) backoff_ns_ = kInitialBackoffNs;
    return vm_;
  }
  if (now_ns - failed_at_ns_ < backoff_ns_) return vm_;  // backing off: the failed VM fails closed
  backoff_ns_ = std::min(backoff_ns_ * 2, kMaxBackoffNs);
  std::string error;
  if (!build(&error)) {
    failed_at_ns_ = now_ns;
    host_.log(plugin_.get(), LogLevel::Error, "wasm VM reload failed: " + error);
    return vm_;
  }
  failed_at_ns_ = 0;
  last_reload_ns_ = now_ns;
  ++restarts_;
  if (restarts_metric_ != nullptr) restarts_metric_->add(1);
  host_.log(plugin_.get(), LogLevel::Warn,
            "wasm VM reloaded after a failure (restart " + std::to_string(restarts_) + ")");
  return vm_;
}

}  // namespace proxy_wasm::host
