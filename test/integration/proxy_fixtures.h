// Fixtures shared by the wasm-proxy integration tests: the Envoy-style bootstrap they run, a raw
// socket client for exact bytes, and small helpers (FNV-1a as the echo upstream computes it,
// a process's peak RSS).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>

namespace pwx_test {

// An Envoy-style bootstrap: one listener, a wasm filter (plugin chosen per test) and the router.
inline std::string config(const std::string& plugin, const std::string& plugin_config = "{}",
                          const std::string& extra_filter_config = "",
                          const std::string& extra_routes = "") {
  return R"(
node: { id: test-node, cluster: test-cluster, metadata: { team: edge } }
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: {{ADMIN_PORT}} } }
static_resources:
  listeners:
  - name: main
    address: { socket_address: { address: 127.0.0.1, port_value: {{LISTEN_PORT}} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:)" +
         extra_routes + R"(
              - match: { prefix: "/direct" }
                direct_response: { status: 202, body: { inline_string: "direct" } }
              - match: { prefix: "/rewrite/" }
                route: { cluster: upstream, prefix_rewrite: "/rewritten/", host_rewrite_literal: "backend.local" }
              - match: { prefix: "/slow", headers: [{ name: x-timeout, present_match: true }] }
                route: { cluster: upstream, timeout: 0.2s }
              - match: { safe_regex: { regex: "/item/[0-9]+" } }
                route: { cluster: upstream }
              - match: { prefix: "/down" }
                route: { cluster: nowhere }
              - match: { prefix: "/" }
                name: default_route
                route: { cluster: upstream }
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: )" +
         plugin + R"(
                root_id: ""
                vm_config:
                  vm_id: )" +
         plugin + R"(_vm
                  runtime: envoy.wasm.runtime.v8
                  code: { local: { filename: "{{PLUGIN_DIR}}/)" +
         plugin + R"(.wasm" } }
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: ')" +
         plugin_config + R"('
)" + extra_filter_config +
         R"(
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    connect_timeout: 1s
    type: STATIC
    load_assignment:
      cluster_name: upstream
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{UPSTREAM_PORT}} } } } }] }]
  - name: auth_cluster
    connect_timeout: 1s
    type: STRICT_DNS
    load_assignment:
      cluster_name: auth_cluster
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: localhost, port_value: {{UPSTREAM_PORT}} } } } }] }]
  - name: nowhere
    connect_timeout: 0.2s
    type: STATIC
    load_assignment:
      cluster_name: nowhere
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } }] }]
)";
}

class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  // Sends as much of `bytes` as the peer takes within `timeout`; false if it did not take all.
  bool sendFor(std::string_view bytes, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!bytes.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLOUT, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads until `needle` is in what was read, the peer closes, or `timeout`; returns whether
  // the needle arrived.
  bool readUntil(std::string_view needle, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (received.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return received.find(needle) != std::string::npos;
      received.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  std::string received;

 private:
  int fd_ = -1;
  bool connected_ = false;
};

inline uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

inline size_t peakRssKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

}  // namespace pwx_test
