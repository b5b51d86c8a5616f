#include "upstream/cluster_pool.h"

#include <spdlog/spdlog.h>

#include "proxy_stats.h"
#include "upstream/socket_deadline.h"

namespace wasm_proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

ClusterPool::ClusterPool(asio::io_context& io, const Cluster& cluster)
    : io_(io), cluster_(cluster) {
  tcp::resolver resolver(io);
  for (const auto& ep : cluster.endpoints) {
    boost::system::error_code ec;
    auto results = resolver.resolve(ep.address, std::to_string(ep.port), ec);
    if (ec) {
      spdlog::warn("cluster {}: cannot resolve {}: {}", cluster.name, ep.toString(), ec.message());
      continue;
    }
    for (const auto& r : results) {
      endpoints_.push_back(r.endpoint());
      if (cluster.type == Cluster::Type::LogicalDns) break;
    }
  }
  idle_.resize(endpoints_.size());
  for (const auto& ep : endpoints_) {
    addresses_.push_back(ep.address().to_string() + ":" + std::to_string(ep.port()));
  }
}

std::unique_ptr<UpstreamConnection> ClusterPool::takeIdle(size_t endpoint) {
  if (endpoint >= idle_.size() || idle_[endpoint].empty()) return nullptr;
  auto c = std::move(idle_[endpoint].back());
  idle_[endpoint].pop_back();
  c->reused = true;
  return c;
}

asio::awaitable<std::unique_ptr<UpstreamConnection>> ClusterPool::connect(
    size_t i, std::chrono::steady_clock::time_point deadline, UpstreamFailure* failure) {
  *failure = UpstreamFailure::None;
  if (i >= endpoints_.size()) {
    *failure = UpstreamFailure::ConnectFail;
    co_return nullptr;
  }
  auto c = std::make_unique<UpstreamConnection>(io_);
  c->endpoint = i;
  ProxyStats::instance().upstream_cx_total->add(1);
  const auto connect_deadline =
      std::min(deadline, std::chrono::steady_clock::now() + cluster_.connect_timeout);
  c->socket.open(endpoints_[i].protocol());
  c->deadline.arm(c->socket, connect_deadline);
  auto [ec] = co_await c->socket.async_connect(endpoints_[i], asio::as_tuple(asio::deferred));
  const bool expired = c->deadline.expired();
  c->deadline.disarm();
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

void ClusterPool::release(std::unique_ptr<UpstreamConnection> c) {
  c->deadline.disarm();
  if (!c->reusable || c->buffer.size() != 0 || idle_[c->endpoint].size() >= kMaxIdlePerEndpoint) {
    return;
  }
  idle_[c->endpoint].push_back(std::move(c));
}

}  // namespace wasm_proxy
