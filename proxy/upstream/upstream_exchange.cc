#include "upstream/upstream_exchange.h"

#include "http1/writer.h"
#include "proxy_stats.h"
#include "upstream/upstream_request.h"

namespace wasm_proxy {

namespace asio = boost::asio;

asio::awaitable<CalloutResult> fetchWhole(ClusterPool& pool, const Message& request,
                                          std::chrono::milliseconds timeout) {
  CalloutResult out;
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
  UpstreamRequest upstream(pool, deadline, /*is_head=*/false);
  auto no_more = [](std::string&) -> asio::awaitable<UpstreamRequest::Step> {
    co_return UpstreamRequest::Step::Done;  // the whole request is in `wire`
  };
  out.failure = co_await upstream.send(wire, true, no_more);
  out.upstream_address = upstream.upstreamAddress();
  if (out.failure != UpstreamFailure::None) co_return out;
  constexpr size_t kMaxCalloutBody = 64u << 20;
  http1::ResponseParser& response = upstream.response();
  response.body_limit(kMaxCalloutBody);
  while (!upstream.responseDone()) {
    if (co_await upstream.readBody(out.response.body)) {
      out.failure = upstream.timedOut() ? UpstreamFailure::Timeout : UpstreamFailure::Reset;
      upstream.abandon();
      co_return out;
    }
  }
  out.response.headers = std::move(response.headers());
  out.response.trailers = std::move(response.trailers());
  upstream.finish();
  co_return out;
}

}  // namespace wasm_proxy
