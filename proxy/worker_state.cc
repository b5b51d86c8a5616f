#include "worker_state.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "connection_manager.h"
#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/abi/property.h"
#include "proxy_wasm/host/vm.h"
#include "upstream/upstream_exchange.h"

namespace wasm_proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using proxy_wasm::host::Engine;
using proxy_wasm::host::GrpcCallRequest;
using proxy_wasm::host::HttpCalloutAnswer;
using proxy_wasm::host::HttpCallRequest;
using proxy_wasm::host::LogLevel;
using proxy_wasm::host::PluginConfig;
using proxy_wasm::host::ThreadLocalPlugin;
using proxy_wasm::host::Vm;
using proxy_wasm::host::WasmResult;

WorkerState::~WorkerState() {
  config_.reset();
  finishing_.clear();
  timers_.clear();
  engines_.clear();
}

void WorkerState::releaseEngines() {
  for (auto& [runtime, engine] : engines_) engine->releaseThread();
}

bool WorkerState::prepareConfig(std::shared_ptr<const Bootstrap> bootstrap, std::string* error) {
  prepared_.reset();
  auto cfg = std::make_shared<WorkerConfig>();
  cfg->bootstrap = bootstrap;
  for (const auto& [name, cluster] : bootstrap->clusters) {
    cfg->pools.emplace(name, std::make_unique<ClusterPool>(io_, cluster));
  }
  config_under_construction_ = cfg.get();
  for (const auto& l : bootstrap->listeners) {
    for (const auto& f : l.filters) {
      if (!f.wasm || cfg->plugins.count(f.wasm.get()) != 0) continue;
      Engine* engine = engineFor(f.wasm->vm.runtime, error);
      if (engine == nullptr) {
        config_under_construction_ = nullptr;
        return false;
      }
      // Plugins whose VMs would be identical share one, as in Envoy.
      auto plugin = std::make_unique<ThreadLocalPlugin>(f.wasm->code, f.wasm->vm, f.wasm->plugin,
                                                        *engine, *this, &vm_pool_);
      if (!plugin->start(error)) {
        *error = bootstrap->source + ": " + f.wasm->yaml_path + ": plugin '" +
                 f.wasm->plugin->name + "' failed to start: " + *error;
        config_under_construction_ = nullptr;
        return false;
      }
      cfg->plugins.emplace(f.wasm.get(), std::move(plugin));
    }
  }
  config_under_construction_ = nullptr;
  prepared_ = std::move(cfg);
  return true;
}

void WorkerState::commitConfig() {
  if (prepared_) config_ = std::move(prepared_);
}

std::string WorkerState::listen() {
  const auto& config = config_->bootstrap;
  for (const auto& l : config->listeners) {
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(l.address.address, ec);
    if (ec) return config->source + ": listener " + l.name + ": bad address " + l.address.address;
    auto acceptor = std::make_unique<tcp::acceptor>(io_);
    tcp::endpoint ep(addr, l.address.port);
    acceptor->open(ep.protocol(), ec);
    acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    int one = 1;
    ::setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return config->source + ": listener " + l.name + " on " + l.address.toString() + ": " +
             ec.message();
    }
    acceptors_.push_back(std::move(acceptor));
  }
  for (size_t i = 0; i < acceptors_.size(); ++i) spawnAccept(i);
  return "";
}

namespace {

// Accepts connections until the acceptor closes. When accepting fails for a reason other than
// the acceptor closing (out of file descriptors, say), it backs off instead of spinning.
asio::awaitable<void> acceptLoop(std::shared_ptr<WorkerState> state, tcp::acceptor& acceptor,
                                 size_t listener_index) {
  asio::steady_timer backoff(acceptor.get_executor());
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      spdlog::warn("accept failed: {}; retrying in 100 ms", ec.message());
      backoff.expires_after(std::chrono::milliseconds(100));
      co_await backoff.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    startConnection(state, std::move(socket), listener_index);
  }
}

}  // namespace

void WorkerState::spawnAccept(size_t i) {
  asio::co_spawn(io_, acceptLoop(shared_from_this(), *acceptors_[i], i), asio::detached);
}

void WorkerState::beginDrain() {
  draining_ = true;
  for (auto& a : acceptors_) {
    boost::system::error_code ec;
    a->close(ec);
  }
  for (IdleWait& idle : idle_connections_) {
    boost::system::error_code ec;
    idle.socket->cancel(ec);
  }
  maybeFinishDrain();
}

void WorkerState::maybeFinishDrain() {
  if (!draining_ || active_requests_ > 0 || !idle_connections_.empty()) return;
  // Nothing in flight: stop the plugins (roots get on_done) and their timers. The config stays:
  // a plugin flushing in on_done still reaches its clusters.
  if (config_) config_->plugins.clear();
  for (auto& [key, t] : timers_) t->cancel();
  timers_.clear();
  if (!finishing_.empty()) return;  // onPluginDone comes back here; main's deadline bounds it
  drained_ = true;
  io_.stop();
}

void WorkerState::holdUntilDone(std::shared_ptr<Vm> vm, uint32_t root) {
  finishing_.emplace_back(std::move(vm), root);
  finishing_plugins_ = finishing_.size();
}

void WorkerState::onPluginDone(Vm& vm, uint32_t root) {
  for (auto& [held, id] : finishing_) {
    if (held.get() == &vm && id == root) id = 0;
  }
  asio::post(io_, [self = shared_from_this()] { self->releaseFinished(); });
}

void WorkerState::releaseFinished() {
  std::erase_if(finishing_, [](const auto& f) { return f.second == 0 || f.first->failed(); });
  finishing_plugins_ = finishing_.size();
  maybeFinishDrain();
}

uint64_t WorkerState::realtimeNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

uint64_t WorkerState::monotonicNanos() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

void WorkerState::log(const PluginConfig* plugin, LogLevel level, std::string_view message) {
  auto lvl = static_cast<spdlog::level::level_enum>(static_cast<int>(level));
  if (!spdlog::should_log(lvl)) return;
  spdlog::log(lvl, "wasm log {}: {}", plugin != nullptr ? plugin->name : "", message);
}

LogLevel WorkerState::logLevel() {
  int l = static_cast<int>(spdlog::get_level());
  return static_cast<LogLevel>(l > 5 ? 5 : l);
}

void WorkerState::setTickPeriod(Vm& vm, uint32_t root, uint32_t period_ms) {
  auto key = std::make_pair(&vm, root);
  if (auto it = timers_.find(key); it != timers_.end()) {
    it->second->cancel();
    timers_.erase(it);
  }
  if (period_ms == 0) return;
  auto timer = std::make_shared<asio::steady_timer>(io_);
  timers_[key] = timer;
  armTick(timer, &vm, root, std::chrono::milliseconds(period_ms));
}

void WorkerState::armTick(std::shared_ptr<asio::steady_timer> timer, Vm* vm, uint32_t root,
                          std::chrono::milliseconds period) {
  timer->expires_after(period);
  std::weak_ptr<asio::steady_timer> weak = timer;
  timer->async_wait([this, weak, vm, root, period](boost::system::error_code ec) {
    auto t = weak.lock();
    if (ec || !t) return;
    auto it = timers_.find(std::make_pair(vm, root));
    if (it == timers_.end() || it->second != t) return;
    vm->onTick(root);
    // The tick may have changed or cleared the period (or failed the VM).
    it = timers_.find(std::make_pair(vm, root));
    if (it != timers_.end() && it->second == t) armTick(t, vm, root, period);
  });
}

WasmResult WorkerState::httpCall(Vm& vm, uint32_t root, uint32_t token, HttpCallRequest request) {
  const WorkerConfig* active = activeConfig();
  ClusterPool* p = active != nullptr ? active->pool(request.cluster) : nullptr;
  if (p == nullptr) return WasmResult::BadArgument;
  callouts_[token] = &vm;
  auto msg = std::make_shared<Message>();
  for (auto& [k, v] : request.headers) msg->headers.add(k, v);
  msg->body = std::move(request.body);
  auto timeout = std::chrono::milliseconds(request.timeout_ms);
  auto self = shared_from_this();
  // The callout runs against the pool of the current config; keep that config alive.
  std::shared_ptr<WorkerConfig> cfg = config_;
  asio::co_spawn(
      io_,
      [self, cfg, p, msg, timeout, &vm, root, token]() -> asio::awaitable<void> {
        CalloutResult r = co_await fetchWhole(*p, *msg, timeout);
        auto it = self->callouts_.find(token);
        if (it == self->callouts_.end() || it->second != &vm) co_return;  // VM gone or cancelled
        self->callouts_.erase(it);
        HttpCalloutAnswer resp;
        if (r.failure == UpstreamFailure::None) {
          for (const auto& [k, v] : r.response.headers.entries()) resp.headers.emplace_back(k, v);
          for (const auto& [k, v] : r.response.trailers.entries()) resp.trailers.emplace_back(k, v);
          resp.body = std::move(r.response.body);
        } else if (r.failure == UpstreamFailure::Timeout) {
          // As Envoy: an upstream timeout reaches the plugin as a 504 local reply.
          resp.headers = {{":status", "504"}};
          resp.body = "upstream request timeout";
        }
        vm.onHttpCallResponse(root, token, std::move(resp));
      },
      asio::detached);
  return WasmResult::Ok;
}

// The gRPC target a proxy_grpc_call/proxy_grpc_stream `service` argument names.
WasmResult WorkerState::grpcTarget(std::string_view service, std::string* target) const {
  const GrpcServiceRef ref = parseGrpcService(service);
  *target = ref.target_uri;
  if (!target->empty()) return WasmResult::Ok;
  const WorkerConfig* active = activeConfig();
  if (active == nullptr) return WasmResult::ParseFailure;
  auto it = active->bootstrap->clusters.find(ref.cluster);
  // As Envoy: a cluster it does not know is a parse failure of the service argument.
  if (it == active->bootstrap->clusters.end() || it->second.endpoints.empty()) {
    return WasmResult::ParseFailure;
  }
  *target = it->second.endpoints.front().toString();
  return WasmResult::Ok;
}

WasmResult WorkerState::grpcCall(Vm& vm, uint32_t root, uint32_t token, GrpcCallRequest request) {
  std::string target;
  if (WasmResult r = grpcTarget(request.service, &target); r != WasmResult::Ok) return r;
  callouts_[token] = &vm;
  std::weak_ptr<WorkerState> weak = shared_from_this();
  grpc_calls_[token] = startGrpcCall(
      target, "/" + request.service_name + "/" + request.method, request.initial_metadata,
      std::move(request.message), std::chrono::milliseconds(request.timeout_ms), io_.get_executor(),
      [weak, &vm, root, token](GrpcCallResult r) {
        auto self = weak.lock();
        if (!self) return;
        self->grpc_calls_.erase(token);
        auto it = self->callouts_.find(token);
        if (it == self->callouts_.end() || it->second != &vm) return;  // cancelled or VM gone
        self->callouts_.erase(it);
        if (r.status == 0) {
          vm.onGrpcReceive(root, token, std::move(r.response));
        } else {
          vm.onGrpcClose(root, token, r.status, std::move(r.message));
        }
      });
  return WasmResult::Ok;
}

WasmResult WorkerState::grpcCancel(Vm& vm, uint32_t token) {
  auto it = callouts_.find(token);
  if (it == callouts_.end() || it->second != &vm) return WasmResult::NotFound;
  callouts_.erase(it);
  if (auto call = grpc_calls_.find(token); call != grpc_calls_.end()) {
    call->second->cancel();
    grpc_calls_.erase(call);
  }
  return WasmResult::Ok;
}

WasmResult WorkerState::grpcStream(Vm& vm, uint32_t root, uint32_t token, GrpcCallRequest request) {
  std::string target;
  if (WasmResult r = grpcTarget(request.service, &target); r != WasmResult::Ok) return r;
  callouts_[token] = &vm;
  std::weak_ptr<WorkerState> weak = shared_from_this();
  // Each event reaches the VM only while the stream is still this VM's (not cancelled).
  auto live = [weak, &vm, token]() -> std::shared_ptr<WorkerState> {
    auto self = weak.lock();
    if (!self) return nullptr;
    auto it = self->callouts_.find(token);
    return it != self->callouts_.end() && it->second == &vm ? self : nullptr;
  };
  GrpcStreamEvents events;
  events.initial_metadata = [live, &vm, root, token](GrpcMetadata md) {
    if (live()) vm.onGrpcReceiveInitialMetadata(root, token, std::move(md));
  };
  events.message = [live, &vm, root, token](std::string m) {
    if (live()) vm.onGrpcReceive(root, token, std::move(m));
  };
  events.trailing_metadata = [live, &vm, root, token](GrpcMetadata md) {
    if (live()) vm.onGrpcReceiveTrailingMetadata(root, token, std::move(md));
  };
  events.close = [live, &vm, root, token](GrpcCallResult r) {
    auto self = live();
    if (!self) return;
    self->callouts_.erase(token);
    self->grpc_calls_.erase(token);
    vm.onGrpcClose(root, token, r.status, std::move(r.message));
  };
  grpc_calls_[token] =
      startGrpcStream(target, "/" + request.service_name + "/" + request.method,
                      request.initial_metadata, io_.get_executor(), std::move(events));
  return WasmResult::Ok;
}

// The stream of `token` if it is `vm`'s, else null.
GrpcStreamHandle* WorkerState::streamOf(Vm& vm, uint32_t token) {
  auto owner = callouts_.find(token);
  auto call = grpc_calls_.find(token);
  if (owner == callouts_.end() || owner->second != &vm || call == grpc_calls_.end()) return nullptr;
  return dynamic_cast<GrpcStreamHandle*>(call->second.get());
}

WasmResult WorkerState::grpcSend(Vm& vm, uint32_t token, std::string_view message,
                                 bool end_stream) {
  GrpcStreamHandle* stream = streamOf(vm, token);
  if (stream == nullptr) return WasmResult::NotFound;
  stream->send(std::string(message), end_stream);
  return WasmResult::Ok;
}

WasmResult WorkerState::grpcClose(Vm& vm, uint32_t token) {
  GrpcStreamHandle* stream = streamOf(vm, token);
  if (stream == nullptr) return WasmResult::NotFound;
  stream->closeSend();  // a local half-close: the server's messages still arrive
  return WasmResult::Ok;
}

void WorkerState::cancelAll(Vm& vm) {
  for (auto it = callouts_.begin(); it != callouts_.end();) {
    if (it->second != &vm) {
      ++it;
      continue;
    }
    if (auto call = grpc_calls_.find(it->first); call != grpc_calls_.end()) {
      call->second->cancel();
      grpc_calls_.erase(call);
    }
    it = callouts_.erase(it);
  }
  for (auto it = timers_.begin(); it != timers_.end();) {
    if (it->first.first == &vm) {
      it->second->cancel();
      it = timers_.erase(it);
    } else {
      ++it;
    }
  }
}

void WorkerState::post(std::function<void()> task) {
  asio::post(io_, std::move(task));
}

WasmResult WorkerState::getProperty(std::string_view path, std::string* value) {
  // While a config is being applied its plugins start (on_configure may read node.*).
  const WorkerConfig* cfg = activeConfig();
  if (cfg == nullptr) return WasmResult::NotFound;
  const Node& node = cfg->bootstrap->node;
  std::vector<std::string_view> seg;
  proxy_wasm::abi::splitPropertyPath(path, [&](std::string_view s) { seg.push_back(s); });
  if (!seg.empty() && seg[0] == "xds") seg.erase(seg.begin());
  if (seg.size() < 2 || seg[0] != "node") return WasmResult::NotFound;
  auto present = [&](const std::string& v) {
    if (v.empty()) return WasmResult::NotFound;
    *value = v;
    return WasmResult::Ok;
  };
  if (seg[1] == "id" && seg.size() == 2) return present(node.id);
  if (seg[1] == "cluster" && seg.size() == 2) return present(node.cluster);
  if (seg[1] == "metadata" && seg.size() == 3) {
    auto it = node.metadata.find(std::string(seg[2]));
    if (it == node.metadata.end()) return WasmResult::NotFound;
    *value = it->second;
    return WasmResult::Ok;
  }
  if (seg[1] == "metadata" && seg.size() == 2) {
    *value = proxy_wasm::abi::encodePairs(node.metadata);
    return WasmResult::Ok;
  }
  return WasmResult::NotFound;
}

void WorkerState::onVmFailed(Vm& vm) {
  spdlog::error("worker {}: wasm VM {} failed: {}", index_, vm.config().vm_id, vm.failureMessage());
  if (!finishing_.empty())
    asio::post(io_, [self = shared_from_this()] { self->releaseFinished(); });
}

Engine* WorkerState::engineFor(const std::string& runtime, std::string* error) {
  auto it = engines_.find(runtime);
  if (it != engines_.end()) return it->second.get();
  auto engine = proxy_wasm::host::createEngine(runtime, error);
  if (!engine) return nullptr;
  return engines_.emplace(runtime, std::move(engine)).first->second.get();
}

}  // namespace wasm_proxy
