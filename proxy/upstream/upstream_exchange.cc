#include "upstream/upstream_exchange.h"

#include "http1/writer.h"
#include "proxy_stats.h"
#include "upstream/socket_deadline.h"

namespace wasm_proxy {

namespace asio = boost::asio;
namespace http = boost::beast::http;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<boost::system::error_code> readFinalResponseHead(
    UpstreamConnection& conn, std::optional<http1::ResponseParser>& parser, bool skip_body,
    bool* got_some) {
  for (;;) {
    parser.emplace();
    parser->body_limit(boost::none);
    if (skip_body) parser->skip(true);
    auto [ec, n] = co_await http::async_read_header(conn.socket, conn.buffer, *parser, nothrow);
    *got_some = *got_some || parser->got_some();
    if (ec) co_return ec;
    const unsigned status = parser->status();
    if (status == 101) {
      conn.reusable = false;
      co_return http::error::bad_version;
    }
    if (status >= 200) co_return ec;
  }
}

namespace {

// The rest of a response whose head `parser` holds, appended to `body`.
asio::awaitable<boost::system::error_code> readWholeBody(UpstreamConnection& conn,
                                                         http1::ResponseParser& parser,
                                                         std::string& body) {
  constexpr size_t kMaxCalloutBody = 64u << 20;
  parser.body_limit(kMaxCalloutBody);
  parser.pieceLimit(kMaxCalloutBody);
  parser.bodyInto(&body);
  boost::system::error_code ec;
  while (!ec && !parser.is_done()) {
    auto [e, n] = co_await http::async_read_some(conn.socket, conn.buffer, parser, nothrow);
    ec = e;
  }
  parser.bodyInto(nullptr);
  co_return ec;
}

}  // namespace

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
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = co_await pool.acquire(deadline, &out.failure, attempt > 0);
    if (!conn) co_return out;
    out.upstream_address = pool.endpointAddress(conn->endpoint);
    SocketDeadline& timer = conn->deadline;
    timer.arm(conn->socket, deadline);
    auto [ec, n] = co_await asio::async_write(conn->socket, asio::buffer(wire), nothrow);
    std::optional<http1::ResponseParser> parser;
    bool got_some = false;
    if (!ec) ec = co_await readFinalResponseHead(*conn, parser, false, &got_some);
    if (!ec) ec = co_await readWholeBody(*conn, *parser, out.response.body);
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
    out.response.headers = std::move(parser->headers());
    out.response.trailers = std::move(parser->trailers());
    if (parser->keep_alive()) pool.release(std::move(conn));
    co_return out;
  }
  out.failure = UpstreamFailure::Reset;
  co_return out;
}

}  // namespace wasm_proxy
