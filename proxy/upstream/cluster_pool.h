// Upstream connections: one cluster's endpoints on one worker, with keep-alive pools.
//
// A ClusterPool belongs to one worker (one thread, one io_context) and one config snapshot; it
// hands out connections round robin over the resolved endpoints, reusing idle ones, and takes back
// those whose last exchange ended cleanly. Connections that saw a framing error, an upgrade or
// leftover bytes are never pooled.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "upstream/socket_deadline.h"

namespace wasm_proxy {

// A connection to one upstream endpoint, with the bytes read past the last response.
struct UpstreamConnection {
  explicit UpstreamConnection(boost::asio::io_context& io)
      : socket(io), deadline(io.get_executor()) {}
  boost::asio::ip::tcp::socket socket;
  SocketDeadline deadline;  // the exchange's deadline (disarmed between exchanges)
  boost::beast::flat_buffer buffer;
  size_t endpoint = 0;
  bool reused = false;
  bool reusable = true;  // false once the framing of a request on it went wrong
};

enum class UpstreamFailure { None, ConnectFail, Timeout, Reset };

class ClusterPool {
 public:
  ClusterPool(boost::asio::io_context& io, const Cluster& cluster);

  const Cluster& cluster() const { return cluster_; }
  const std::string& endpointAddress(size_t i) const { return addresses_[i]; }

  // Getting a connection is split so that the common case, an idle pooled connection, costs no
  // coroutine: pick() the next endpoint (round robin), takeIdle() from it, and only when that
  // gives nothing connect() (bounded by the connect timeout and `deadline`).
  static constexpr size_t kNoEndpoint = static_cast<size_t>(-1);
  size_t pick() { return endpoints_.empty() ? kNoEndpoint : next_++ % endpoints_.size(); }
  std::unique_ptr<UpstreamConnection> takeIdle(size_t endpoint);
  boost::asio::awaitable<std::unique_ptr<UpstreamConnection>> connect(
      size_t endpoint, std::chrono::steady_clock::time_point deadline, UpstreamFailure* failure);
  // Takes a connection back if its exchange ended cleanly.
  void release(std::unique_ptr<UpstreamConnection> c);

 private:
  static constexpr size_t kMaxIdlePerEndpoint = 64;
  boost::asio::io_context& io_;
  const Cluster& cluster_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
  std::vector<std::string> addresses_;  // "ip:port" of each endpoint
  std::vector<std::vector<std::unique_ptr<UpstreamConnection>>> idle_;
  size_t next_ = 0;
};

}  // namespace wasm_proxy
