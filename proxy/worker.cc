#include "worker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <deque>
#include <future>
#include <map>
#include <random>
#include <set>
#include <unordered_map>

#include "http1.h"
#include "message.h"
#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/abi/property.h"
#include "proxy_wasm/host/thread_local_plugin.h"
#include "proxy_wasm/host/vm.h"
#include "proxy_wasm/host/vm_pool.h"
#include "router.h"

namespace wasm_proxy {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using proxy_wasm::host::Engine;
using proxy_wasm::host::FilterDataStatus;
using proxy_wasm::host::FilterHeadersStatus;
using proxy_wasm::host::GrpcCallRequest;
using proxy_wasm::host::HeaderMap;
using proxy_wasm::host::HttpCallRequest;
using proxy_wasm::host::HttpCallResponse;
using proxy_wasm::host::LocalReply;
using proxy_wasm::host::LogLevel;
using proxy_wasm::host::MapType;
using proxy_wasm::host::Metric;
using proxy_wasm::host::MetricsRegistry;
using proxy_wasm::host::MetricType;
using proxy_wasm::host::PluginConfig;
using proxy_wasm::host::StreamHost;
using proxy_wasm::host::StreamType;
using proxy_wasm::host::ThreadLocalPlugin;
using proxy_wasm::host::Vm;
using proxy_wasm::host::VmHost;
using proxy_wasm::host::WasmResult;
using BufferType = proxy_wasm::abi::BufferType;

constexpr auto nothrow = asio::as_tuple(use_awaitable);

ProxyStats& ProxyStats::instance() {
  static ProxyStats* s = [] {
    auto* st = new ProxyStats();
    auto& r = MetricsRegistry::instance();
    st->downstream_cx_total = r.define(MetricType::Counter, "http.downstream_cx_total");
    st->downstream_cx_active = r.define(MetricType::Gauge, "http.downstream_cx_active");
    st->downstream_rq_total = r.define(MetricType::Counter, "http.downstream_rq_total");
    for (int i = 1; i <= 5; ++i) {
      st->downstream_rq_xx[i] =
          r.define(MetricType::Counter, "http.downstream_rq_" + std::to_string(i) + "xx");
    }
    st->downstream_rq_xx[0] = st->downstream_rq_xx[5];
    st->upstream_cx_total = r.define(MetricType::Counter, "cluster.upstream_cx_total");
    st->upstream_cx_connect_fail =
        r.define(MetricType::Counter, "cluster.upstream_cx_connect_fail");
    st->upstream_rq_total = r.define(MetricType::Counter, "cluster.upstream_rq_total");
    st->upstream_rq_timeout = r.define(MetricType::Counter, "cluster.upstream_rq_timeout");
    st->downstream_rq_bad = r.define(MetricType::Counter, "http.downstream_rq_rejected_malformed");
    return st;
  }();
  return *s;
}

namespace {

uint64_t monotonicNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}
uint64_t realtimeNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// A random (version 4) UUID, formatted without printf.
std::string requestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  const uint64_t words[2] = {rng(), rng()};
  std::string out(36, '-');
  for (int d = 0, i = 0; d < 32; ++d, ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) ++i;
    out[i] = kHex[(words[d / 16] >> (60 - 4 * (d % 16))) & 0xf];
  }
  out[14] = '4';                         // version 4
  out[19] = kHex[8 | (words[1] & 0x3)];  // variant 10xx
  return out;
}

// Cancels a socket's pending operations when a time point passes, with one timer and no
// parallel awaitables; expired() tells the awaiting code why its operation was aborted.
class SocketDeadline {
 public:
  explicit SocketDeadline(const asio::any_io_executor& ex) : timer_(ex) {}
  ~SocketDeadline() { disarm(); }
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  void arm(tcp::socket& socket, std::chrono::steady_clock::time_point when) {
    disarm();
    if (when == std::chrono::steady_clock::time_point::max()) return;
    state_ = std::make_shared<State>();
    state_->socket = &socket;
    timer_.expires_at(when);
    timer_.async_wait([state = state_](boost::system::error_code ec) {
      if (ec || state->socket == nullptr) return;
      state->expired = true;
      state->socket->cancel(ec);
    });
  }
  void disarm() {
    if (!state_) return;
    state_->socket = nullptr;
    timer_.cancel();
    state_.reset();
  }
  bool expired() const { return state_ && state_->expired; }

  // Like arm(), for a wait whose clock starts with its first byte: each time `period` passes
  // while `idle()` is true the wait is extended, up to `idle_limit` in all.
  void armAfterFirstByte(tcp::socket& socket, std::chrono::steady_clock::duration period,
                         std::chrono::steady_clock::duration idle_limit,
                         std::function<bool()> idle) {
    disarm();
    state_ = std::make_shared<State>();
    state_->socket = &socket;
    state_->idle = std::move(idle);
    state_->idle_until = std::chrono::steady_clock::now() + idle_limit;
    state_->period = period;
    wait(state_);
  }

 private:
  struct State {
    tcp::socket* socket = nullptr;
    bool expired = false;
    std::function<bool()> idle;
    std::chrono::steady_clock::time_point idle_until;
    std::chrono::steady_clock::duration period{};
  };
  void wait(std::shared_ptr<State> state) {
    timer_.expires_after(state->period);
    timer_.async_wait([this, state](boost::system::error_code ec) {
      if (ec || state->socket == nullptr) return;
      if (state->idle && state->idle() && std::chrono::steady_clock::now() < state->idle_until) {
        wait(state);  // `this` is alive: disarm() (also in the destructor) clears state->socket
        return;
      }
      state->expired = true;
      state->socket->cancel(ec);
    });
  }
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

// A connection to one upstream endpoint, with the bytes read past the last response.
struct UpstreamConnection {
  explicit UpstreamConnection(asio::io_context& io) : socket(io) {}
  tcp::socket socket;
  beast::flat_buffer buffer;
  size_t endpoint = 0;
  bool reused = false;
  bool reusable = true;  // false once the framing of a request on it went wrong
};

enum class UpstreamFailure { None, ConnectFail, Timeout, Reset };

// Per-worker keep-alive connections to one cluster's endpoints, round robin.
class ClusterPool {
 public:
  ClusterPool(asio::io_context& io, const Cluster& cluster) : io_(io), cluster_(cluster) {
    tcp::resolver resolver(io);
    for (const auto& ep : cluster.endpoints) {
      boost::system::error_code ec;
      auto results = resolver.resolve(ep.address, std::to_string(ep.port), ec);
      if (ec) {
        spdlog::warn("cluster {}: cannot resolve {}: {}", cluster.name, ep.toString(),
                     ec.message());
        continue;
      }
      for (const auto& r : results) {
        endpoints_.push_back(r.endpoint());
        if (cluster.type == Cluster::Type::LogicalDns) break;
      }
    }
    idle_.resize(endpoints_.size());
  }

  const Cluster& cluster() const { return cluster_; }

  std::string endpointAddress(size_t i) const {
    const auto& ep = endpoints_[i];
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  // An idle connection of the next endpoint, or a new one (bounded by the connect timeout and
  // `deadline`). `fresh` skips the idle ones (a retry after a stale pooled connection).
  awaitable<std::unique_ptr<UpstreamConnection>> acquire(
      std::chrono::steady_clock::time_point deadline, UpstreamFailure* failure, bool fresh = false,
      std::optional<size_t> endpoint = std::nullopt) {
    *failure = UpstreamFailure::None;
    if (endpoints_.empty()) {
      *failure = UpstreamFailure::ConnectFail;
      co_return nullptr;
    }
    const size_t i = endpoint ? *endpoint : next_++ % endpoints_.size();
    if (!fresh && !idle_[i].empty()) {
      auto c = std::move(idle_[i].back());
      idle_[i].pop_back();
      c->reused = true;
      co_return c;
    }
    auto c = std::make_unique<UpstreamConnection>(io_);
    c->endpoint = i;
    ProxyStats::instance().upstream_cx_total->add(1);
    const auto connect_deadline =
        std::min(deadline, std::chrono::steady_clock::now() + cluster_.connect_timeout);
    c->socket.open(endpoints_[i].protocol());
    SocketDeadline timer(io_.get_executor());
    timer.arm(c->socket, connect_deadline);
    auto [ec] = co_await c->socket.async_connect(endpoints_[i], nothrow);
    const bool expired = timer.expired();
    timer.disarm();
    if (ec) {
      ProxyStats::instance().upstream_cx_connect_fail->add(1);
      *failure = expired && std::chrono::steady_clock::now() >= deadline
                     ? UpstreamFailure::Timeout
                     : UpstreamFailure::ConnectFail;
      co_return nullptr;
    }
    boost::system::error_code ignored;
    c->socket.set_option(tcp::no_delay(true), ignored);
    co_return c;
  }

  void release(std::unique_ptr<UpstreamConnection> c) {
    if (!c->reusable || c->buffer.size() != 0 || idle_[c->endpoint].size() >= 64) return;
    idle_[c->endpoint].push_back(std::move(c));
  }

 private:
  asio::io_context& io_;
  const Cluster& cluster_;
  std::vector<tcp::endpoint> endpoints_;
  std::vector<std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
  size_t next_ = 0;
};

// The fields a parser added after the head: a chunked message's trailers.
template <class Fields>
void collectTrailers(const Fields& fields, size_t head_fields, VectorHeaderMap& out) {
  size_t i = 0;
  for (const auto& f : fields) {
    if (i++ < head_fields) continue;
    out.add(f.name_string(), f.value());
  }
}

// Reads one body (request or response) as it arrives, decoded (Content-Length or chunked), in
// pieces of at most kPiece bytes; bytes already buffered are parsed without a syscall.
template <bool isRequest>
class BodyReader {
 public:
  static constexpr size_t kPiece = 64 * 1024;
  using Parser = http::parser<isRequest, http::buffer_body>;

  BodyReader(tcp::socket& socket, beast::flat_buffer& buffer, Parser& parser)
      : socket_(socket), buffer_(buffer), parser_(parser) {
    head_fields_ = static_cast<size_t>(std::distance(parser.get().begin(), parser.get().end()));
  }
  bool done() const { return parser_.is_done(); }
  bool buffered() const { return buffer_.size() != 0; }
  uint64_t bytes() const { return bytes_; }

  // Appends the next decoded piece to `out`.
  awaitable<boost::system::error_code> read(std::string& out, char* scratch) {
    parser_.get().body().data = scratch;
    parser_.get().body().size = kPiece;
    auto [ec, n] = co_await http::async_read_some(socket_, buffer_, parser_, nothrow);
    if (ec == http::error::need_buffer) ec = {};
    const size_t got = kPiece - parser_.get().body().size;
    out.append(scratch, got);
    bytes_ += got;
    co_return ec;
  }
  void trailers(VectorHeaderMap& out) const { collectTrailers(parser_.get(), head_fields_, out); }

 private:
  tcp::socket& socket_;
  beast::flat_buffer& buffer_;
  Parser& parser_;
  size_t head_fields_ = 0;
  uint64_t bytes_ = 0;
};

// Headers of a parsed request or response, as the filters see them.
VectorHeaderMap requestHeaders(const http::request_header<>& req, std::string_view scheme) {
  VectorHeaderMap m;
  m.add(":method", req.method_string());
  m.add(":path", req.target());
  m.add(":authority", req[http::field::host]);
  m.add(":scheme", scheme);
  for (const auto& f : req) {
    if (f.name() == http::field::host) continue;
    m.add(f.name_string(), f.value());
  }
  return m;
}

VectorHeaderMap responseHeaders(const http::response_header<>& res) {
  VectorHeaderMap m;
  m.add(":status", std::to_string(res.result_int()));
  for (const auto& f : res) m.add(f.name_string(), f.value());
  return m;
}

// Reads the next final response head on `conn` into `parser` (a fresh one per head): interim
// 1xx responses are skipped. `got_some` tells whether any response bytes came (a stale pooled
// connection sends none). Reads the whole response when `whole`, else the head only.
template <class Body>
awaitable<boost::system::error_code> readFinalResponse(
    UpstreamConnection& conn, std::optional<http::response_parser<Body>>& parser, bool whole,
    bool skip_body, bool* got_some) {
  for (;;) {
    parser.emplace();
    if (whole) {
      parser->body_limit(64u << 20);
    } else {
      parser->body_limit(boost::none);
    }
    if (skip_body) parser->skip(true);
    auto [ec, n] =
        whole ? co_await http::async_read(conn.socket, conn.buffer, *parser, nothrow)
              : co_await http::async_read_header(conn.socket, conn.buffer, *parser, nothrow);
    *got_some = *got_some || parser->got_some();
    const unsigned status = parser->get().result_int();
    if (ec || status >= 200 || status == 101) co_return ec;
  }
}

struct UpstreamResult {
  UpstreamFailure failure = UpstreamFailure::None;
  Message response;
  std::string upstream_address;
};

// A whole request to `pool` and its whole response, for callouts. A pooled connection the peer
// has closed meanwhile gets one retry on a fresh connection.
awaitable<UpstreamResult> fetch(ClusterPool& pool, const Message& request,
                                std::chrono::milliseconds timeout) {
  UpstreamResult out;
  ProxyStats::instance().upstream_rq_total->add(1);
  const auto deadline = timeout.count() > 0 ? std::chrono::steady_clock::now() + timeout
                                            : std::chrono::steady_clock::time_point::max();
  std::string wire;
  http1::BodyShape shape;
  shape.complete = true;
  shape.known_size = request.body.size();
  shape.is_request = true;
  shape.method = request.header(":method");
  http1::MessageWriter writer(http1::requestHead(request.headers), request.headers, shape);
  writer.append(wire, request.body, true);
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = co_await pool.acquire(deadline, &out.failure, attempt > 0);
    if (!conn) co_return out;
    out.upstream_address = pool.endpointAddress(conn->endpoint);
    SocketDeadline timer(conn->socket.get_executor());
    timer.arm(conn->socket, deadline);
    auto [ec, n] = co_await asio::async_write(conn->socket, asio::buffer(wire), nothrow);
    std::optional<http::response_parser<http::string_body>> parser;
    bool got_some = false;
    if (!ec) ec = co_await readFinalResponse(*conn, parser, true, false, &got_some);
    if (timer.expired()) {
      ProxyStats::instance().upstream_rq_timeout->add(1);
      out.failure = UpstreamFailure::Timeout;
      co_return out;
    }
    if (ec) {
      if (conn->reused && attempt == 0 && !got_some) continue;
      out.failure = UpstreamFailure::Reset;
      co_return out;
    }
    timer.disarm();
    auto res = parser->release();
    out.response.headers = responseHeaders(res);
    out.response.body = std::move(res.body());
    if (res.keep_alive()) pool.release(std::move(conn));
    co_return out;
  }
  out.failure = UpstreamFailure::Reset;
  co_return out;
}

}  // namespace

// ---- per-worker state ------------------------------------------------------------------------

// One config snapshot as instantiated on one worker: plugins (VMs) and upstream pools.
struct WorkerConfig {
  std::shared_ptr<const Bootstrap> bootstrap;
  std::map<const WasmFilter*, std::unique_ptr<ThreadLocalPlugin>> plugins;
  std::map<std::string, std::unique_ptr<ClusterPool>, std::less<>> pools;
  ~WorkerConfig() {
    plugins.clear();  // roots get on_done/on_delete before the engines go
  }
};

class WorkerState : public VmHost, public std::enable_shared_from_this<WorkerState> {
 public:
  WorkerState(asio::io_context& io, int index, WorkerOptions options)
      : io_(io), index_(index), options_(options) {}
  ~WorkerState() override {
    config_.reset();
    timers_.clear();
    engines_.clear();
  }

  asio::io_context& io() { return io_; }
  void releaseEngines() {
    for (auto& [runtime, engine] : engines_) engine->releaseThread();
  }
  const WorkerOptions& options() const { return options_; }
  std::shared_ptr<WorkerConfig> config() const { return config_; }
  bool draining() const { return draining_; }

  bool applyConfig(std::shared_ptr<const Bootstrap> bootstrap, std::string* error) {
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
        if (engine == nullptr) return false;
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
    config_ = std::move(cfg);
    return true;
  }

  // Binds the listeners of the current config on this thread; returns an error or "".
  std::string listen() {
    const auto& config = config_->bootstrap;
    for (size_t i = 0; i < config->listeners.size(); ++i) {
      const auto& l = config->listeners[i];
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
  void spawnAccept(size_t i);

  void beginDrain() {
    draining_ = true;
    for (auto& a : acceptors_) {
      boost::system::error_code ec;
      a->close(ec);
    }
    for (tcp::socket* s : idle_sockets_) {
      boost::system::error_code ec;
      s->cancel(ec);
    }
    maybeFinishDrain();
  }
  void maybeFinishDrain() {
    if (!draining_ || active_requests_ > 0 || !idle_sockets_.empty()) return;
    // Nothing in flight: stop the plugins (roots get on_done), their timers and the loop.
    config_.reset();
    for (auto& [key, t] : timers_) t->cancel();
    timers_.clear();
    io_.stop();
  }

  std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
  std::set<tcp::socket*> idle_sockets_;  // connections waiting for their next request
  std::atomic<size_t> active_requests_{0};

  ClusterPool* pool(std::string_view name) {
    WorkerConfig* cfg =
        config_under_construction_ != nullptr ? config_under_construction_ : config_.get();
    if (cfg == nullptr) return nullptr;
    auto it = cfg->pools.find(name);
    return it == cfg->pools.end() ? nullptr : it->second.get();
  }

  // ---- VmHost ----
  uint64_t realtimeNanos() override { return realtimeNs(); }
  uint64_t monotonicNanos() override { return monotonicNs(); }
  void log(const PluginConfig* plugin, LogLevel level, std::string_view message) override {
    auto lvl = static_cast<spdlog::level::level_enum>(static_cast<int>(level));
    if (!spdlog::should_log(lvl)) return;
    spdlog::log(lvl, "wasm log {}: {}", plugin != nullptr ? plugin->name : "", message);
  }
  LogLevel logLevel() override {
    int l = static_cast<int>(spdlog::get_level());
    return static_cast<LogLevel>(l > 5 ? 5 : l);
  }
  void setTickPeriod(Vm& vm, uint32_t root, uint32_t period_ms) override {
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
  WasmResult httpCall(Vm& vm, uint32_t root, uint32_t token, HttpCallRequest request) override {
    ClusterPool* p = pool(request.cluster);
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
        [self, cfg, p, msg, timeout, &vm, root, token]() -> awaitable<void> {
          UpstreamResult r = co_await fetch(*p, *msg, timeout);
          auto it = self->callouts_.find(token);
          if (it == self->callouts_.end() || it->second != &vm) co_return;  // VM gone or cancelled
          self->callouts_.erase(it);
          HttpCallResponse resp;
          if (r.failure == UpstreamFailure::None) {
            r.response.headers.forEach(
                [&](std::string_view k, std::string_view v) { resp.headers.emplace_back(k, v); });
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
  WasmResult grpcCall(Vm&, uint32_t, uint32_t, GrpcCallRequest) override {
    spdlog::warn("proxy_grpc_call is not supported by this wasm-proxy build yet");
    return WasmResult::Unimplemented;
  }
  WasmResult grpcStream(Vm&, uint32_t, uint32_t, GrpcCallRequest) override {
    spdlog::warn("proxy_grpc_stream is not supported by this wasm-proxy build yet");
    return WasmResult::Unimplemented;
  }
  WasmResult grpcSend(Vm&, uint32_t, std::string_view, bool) override {
    return WasmResult::NotFound;
  }
  WasmResult grpcCancel(Vm&, uint32_t) override { return WasmResult::NotFound; }
  WasmResult grpcClose(Vm&, uint32_t) override { return WasmResult::NotFound; }
  void cancelAll(Vm& vm) override {
    for (auto it = callouts_.begin(); it != callouts_.end();) {
      it = it->second == &vm ? callouts_.erase(it) : std::next(it);
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
  void post(std::function<void()> task) override { asio::post(io_, std::move(task)); }
  WasmResult getProperty(std::string_view path, std::string* value) override {
    // While a config is being applied its plugins start (on_configure may read node.*).
    const WorkerConfig* cfg =
        config_under_construction_ != nullptr ? config_under_construction_ : config_.get();
    if (cfg == nullptr) return WasmResult::NotFound;
    const Node& node = cfg->bootstrap->node;
    std::vector<std::string_view> seg;
    proxy_wasm::abi::splitPropertyPath(path, [&](std::string_view s) { seg.push_back(s); });
    if (!seg.empty() && seg[0] == "xds") seg.erase(seg.begin());
    if (seg.size() >= 2 && seg[0] == "node") {
      if (seg[1] == "id" && seg.size() == 2) return *value = node.id, WasmResult::Ok;
      if (seg[1] == "cluster" && seg.size() == 2) return *value = node.cluster, WasmResult::Ok;
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
    }
    return WasmResult::NotFound;
  }
  void onVmFailed(Vm& vm) override {
    spdlog::error("worker {}: wasm VM {} failed: {}", index_, vm.config().vm_id,
                  vm.failureMessage());
  }

 private:
  Engine* engineFor(const std::string& runtime, std::string* error) {
    auto it = engines_.find(runtime);
    if (it != engines_.end()) return it->second.get();
    auto engine = proxy_wasm::host::createEngine(runtime, error);
    if (!engine) return nullptr;
    return engines_.emplace(runtime, std::move(engine)).first->second.get();
  }

  void armTick(std::shared_ptr<asio::steady_timer> timer, Vm* vm, uint32_t root,
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

  asio::io_context& io_;
  int index_;
  WorkerOptions options_;
  bool draining_ = false;
  std::map<std::string, std::unique_ptr<Engine>> engines_;
  proxy_wasm::host::VmPool vm_pool_;  // before config_: its plugins point to it
  std::shared_ptr<WorkerConfig> config_;
  WorkerConfig* config_under_construction_ = nullptr;
  std::map<std::pair<Vm*, uint32_t>, std::shared_ptr<asio::steady_timer>> timers_;
  std::unordered_map<uint32_t, Vm*> callouts_;
};

// ---- one wasm filter's view of one stream ------------------------------------------------------

struct ConnectionInfo {
  std::string source_address, destination_address;
  uint16_t source_port = 0, destination_port = 0;
  uint64_t id = 0;
};

class WasmStream : public StreamHost {
 public:
  WasmStream(asio::io_context& io, std::shared_ptr<Vm> vm, uint32_t root, Message* request,
             Message* response, const ConnectionInfo& conn, const Route** route,
             const uint64_t* start_ns, std::map<std::string, std::string>* filter_state,
             std::string* upstream_address)
      : vm_(std::move(vm)),
        request_(request),
        response_(response),
        conn_(conn),
        route_(route),
        start_ns_(start_ns),
        filter_state_(filter_state),
        upstream_address_(upstream_address),
        io_(io) {
    id_ = vm_->createStream(root, this);
  }
  ~WasmStream() override { end(); }

  Vm& vm() { return *vm_; }
  uint32_t id() const { return id_; }
  bool response_headers_available = false;
  std::optional<LocalReply> local_reply;  // the latest one
  int local_replies = 0;
  bool continued[2] = {false, false};
  bool closed = false;

  void end() {
    if (ended_) return;
    ended_ = true;
    if (id_ != 0) vm_->endStream(id_);
  }

  // Waits until the plugin resumes `type`, replies locally or closes the stream.
  awaitable<void> waitResume(StreamType type) {
    const int i = type == StreamType::Request ? 0 : 1;
    const int replies = local_replies;
    while (!continued[i] && local_replies == replies && !closed && !vm_->failed()) {
      if (!wake_) wake_.emplace(io_);  // only streams that pause need one
      wake_->expires_at(std::chrono::steady_clock::time_point::max());
      co_await wake_->async_wait(nothrow);
    }
  }
  void wake() {
    if (wake_) wake_->cancel();
  }

  // StreamHost
  HeaderMap* headers(MapType type) override {
    switch (type) {
      case MapType::HttpRequestHeaders:
        return &request_->headers;
      case MapType::HttpRequestTrailers:
        return &request_->trailers;
      case MapType::HttpResponseHeaders:
        return response_headers_available ? &response_->headers : nullptr;
      case MapType::HttpResponseTrailers:
        return response_headers_available ? &response_->trailers : nullptr;
      default:
        return nullptr;
    }
  }
  std::string* body(BufferType type) override {
    if (type == BufferType::HttpRequestBody) return &request_->body;
    if (type == BufferType::HttpResponseBody && response_headers_available) return &response_->body;
    return nullptr;
  }
  void sendLocalReply(LocalReply reply) override {
    local_reply = std::move(reply);
    ++local_replies;
    wake();
  }
  void continueStream(StreamType type) override {
    continued[type == StreamType::Request ? 0 : 1] = true;
    wake();
  }
  void closeStream(StreamType) override {
    closed = true;
    wake();
  }
  WasmResult getProperty(std::string_view path, std::string* value) override;
  WasmResult setProperty(std::string_view path, std::string_view value) override {
    (*filter_state_)[std::string(path)] = std::string(value);
    return WasmResult::Ok;
  }

 private:
  std::shared_ptr<Vm> vm_;
  Message* request_;
  Message* response_;
  const ConnectionInfo& conn_;
  const Route** route_;
  const uint64_t* start_ns_;
  std::map<std::string, std::string>* filter_state_;
  std::string* upstream_address_;
  asio::io_context& io_;
  std::optional<asio::steady_timer> wake_;
  uint32_t id_ = 0;
  bool ended_ = false;
};

WasmResult WasmStream::getProperty(std::string_view path, std::string* value) {
  if (auto fs = filter_state_->find(std::string(path)); fs != filter_state_->end()) {
    *value = fs->second;
    return WasmResult::Ok;
  }
  std::vector<std::string_view> seg;
  proxy_wasm::abi::splitPropertyPath(path, [&](std::string_view s) { seg.push_back(s); });
  if (seg.empty()) return WasmResult::NotFound;
  auto ok = [&](std::string v) {
    *value = std::move(v);
    return WasmResult::Ok;
  };
  auto i64 = [&](int64_t v) { return ok(proxy_wasm::abi::encodeInt64(v)); };
  auto headerMap = [&](const VectorHeaderMap& m) {
    std::vector<std::pair<std::string, std::string>> pairs;
    m.forEach([&](std::string_view k, std::string_view v) {
      if (!k.empty() && k[0] != ':') pairs.emplace_back(k, v);
    });
    return ok(proxy_wasm::abi::encodePairs(pairs));
  };
  // request.headers / response.headers, whole or one of them (seg[2]).
  auto headers = [&](const VectorHeaderMap& m) {
    if (seg.size() == 2) return headerMap(m);
    if (seg.size() != 3) return WasmResult::NotFound;
    auto v = m.get(seg[2]);
    if (!v) return WasmResult::NotFound;
    return ok(std::string(*v));
  };
  const std::string_view top = seg[0];
  const std::string_view field = seg.size() > 1 ? seg[1] : std::string_view();
  if (top == "request") {
    const Message& r = *request_;
    std::string_view p = r.header(":path");
    if (field == "path") return ok(std::string(p));
    if (field == "url_path") return ok(std::string(p.substr(0, p.find('?'))));
    if (field == "query") {
      size_t q = p.find('?');
      return ok(q == std::string_view::npos ? "" : std::string(p.substr(q + 1)));
    }
    if (field == "host") return ok(std::string(r.header(":authority")));
    if (field == "scheme") return ok(std::string(r.header(":scheme")));
    if (field == "method") return ok(std::string(r.header(":method")));
    if (field == "id") return ok(std::string(r.header("x-request-id")));
    if (field == "referer") return ok(std::string(r.header("referer")));
    if (field == "useragent") return ok(std::string(r.header("user-agent")));
    if (field == "protocol") return ok(r.version == 10 ? "HTTP/1.0" : "HTTP/1.1");
    if (field == "time") return i64(static_cast<int64_t>(*start_ns_));
    if (field == "duration") return i64(static_cast<int64_t>(realtimeNs() - *start_ns_));
    if (field == "size") return i64(static_cast<int64_t>(r.bodySize()));
    if (field == "total_size") {
      int64_t n = static_cast<int64_t>(r.bodySize());
      r.headers.forEach(
          [&](std::string_view k, std::string_view v) { n += k.size() + v.size() + 4; });
      return i64(n);
    }
    if (field == "headers") return headers(r.headers);
    return WasmResult::NotFound;
  }
  if (top == "response") {
    if (!response_headers_available) return WasmResult::NotFound;
    const Message& r = *response_;
    if (field == "code") return i64(r.status());
    if (field == "code_details") return ok(local_reply ? local_reply->details : "via_upstream");
    if (field == "size") return i64(static_cast<int64_t>(r.bodySize()));
    if (field == "headers") return headers(r.headers);
    if (field == "trailers" && seg.size() == 2) return headerMap(r.trailers);
    return WasmResult::NotFound;
  }
  if (top == "source" || top == "destination") {
    const bool src = top == "source";
    if (field == "address") {
      return ok((src ? conn_.source_address : conn_.destination_address) + ":" +
                std::to_string(src ? conn_.source_port : conn_.destination_port));
    }
    if (field == "port") return i64(src ? conn_.source_port : conn_.destination_port);
    return WasmResult::NotFound;
  }
  if (top == "connection" || top == "connection_id") {
    if (top == "connection_id" || field == "id") {
      *value = proxy_wasm::abi::encodeInt64(static_cast<int64_t>(conn_.id));
      return WasmResult::Ok;
    }
    if (field == "mtls") return ok(proxy_wasm::abi::encodeBool(false));
    return WasmResult::NotFound;
  }
  if (top == "upstream") {
    if (upstream_address_->empty()) return WasmResult::NotFound;
    if (field == "address") return ok(*upstream_address_);
    if (field == "port") {
      size_t colon = upstream_address_->rfind(':');
      return i64(std::stoll(upstream_address_->substr(colon + 1)));
    }
    return WasmResult::NotFound;
  }
  std::string_view name = top == "xds" ? field : top;
  if (name == "route_name" && *route_ != nullptr) return ok((*route_)->name);
  if (name == "cluster_name" && *route_ != nullptr && !(*route_)->cluster.empty()) {
    return ok((*route_)->cluster);
  }
  return WasmResult::NotFound;
}

// ---- a downstream connection ------------------------------------------------------------------

namespace {

std::atomic<uint64_t> next_connection_id{1};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<WorkerState> state, tcp::socket socket, size_t listener_index)
      : state_(std::move(state)), socket_(std::move(socket)), listener_index_(listener_index) {
    boost::system::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    auto local = socket_.local_endpoint(ec);
    conn_.source_address = remote.address().to_string();
    conn_.source_port = remote.port();
    conn_.destination_address = local.address().to_string();
    conn_.destination_port = local.port();
    conn_.id = next_connection_id++;
    socket_.set_option(tcp::no_delay(true), ec);
  }

  awaitable<void> run() {
    ProxyStats::instance().downstream_cx_total->add(1);
    ProxyStats::instance().downstream_cx_active->add(1);
    for (;;) {
      bool keep_alive = co_await handleOne();
      if (!keep_alive || state_->draining()) break;
    }
    boost::system::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    ProxyStats::instance().downstream_cx_active->add(-1);
  }

 private:
  awaitable<bool> writeError(unsigned status, std::string body) {
    ProxyStats::instance().downstream_rq_bad->add(1);
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "text/plain");
    res.set(http::field::connection, "close");
    res.body() = std::move(body);
    res.prepare_payload();
    co_await http::async_write(socket_, res, nothrow);
    co_return false;
  }

  // Reads, processes and answers one request. Returns whether to keep the connection.
  awaitable<bool> handleOne() {
    http::request_parser<http::buffer_body> parser;
    parser.header_limit(60 * 1024);
    parser.body_limit(boost::none);
    // Waiting for a request (idle keep-alive or slow headers) is bounded and cancelled on drain.
    state_->idle_sockets_.insert(&socket_);
    SocketDeadline header_deadline(socket_.get_executor());
    // The header timeout counts from a request's first byte; an idle keep-alive connection
    // waits up to the idle timeout.
    std::chrono::steady_clock::duration header_timeout = state_->options().header_timeout;
    if (auto cfg = state_->config(); cfg && listener_index_ < cfg->bootstrap->listeners.size()) {
      const auto configured = cfg->bootstrap->listeners[listener_index_].request_headers_timeout;
      if (configured.count() > 0) header_timeout = configured;
    }
    header_deadline.armAfterFirstByte(socket_, header_timeout, state_->options().idle_timeout,
                                      [this] { return buffer_.size() == 0; });
    auto [ec, n] = co_await http::async_read_header(socket_, buffer_, parser, nothrow);
    const bool timed_out = header_deadline.expired();
    header_deadline.disarm();
    state_->idle_sockets_.erase(&socket_);
    if (timed_out) {
      if (parser.got_some() || buffer_.size() != 0) {
        co_await writeError(408, "request header timeout\n");
      }
      co_return false;
    }
    if (ec) {
      if (state_->draining()) state_->maybeFinishDrain();
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset) {
        co_return false;
      }
      if (ec == http::error::header_limit)
        co_return co_await writeError(431, "request header fields too large\n");
      co_return co_await writeError(400, "bad request: " + ec.message() + "\n");
    }
    if (std::distance(parser.get().begin(), parser.get().end()) > 100) {
      co_return co_await writeError(431, "too many request headers\n");
    }
    state_->active_requests_++;
    struct Done {
      WorkerState* s;
      ~Done() {
        s->active_requests_--;
        s->maybeFinishDrain();
      }
    } done{state_.get()};
    const auto& head = parser.get();
    if (!parser.is_done() && beast::iequals(head[http::field::expect], "100-continue")) {
      static const std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      co_await asio::async_write(socket_, asio::buffer(kContinue), nothrow);
    }
    Message request;
    request.headers = requestHeaders(head, "http");
    request.headers.remove("expect");  // answered here; the upstream gets the body outright
    request.version = head.version();
    const bool keep_alive = head.keep_alive();
    BodyReader<true> body(socket_, buffer_, parser);
    co_return co_await process(std::move(request), body, keep_alive);
  }

  // The body of one direction through the wasm filters: each filter sees the pieces as they
  // come, or (StopIterationAndBuffer and the like) everything it has held so far; what it lets
  // through goes to the next filter. Stops early on a local reply, a close, or a vanished client.
  enum class Flow { Ok, LocalReply, Closed, ClientGone, TooLarge };
  awaitable<Flow> filterBody(std::vector<WasmStream*>& chain, std::vector<std::string>& held,
                             Message& message, StreamType type, std::string& data, bool eos) {
    const int dir = type == StreamType::Request ? 0 : 1;
    for (size_t i = 0; i < chain.size(); ++i) {
      WasmStream& s = *chain[i];
      held[i].append(data);
      data.clear();
      if (s.vm().failed()) {
        std::swap(data, held[i]);  // fail open: the filter is skipped
        continue;
      }
      message.body = std::move(held[i]);
      held[i].clear();
      s.continued[dir] = false;
      const int replies = s.local_replies;
      const auto size = static_cast<uint32_t>(message.body.size());
      auto ds = type == StreamType::Request ? s.vm().onRequestBody(s.id(), size, eos)
                                            : s.vm().onResponseBody(s.id(), size, eos);
      if (s.local_replies != replies) co_return Flow::LocalReply;
      if (s.closed) co_return Flow::Closed;
      if (ds != FilterDataStatus::Continue && !s.continued[dir] && !s.vm().failed()) {
        if (!eos) {
          held[i] = std::move(message.body);  // held until more data (or the end) arrives
          message.body.clear();
          const size_t limit = type == StreamType::Request
                                   ? state_->options().max_request_body_bytes
                                   : state_->options().max_response_body_bytes;
          co_return held[i].size() > limit ? Flow::TooLarge : Flow::Ok;
        }
        if (!co_await waitWatchingClient(s, type)) co_return Flow::ClientGone;
        if (s.local_replies != replies) co_return Flow::LocalReply;
        if (s.closed) co_return Flow::Closed;
      }
      data = std::move(message.body);
      message.body.clear();
    }
    co_return Flow::Ok;
  }

  // Trailers through the filters of one direction, in order.
  awaitable<Flow> filterTrailers(std::vector<WasmStream*>& chain, const VectorHeaderMap& trailers,
                                 StreamType type) {
    const int dir = type == StreamType::Request ? 0 : 1;
    for (WasmStream* sp : chain) {
      WasmStream& s = *sp;
      if (s.vm().failed()) continue;
      s.continued[dir] = false;
      const int replies = s.local_replies;
      const auto n = static_cast<uint32_t>(trailers.size());
      auto ts = type == StreamType::Request ? s.vm().onRequestTrailers(s.id(), n)
                                            : s.vm().onResponseTrailers(s.id(), n);
      if (s.local_replies != replies) co_return Flow::LocalReply;
      if (s.closed) co_return Flow::Closed;
      if (ts != proxy_wasm::host::FilterTrailersStatus::Continue && !s.continued[dir] &&
          !s.vm().failed()) {
        if (!co_await waitWatchingClient(s, type)) co_return Flow::ClientGone;
        if (s.local_replies != replies) co_return Flow::LocalReply;
        if (s.closed) co_return Flow::Closed;
      }
    }
    co_return Flow::Ok;
  }

  char* scratch() {
    if (!scratch_) scratch_ = std::make_unique<char[]>(BodyReader<true>::kPiece);
    return scratch_.get();
  }

  awaitable<bool> process(Message request, BodyReader<true>& body_in, bool keep_alive) {
    ProxyStats::instance().downstream_rq_total->add(1);
    std::shared_ptr<WorkerConfig> cfg = state_->config();
    const Listener& listener = cfg->bootstrap->listeners[listener_index_];
    const uint64_t start_ns = realtimeNs();
    const unsigned version = request.version;
    if (!request.headers.get("x-request-id")) request.headers.add("x-request-id", requestId());
    if (auto xff = request.headers.get("x-forwarded-for")) {
      request.headers.replace("x-forwarded-for", std::string(*xff) + ", " + conn_.source_address);
    } else {
      request.headers.add("x-forwarded-for", conn_.source_address);
    }
    if (request.headers.get(":authority")->empty()) {
      co_return co_await writeError(400, "missing Host header\n");
    }
    const bool is_head = request.header(":method") == "HEAD";

    Message response;
    const Route* route = nullptr;
    std::map<std::string, std::string> filter_state;
    std::string upstream_address;
    std::vector<std::unique_ptr<WasmStream>> streams;
    std::optional<LocalReply> local;

    // Request headers through the wasm filters, in order.
    for (const auto& f : listener.filters) {
      if (!f.wasm) break;
      ThreadLocalPlugin& plugin = *cfg->plugins.at(f.wasm.get());
      auto vm = plugin.vmForNewStream(monotonicNs());
      streams.push_back(std::make_unique<WasmStream>(state_->io(), vm, plugin.rootId(), &request,
                                                     &response, conn_, &route, &start_ns,
                                                     &filter_state, &upstream_address));
      WasmStream& s = *streams.back();
      auto hs = s.vm().onRequestHeaders(s.id(), static_cast<uint32_t>(request.headers.size()),
                                        body_in.done());
      if (!s.local_reply && hs != FilterHeadersStatus::Continue) {
        if (!co_await waitWatchingClient(s, StreamType::Request)) co_return false;
      }
      if (s.closed) co_return false;  // streams end (on_log...) as they unwind
      if (s.local_reply) {
        local = s.local_reply;
        break;
      }
    }
    std::vector<WasmStream*> chain;
    for (auto& st : streams) chain.push_back(st.get());

    std::unique_ptr<UpstreamConnection> upstream;
    ClusterPool* pool = nullptr;
    std::optional<http::response_parser<http::buffer_body>> res_parser;
    SocketDeadline route_deadline(socket_.get_executor());
    auto upstream_deadline = std::chrono::steady_clock::time_point::max();
    if (!local) {
      const VirtualHost* vh = selectVirtualHost(listener.routes, request.header(":authority"));
      route = vh != nullptr ? selectRoute(*vh, request.header(":path"), request.headers) : nullptr;
      if (route == nullptr) {
        response = localResponse(404, "");
      } else if (route->direct_status) {
        response = localResponse(*route->direct_status, route->direct_body);
      } else if (auto it = cfg->pools.find(route->cluster); it == cfg->pools.end()) {
        response = localResponse(503, "no healthy upstream");
      } else {
        pool = it->second.get();
        upstream_deadline = routeDeadline(*route);
        auto outcome = co_await forwardRequest(*pool, *route, request, body_in, chain,
                                               route_deadline, upstream_deadline, upstream,
                                               res_parser, &upstream_address, is_head);
        if (outcome.closed) co_return false;
        if (outcome.local) local = std::move(outcome.local);
        if (outcome.failure) response = std::move(*outcome.failure);
      }
    }
    if (local) {
      upstream.reset();  // an upstream exchange cut short cannot be reused
      response = localResponse(local->status, local->body, local->headers);
    }
    // A request body not read to its end leaves the connection unusable.
    if (!body_in.done()) keep_alive = false;
    const bool from_upstream = upstream != nullptr;
    if (from_upstream) response.headers = responseHeaders(res_parser->get());

    // Response headers, in reverse order, through the filters that saw the request.
    std::reverse(chain.begin(), chain.end());
    for (auto& st : streams) st->response_headers_available = true;
    std::optional<BodyReader<false>> body_up;
    if (from_upstream) body_up.emplace(upstream->socket, upstream->buffer, *res_parser);
    bool response_done = !from_upstream || body_up->done();
    for (WasmStream* sp : chain) {
      WasmStream& s = *sp;
      if (s.vm().failed()) continue;  // answered already (fail closed) or skipped (fail open)
      const int replies_before = s.local_replies;
      const bool no_body = response_done && response.body.empty();
      auto hs =
          s.vm().onResponseHeaders(s.id(), static_cast<uint32_t>(response.headers.size()), no_body);
      auto replied = [&] { return s.local_replies != replies_before; };
      if (!replied() && !s.vm().failed() && hs != FilterHeadersStatus::Continue) {
        if (!co_await waitWatchingClient(s, StreamType::Response)) co_return false;
      }
      if (s.closed) co_return false;
      if (replied()) {
        response =
            localResponse(s.local_reply->status, s.local_reply->body, s.local_reply->headers);
        upstream.reset();
        body_up.reset();
        response_done = true;
      }
    }

    const uint32_t status = response.status();
    ProxyStats::instance().downstream_rq_xx[std::min<uint32_t>(status / 100, 5)]->add(1);
    const bool no_body_allowed = is_head || status < 200 || status == 204 || status == 304;
    keep_alive = keep_alive && !state_->draining();
    std::vector<std::string> held(chain.size());
    std::string out, data;
    std::optional<http1::MessageWriter> writer;
    auto makeWriter = [&](bool complete, size_t size) {
      http1::BodyShape shape;
      shape.no_body_allowed = no_body_allowed;
      shape.complete = complete;
      shape.known_size = size;
      shape.peer_http11 = version >= 11;
      std::string head = http1::responseHead(response.headers, version);
      writer.emplace(std::move(head), response.headers, shape);
      if (writer->framing() == http1::Framing::Close) keep_alive = false;
      if (!keep_alive) writer->addHeader("connection", "close");
    };
    bool wrote_ok = true;
    auto flush = [&]() -> awaitable<bool> {
      if (out.empty()) co_return true;
      auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out), nothrow);
      out.clear();
      co_return !ec;
    };
    if (!from_upstream || response_done) {
      // The whole response is here: through the body filters once, then out in one write.
      data = std::move(response.body);
      response.body.clear();
      bool have_body = !data.empty();
      if (have_body) {
        auto flow = co_await filterBody(chain, held, response, StreamType::Response, data, true);
        if (flow == Flow::ClientGone || flow == Flow::Closed) co_return false;
        if (flow == Flow::LocalReply) {
          const LocalReply& r = *lastLocalReply(chain);
          response = localResponse(r.status, r.body, r.headers);
          data = std::move(response.body);
        }
      }
      if (body_up) {
        VectorHeaderMap trailers;
        body_up->trailers(trailers);
        response.trailers = std::move(trailers);
        if (response.trailers.size() != 0) {
          auto flow = co_await filterTrailers(chain, response.trailers, StreamType::Response);
          if (flow != Flow::Ok) co_return false;
        }
      }
      response.body_bytes = data.size();
      // Trailers need chunked framing; otherwise the length is known.
      makeWriter(response.trailers.size() == 0, data.size());
      writer->append(out, data, true, &response.trailers);
      if (upstream && res_parser->keep_alive()) pool->release(std::move(upstream));
    } else {
      // Streamed: the head goes with the first piece, or at once when nothing is buffered yet
      // (a slow or long-polling upstream still gets its headers to the client promptly).
      route_deadline.arm(upstream->socket, upstream_deadline);
      for (;;) {
        if (!writer && !body_up->buffered()) {
          makeWriter(false, 0);
          writer->append(out, "", false);
          if (!co_await flush()) co_return false;
        }
        auto ec = co_await body_up->read(data, scratch());
        if (ec) {
          if (route_deadline.expired()) ProxyStats::instance().upstream_rq_timeout->add(1);
          if (!writer) {
            response = localResponse(
                route_deadline.expired() ? 504 : 503,
                route_deadline.expired() ? "upstream request timeout" : "upstream reset");
            data = std::move(response.body);
            makeWriter(true, data.size());
            writer->append(out, data, true);
            co_await flush();
          }
          co_return false;  // the client sees the response cut short, as from Envoy
        }
        const bool eos = body_up->done();
        response.body_bytes = body_up->bytes();
        if (eos) {
          body_up->trailers(response.trailers);
        }
        auto flow = co_await filterBody(chain, held, response, StreamType::Response, data, eos);
        if (flow == Flow::ClientGone || flow == Flow::Closed) co_return false;
        if (flow == Flow::LocalReply || flow == Flow::TooLarge) {
          if (writer) co_return false;  // headers went out already: all we can do is close
          if (flow == Flow::TooLarge) {
            spdlog::warn("a filter held more than {} bytes of a response body: 500",
                         state_->options().max_response_body_bytes);
          }
          const LocalReply r = flow == Flow::LocalReply
                                   ? *lastLocalReply(chain)
                                   : LocalReply{500, "response payload too large", {}, {}, -1};
          response = localResponse(r.status, r.body, r.headers);
          data = std::move(response.body);
          upstream.reset();
          makeWriter(true, data.size());
          writer->append(out, data, true);
          co_await flush();
          co_return false;
        }
        if (eos && response.trailers.size() != 0) {
          if (co_await filterTrailers(chain, response.trailers, StreamType::Response) != Flow::Ok)
            co_return false;
        }
        if (!writer) makeWriter(eos && response.trailers.size() == 0, data.size());
        wrote_ok = writer->append(out, data, eos, &response.trailers) && wrote_ok;
        data.clear();
        if (!co_await flush()) co_return false;
        if (eos) break;
      }
      route_deadline.disarm();
      if (res_parser->keep_alive()) pool->release(std::move(upstream));
    }
    if (!wrote_ok) keep_alive = false;
    const bool ok = co_await flush();
    // Access-log time: on_log, on_done, on_delete for every filter (as the streams go).
    streams.clear();
    co_return ok&& keep_alive;
  }

  static const LocalReply* lastLocalReply(const std::vector<WasmStream*>& chain) {
    for (WasmStream* s : chain) {
      if (s->local_reply) return &*s->local_reply;
    }
    return nullptr;
  }

  static std::chrono::steady_clock::time_point routeDeadline(const Route& route) {
    return route.timeout.count() > 0 ? std::chrono::steady_clock::now() + route.timeout
                                     : std::chrono::steady_clock::time_point::max();
  }

  struct ForwardOutcome {
    bool closed = false;              // the client went away or a filter closed the stream
    std::optional<LocalReply> local;  // a filter replied while the body streamed
    std::optional<Message> failure;   // 503/504 for an upstream that failed before a response
  };

  // Sends the request (head, then the body through the request filters as it arrives) and reads
  // the response head. On success `upstream` holds the connection and `parser` the head.
  awaitable<ForwardOutcome> forwardRequest(
      ClusterPool& pool, const Route& route, Message& request, BodyReader<true>& body_in,
      std::vector<WasmStream*>& chain, SocketDeadline& deadline,
      std::chrono::steady_clock::time_point when, std::unique_ptr<UpstreamConnection>& upstream,
      std::optional<http::response_parser<http::buffer_body>>& parser,
      std::string* upstream_address, bool is_head) {
    ForwardOutcome outcome;
    if (route.prefix_rewrite && route.match_kind == Route::MatchKind::Prefix) {
      std::string path(request.header(":path"));
      request.headers.replace(":path",
                              *route.prefix_rewrite + path.substr(route.match_value.size()));
    }
    if (route.host_rewrite) request.headers.replace(":authority", *route.host_rewrite);
    ProxyStats::instance().upstream_rq_total->add(1);

    // The first piece of the body: what the client sent with the head, through the filters.
    std::vector<std::string> held(chain.size());
    std::string out, data;
    bool eos = body_in.done();
    const bool has_body = !eos;
    // A body that fails to parse gets 400 (if nothing has been answered yet); a client that
    // goes away mid-body gets nothing.
    auto bodyError = [&](const boost::system::error_code& ec) {
      const bool malformed = ec.category() == make_error_code(http::error::bad_chunk).category() &&
                             ec != http::error::partial_message && ec != http::error::end_of_stream;
      if (malformed) {
        ProxyStats::instance().downstream_rq_bad->add(1);
        outcome.failure = localResponse(400, "bad request body: " + ec.message() + "\n");
        return;
      }
      outcome.closed = true;
    };
    if (!eos && body_in.buffered()) {
      if (auto ec = co_await body_in.read(data, scratch())) {
        bodyError(ec);
        co_return outcome;
      }
      eos = body_in.done();
    }
    auto trailersThenFlow = [&](bool at_end) -> awaitable<Flow> {
      if (!at_end) co_return Flow::Ok;
      body_in.trailers(request.trailers);
      if (request.trailers.size() == 0) co_return Flow::Ok;
      co_return co_await filterTrailers(chain, request.trailers, StreamType::Request);
    };
    auto runFilters = [&](bool at_end) -> awaitable<Flow> {
      if (!chain.empty() && has_body && (!data.empty() || at_end)) {
        auto flow = co_await filterBody(chain, held, request, StreamType::Request, data, at_end);
        if (flow != Flow::Ok) co_return flow;
      }
      co_return co_await trailersThenFlow(at_end);
    };
    request.body_bytes = body_in.bytes();
    // What stops the request body in the filters: a local reply, a filter holding too much
    // (413, as Envoy's buffer limit), or the stream closing.
    auto stopped = [&](Flow flow) {
      if (flow == Flow::LocalReply) {
        outcome.local = *lastLocalReply(chain);
      } else if (flow == Flow::TooLarge) {
        outcome.failure = localResponse(413, "payload too large");
      } else {
        outcome.closed = true;
      }
    };
    if (auto flow = co_await runFilters(eos); flow != Flow::Ok) {
      stopped(flow);
      co_return outcome;
    }

    http1::BodyShape shape;
    shape.complete = eos && request.trailers.size() == 0;  // trailers need chunked framing
    shape.known_size = data.size();
    shape.is_request = true;
    shape.method = request.header(":method");
    http1::MessageWriter writer(http1::requestHead(request.headers), request.headers, shape);
    bool framed = writer.append(out, data, eos, &request.trailers);  // as Content-Length said
    data.clear();

    UpstreamFailure failure = UpstreamFailure::None;
    for (int attempt = 0; attempt < 2; ++attempt) {
      upstream = co_await pool.acquire(when, &failure, attempt > 0);
      if (!upstream) break;
      *upstream_address = pool.endpointAddress(upstream->endpoint);
      deadline.arm(upstream->socket, when);
      auto [ec, n] = co_await asio::async_write(upstream->socket, asio::buffer(out), nothrow);
      // The rest of the body, as it arrives.
      while (!ec && !eos) {
        std::string piece;
        if (auto rec = co_await body_in.read(piece, scratch())) {
          bodyError(rec);
          upstream.reset();
          co_return outcome;
        }
        eos = body_in.done();
        request.body_bytes = body_in.bytes();
        data = std::move(piece);
        if (auto flow = co_await runFilters(eos); flow != Flow::Ok) {
          upstream.reset();
          stopped(flow);
          co_return outcome;
        }
        std::string wire;
        framed = writer.append(wire, data, eos, &request.trailers) && framed;
        data.clear();
        auto [ec2, n2] = co_await asio::async_write(upstream->socket, asio::buffer(wire), nothrow);
        ec = ec2;
      }
      if (!framed) {
        // A filter changed the body's length under a declared Content-Length: the upstream got
        // a body cut to it or is still waiting for the rest. End the request side so it does
        // not wait until the route timeout, and never reuse the connection.
        upstream->reusable = false;
        boost::system::error_code ignored;
        upstream->socket.shutdown(tcp::socket::shutdown_send, ignored);
      }
      bool got_some = false;
      if (!ec) ec = co_await readFinalResponse(*upstream, parser, false, is_head, &got_some);
      const bool expired = deadline.expired();
      deadline.disarm();
      if (!ec) co_return outcome;
      upstream.reset();
      if (expired) {
        ProxyStats::instance().upstream_rq_timeout->add(1);
        failure = UpstreamFailure::Timeout;
        break;
      }
      failure = UpstreamFailure::Reset;
      // A stale pooled connection: retry once on a fresh one if the request went out whole.
      if (attempt == 0 && !got_some && shape.complete) continue;
      break;
    }
    switch (failure) {
      case UpstreamFailure::Timeout:
        outcome.failure = localResponse(504, "upstream request timeout");
        break;
      case UpstreamFailure::ConnectFail:
        outcome.failure = localResponse(503,
                                        "upstream connect error or disconnect/reset before "
                                        "headers. reset reason: connection failure");
        break;
      default:
        outcome.failure = localResponse(503,
                                        "upstream connect error or disconnect/reset before "
                                        "headers. reset reason: connection termination");
        break;
    }
    co_return outcome;
  }

  // Waits for the plugin to resume while watching the client: returns false if it went away.
  // Bytes that arrive meanwhile (a pipelined request) are kept for the next parse.
  awaitable<bool> waitWatchingClient(WasmStream& s, StreamType type) {
    for (;;) {
      std::array<char, 4096> scratch;
      auto r =
          co_await (s.waitResume(type) || socket_.async_read_some(asio::buffer(scratch), nothrow));
      if (r.index() == 0) co_return true;
      auto [ec, n] = std::get<1>(r);
      if (ec) co_return false;
      auto dst = buffer_.prepare(n);
      std::memcpy(dst.data(), scratch.data(), n);
      buffer_.commit(n);
    }
  }

  std::shared_ptr<WorkerState> state_;
  tcp::socket socket_;
  size_t listener_index_;
  beast::flat_buffer buffer_;
  ConnectionInfo conn_;
  std::unique_ptr<char[]> scratch_;  // one body piece being decoded
};

awaitable<void> acceptLoop(std::shared_ptr<WorkerState> state, tcp::acceptor& acceptor,
                           size_t listener_index) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;
    }
    auto session = std::make_shared<Session>(state, std::move(socket), listener_index);
    asio::co_spawn(acceptor.get_executor(), [session]() { return session->run(); }, asio::detached);
  }
}

}  // namespace

void WorkerState::spawnAccept(size_t i) {
  asio::co_spawn(io_, acceptLoop(shared_from_this(), *acceptors_[i], i), asio::detached);
}

// ---- Worker ------------------------------------------------------------------------------------

Worker::Worker(int index, WorkerOptions options)
    : index_(index),
      options_(options),
      state_(std::make_shared<WorkerState>(io_, index, options)) {}

Worker::~Worker() {
  join();
}

bool Worker::applyConfig(std::shared_ptr<const Bootstrap> config, std::string* error) {
  std::promise<std::pair<bool, std::string>> done;
  auto result = done.get_future();
  asio::post(io_, [state = state_, config, &done] {
    std::string e;
    bool ok = state->applyConfig(config, &e);
    done.set_value({ok, e});
  });
  auto [ok, e] = result.get();
  if (!ok) *error = e;
  return ok;
}

bool Worker::listen(std::string* error) {
  std::promise<std::string> done;
  auto result = done.get_future();
  asio::post(io_, [state = state_, &done] { done.set_value(state->listen()); });
  *error = result.get();
  return error->empty();
}

void Worker::start() {
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    // The work guard keeps the loop alive until drain stops it.
    io_.run();
    state_->releaseEngines();  // the engines outlive this thread (they go with the Worker)
  });
}

void Worker::drain() {
  asio::post(io_, [state = state_] { state->beginDrain(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

size_t Worker::activeRequests() const {
  return state_->active_requests_;
}

}  // namespace wasm_proxy
