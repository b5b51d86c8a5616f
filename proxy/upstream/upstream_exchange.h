// The whole-message exchange the callout client (proxy_http_call, remote JWKS) makes with an
// upstream: an UpstreamRequest whose response body is read to its end.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "http1/parser.h"
#include "message.h"
#include "upstream/cluster_pool.h"

namespace wasm_proxy {

struct CalloutResult {
  UpstreamFailure failure = UpstreamFailure::None;
  Message response;
  std::string upstream_address;
};

// A whole request to `pool` and its whole response (up to 64 MiB), for callouts. A pooled
// connection the peer has closed meanwhile gets one retry on a fresh connection.
boost::asio::awaitable<CalloutResult> fetchWhole(ClusterPool& pool, const Message& request,
                                                 std::chrono::milliseconds timeout);

}  // namespace wasm_proxy
