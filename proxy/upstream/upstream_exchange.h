// One HTTP/1.1 exchange with an upstream: reading the final response head (interim 1xx skipped),
// and the whole-message exchange the callout client (proxy_http_call) makes.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <optional>
#include <string>

#include "http1/parser.h"
#include "message.h"
#include "upstream/cluster_pool.h"

namespace wasm_proxy {

// Reads the next final response head on `conn` into `parser` (a fresh one per head): interim
// 1xx responses are skipped. `got_some` tells whether any response bytes came (a stale pooled
// connection sends none). A 101 is an error here: the proxy never asks for an upgrade, so an
// upstream that switches protocols anyway cannot be proxied or pooled.
boost::asio::awaitable<boost::system::error_code> readFinalResponseHead(
    UpstreamConnection& conn, std::optional<http1::ResponseParser>& parser, bool skip_body,
    bool* got_some);

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
