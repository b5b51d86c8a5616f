// The state of one worker (one thread, one io_context): its config snapshot as instantiated here
// (plugins and upstream pools), its listeners, the bookkeeping for drain, and the services the
// plugins' VMs reach on this thread (VmHost: clock, logs, ticks, callouts, node properties).
#pragma once

#include <boost/asio.hpp>
#include <boost/intrusive/list.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.h"
#include "proxy_wasm/host/embedder.h"
#include "proxy_wasm/host/engine.h"
#include "proxy_wasm/host/thread_local_plugin.h"
#include "proxy_wasm/host/vm_pool.h"
#include "upstream/cluster_pool.h"
#include "upstream/grpc_client.h"
#include "worker.h"

namespace wasm_proxy {

// A connection waiting for its next request, listed in its worker's IdleList while it waits.
// An intrusive list: joining and leaving it costs no allocation, and a destroyed IdleWait leaves
// it by itself.
struct IdleWait
    : boost::intrusive::list_base_hook<boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
  boost::asio::ip::tcp::socket* socket = nullptr;
};
using IdleList = boost::intrusive::list<IdleWait, boost::intrusive::constant_time_size<false>>;

// One config snapshot as instantiated on one worker: plugins (VMs) and upstream pools.
struct WorkerConfig {
  std::shared_ptr<const Bootstrap> bootstrap;
  std::map<const WasmFilter*, std::unique_ptr<proxy_wasm::host::ThreadLocalPlugin>> plugins;
  std::map<std::string, std::unique_ptr<ClusterPool>, std::less<>> pools;
  ~WorkerConfig() {
    plugins.clear();  // roots get on_done/on_delete before the engines go
  }
  ClusterPool* pool(std::string_view name) const {
    auto it = pools.find(name);
    return it == pools.end() ? nullptr : it->second.get();
  }
};

class WorkerState : public proxy_wasm::host::VmHost,
                    public std::enable_shared_from_this<WorkerState> {
 public:
  WorkerState(boost::asio::io_context& io, int index, WorkerOptions options)
      : io_(io), index_(index), options_(options) {}
  ~WorkerState() override;

  boost::asio::io_context& io() { return io_; }
  void releaseEngines();
  const WorkerOptions& options() const { return options_; }
  std::shared_ptr<WorkerConfig> config() const { return config_; }
  bool draining() const { return draining_; }

  // Instantiates `bootstrap` here (pools, plugins started) without switching to it; on failure
  // nothing is kept. commitConfig() switches new streams to it, abandonConfig() drops it.
  bool prepareConfig(std::shared_ptr<const Bootstrap> bootstrap, std::string* error);
  void commitConfig();
  void abandonConfig() { prepared_.reset(); }
  // Binds the listeners of the current config on this thread; returns an error or "".
  std::string listen();
  void beginDrain();
  void maybeFinishDrain();

  // Connections waiting for their next request (cancelled on drain).
  IdleList idle_connections_;
  std::atomic<size_t> active_requests_{0};
  // Plugins stopped but still flushing (on_done returned false), and whether the drain finished
  // (no request, no flushing plugin: the loop stopped itself).
  std::atomic<size_t> finishing_plugins_{0};
  std::atomic<bool> drained_{false};

  // ---- VmHost ----
  uint64_t realtimeNanos() override;
  uint64_t monotonicNanos() override;
  void log(const proxy_wasm::host::PluginConfig* plugin, proxy_wasm::host::LogLevel level,
           std::string_view message) override;
  proxy_wasm::host::LogLevel logLevel() override;
  void setTickPeriod(proxy_wasm::host::Vm& vm, uint32_t root, uint32_t period_ms) override;
  proxy_wasm::host::WasmResult httpCall(proxy_wasm::host::Vm& vm, uint32_t root, uint32_t token,
                                        proxy_wasm::host::HttpCallRequest request) override;
  proxy_wasm::host::WasmResult grpcCall(proxy_wasm::host::Vm&, uint32_t, uint32_t,
                                        proxy_wasm::host::GrpcCallRequest) override;
  proxy_wasm::host::WasmResult grpcStream(proxy_wasm::host::Vm& vm, uint32_t root, uint32_t token,
                                          proxy_wasm::host::GrpcCallRequest request) override;
  proxy_wasm::host::WasmResult grpcSend(proxy_wasm::host::Vm& vm, uint32_t token,
                                        std::string_view message, bool end_stream) override;
  proxy_wasm::host::WasmResult grpcCancel(proxy_wasm::host::Vm& vm, uint32_t token) override;
  proxy_wasm::host::WasmResult grpcClose(proxy_wasm::host::Vm& vm, uint32_t token) override;
  void cancelAll(proxy_wasm::host::Vm& vm) override;
  void post(std::function<void()> task) override;
  proxy_wasm::host::WasmResult getProperty(std::string_view path, std::string* value) override;
  void onVmFailed(proxy_wasm::host::Vm& vm) override;
  void holdUntilDone(std::shared_ptr<proxy_wasm::host::Vm> vm, uint32_t root) override;
  void onPluginDone(proxy_wasm::host::Vm& vm, uint32_t root) override;

 private:
  // The config being applied while its plugins start, else the current one.
  const WorkerConfig* activeConfig() const {
    return config_under_construction_ != nullptr ? config_under_construction_ : config_.get();
  }
  proxy_wasm::host::WasmResult grpcTarget(std::string_view service, std::string* target) const;
  GrpcStreamHandle* streamOf(proxy_wasm::host::Vm& vm, uint32_t token);
  proxy_wasm::host::Engine* engineFor(const std::string& runtime, std::string* error);
  void spawnAccept(size_t i);
  void armTick(std::shared_ptr<boost::asio::steady_timer> timer, proxy_wasm::host::Vm* vm,
               uint32_t root, std::chrono::milliseconds period);
  // Releases the held VMs whose plugin finished (root 0) or whose VM failed, then re-checks drain.
  void releaseFinished();

  boost::asio::io_context& io_;
  int index_;
  WorkerOptions options_;
  bool draining_ = false;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::acceptor>> acceptors_;
  std::map<std::string, std::unique_ptr<proxy_wasm::host::Engine>> engines_;
  proxy_wasm::host::VmPool vm_pool_;  // before config_: its plugins point to it
  std::shared_ptr<WorkerConfig> config_;
  std::shared_ptr<WorkerConfig> prepared_;  // started, waiting for every worker to be ready
  WorkerConfig* config_under_construction_ = nullptr;
  std::map<std::pair<proxy_wasm::host::Vm*, uint32_t>, std::shared_ptr<boost::asio::steady_timer>>
      timers_;
  std::unordered_map<uint32_t, proxy_wasm::host::Vm*> callouts_;
  std::unordered_map<uint32_t, std::shared_ptr<GrpcCallHandle>> grpc_calls_;  // by token
  // Stopped plugins flushing before they go: their VM and root (0 once done).
  std::vector<std::pair<std::shared_ptr<proxy_wasm::host::Vm>, uint32_t>> finishing_;
};

}  // namespace wasm_proxy
