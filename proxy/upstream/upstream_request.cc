#include "upstream/upstream_request.h"

#include "proxy_stats.h"
#include "upstream/upstream_exchange.h"

namespace wasm_proxy {

namespace asio = boost::asio;
namespace http = boost::beast::http;
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

asio::awaitable<UpstreamFailure> UpstreamRequest::send(const std::string& wire, bool complete,
                                                       const BodyProducer& more) {
  UpstreamFailure failure = UpstreamFailure::None;
  for (int attempt = 0; attempt < 2; ++attempt) {
    conn_ = co_await pool_.acquire(deadline_, &failure, attempt > 0);
    if (!conn_) co_return failure;
    address_ = pool_.endpointAddress(conn_->endpoint);
    conn_->deadline.arm(conn_->socket, deadline_);
    auto [ec, n] = co_await asio::async_write(conn_->socket, asio::buffer(wire), nothrow);
    bool sending = !complete;
    while (!ec && sending) {
      std::string piece;
      const Step step = co_await more(piece);
      if (step == Step::Abort) {
        drop();
        co_return UpstreamFailure::Reset;
      }
      sending = step == Step::More;
      std::tie(ec, n) = co_await asio::async_write(conn_->socket, asio::buffer(piece), nothrow);
    }
    bool got_some = false;
    if (!ec) ec = co_await readFinalResponseHead(*conn_, parser_, is_head_, &got_some);
    const bool expired = conn_->deadline.expired();
    if (!ec) co_return UpstreamFailure::None;
    drop();
    if (expired) {
      timed_out_ = true;
      ProxyStats::instance().upstream_rq_timeout->add(1);
      co_return UpstreamFailure::Timeout;
    }
    failure = UpstreamFailure::Reset;
    if (attempt == 0 && !got_some && complete) continue;  // a stale pooled connection
    break;
  }
  co_return failure;
}

bool UpstreamRequest::takeWholeBuffered(std::string& body) {
  if (!conn_ || !parser_) return false;
  const auto length = parser_->content_length();
  if (!length || *length > http1::ResponseParser::kPiece || conn_->buffer.size() < *length) {
    return false;
  }
  parser_->bodyInto(&body);
  boost::system::error_code ec;
  const size_t used = parser_->put(conn_->buffer.data(), ec);
  parser_->bodyInto(nullptr);
  conn_->buffer.consume(used);
  return !ec && parser_->is_done();
}

void UpstreamRequest::endFramingBroken() {
  if (!conn_) return;
  conn_->reusable = false;
  boost::system::error_code ignored;
  conn_->socket.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
}

asio::awaitable<boost::system::error_code> UpstreamRequest::readBody(std::string& out) {
  http1::BodyReader<false> reader(conn_->socket, conn_->buffer, *parser_);
  auto ec = co_await reader.read(out);
  if (ec && conn_->deadline.expired()) {
    timed_out_ = true;
    ProxyStats::instance().upstream_rq_timeout->add(1);
  }
  co_return ec;
}

void UpstreamRequest::finish() {
  if (conn_) conn_->deadline.disarm();
  if (conn_ && parser_ && parser_->is_done() && parser_->keep_alive()) {
    pool_.release(std::move(conn_));
  }
  conn_.reset();
}

void UpstreamRequest::drop() {
  conn_.reset();
}

}  // namespace wasm_proxy
