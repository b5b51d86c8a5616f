#include "upstream/upstream_request.h"

#include "proxy_stats.h"

namespace wasm_proxy {

namespace asio = boost::asio;
namespace http = boost::beast::http;
// co_await on a deferred operation costs no coroutine frame (use_awaitable would start one).
constexpr auto nothrow = asio::as_tuple(asio::deferred);

// The hot path of every proxied request: an idle pooled connection, one write, the response head
// parsed from what one read brought. Kept in one coroutine frame (the head read is inline rather
// than Beast's composed read) because each frame and composed operation costs an allocation.
asio::awaitable<UpstreamFailure> UpstreamRequest::send(const std::string& wire, bool complete,
                                                       BodyProducer more) {
  UpstreamFailure failure = UpstreamFailure::None;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const size_t endpoint = pool_.pick();
    if (attempt == 0) conn_ = pool_.takeIdle(endpoint);
    if (!conn_) conn_ = co_await pool_.connect(endpoint, deadline_, &failure);
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
    for (bool final_head = false; !ec && !final_head;) {
      expectHead();
      while (!http1::parseBufferedHead(*parser_, conn_->buffer, ec)) {
        auto [read_ec, got] =
            co_await conn_->socket.async_read_some(http1::readRoom(conn_->buffer), nothrow);
        if (read_ec) {
          ec = http1::headReadError(*parser_, read_ec);
          break;
        }
        conn_->buffer.commit(got);
      }
      got_some = got_some || parser_->got_some();
      final_head = !ec && finalHead(ec);
    }
    const bool expired = conn_->deadline.expired();
    const bool reused = conn_->reused;
    if (!ec) co_return UpstreamFailure::None;
    drop();
    if (expired) {
      timed_out_ = true;
      ProxyStats::instance().upstream_rq_timeout->add(1);
      co_return UpstreamFailure::Timeout;
    }
    failure = UpstreamFailure::Reset;
    // A pooled connection the upstream closed meanwhile; a fresh one that closed unanswered may
    // have run the request, which is not sent twice.
    if (attempt == 0 && reused && !got_some && complete) continue;
    break;
  }
  co_return failure;
}

void UpstreamRequest::expectHead() {
  parser_.emplace();
  if (spare_headers_ != nullptr) parser_->reuseStorage(*spare_headers_);
  parser_->body_limit(boost::none);
  if (is_head_) parser_->skip(true);
}

bool UpstreamRequest::finalHead(boost::system::error_code& ec) {
  const unsigned status = parser_->status();
  if (status == 101) {
    conn_->reusable = false;
    ec = http::error::bad_version;
  }
  return status >= 200 || ec;
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
