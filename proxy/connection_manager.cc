#include "connection_manager.h"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <atomic>

#include "active_stream.h"
#include "http1/parser.h"
#include "http1/writer.h"
#include "proxy_stats.h"
#include "upstream/socket_deadline.h"
#include "worker_state.h"

namespace wasm_proxy {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
// co_await on a deferred operation costs no coroutine frame (use_awaitable would start one);
// the awaitable operators (||) need awaitables.
constexpr auto nothrow = asio::as_tuple(asio::deferred);
constexpr auto nothrow_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {
std::atomic<uint64_t> next_connection_id{1};
}

ConnectionManager::ConnectionManager(std::shared_ptr<WorkerState> state, tcp::socket socket,
                                     size_t listener_index)
    : state_(std::move(state)),
      socket_(std::move(socket)),
      listener_index_(listener_index),
      read_deadline_(socket_.get_executor()),
      write_deadline_(socket_.get_executor()) {
  idle_wait_.socket = &socket_;
  boost::system::error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  auto local = socket_.local_endpoint(ec);
  conn_.source_address = remote.address().to_string();
  conn_.source_port = remote.port();
  conn_.destination_address = local.address().to_string();
  conn_.destination_port = local.port();
  conn_.id = next_connection_id++;
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);  // reads while a stream is paused must never block
}

asio::awaitable<void> ConnectionManager::run() {
  ProxyStats::instance().downstream_cx_total->add(1);
  ProxyStats::instance().downstream_cx_active->add(1);
  for (;;) {
    const bool keep_alive = co_await handleOne();
    if (!keep_alive || state_->draining()) break;
  }
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  ProxyStats::instance().downstream_cx_active->add(-1);
}

std::chrono::steady_clock::time_point ConnectionManager::idleDeadline() const {
  return stream_idle_timeout_.count() > 0 ? SocketDeadline::coarseNow() + stream_idle_timeout_
                                          : std::chrono::steady_clock::time_point::max();
}

asio::awaitable<bool> ConnectionManager::write(std::string_view bytes) {
  write_deadline_.arm(socket_, idleDeadline());
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(bytes), nothrow);
  write_deadline_.disarm();
  co_return !ec;
}

asio::awaitable<bool> ConnectionManager::writeError(unsigned status, std::string_view body) {
  ProxyStats::instance().downstream_rq_bad->add(1);
  Message m = localResponse(status, std::string(body));
  std::string out = http1::responseHead(m.headers, 11);
  out.append("connection: close\r\ncontent-length: ")
      .append(std::to_string(body.size()))
      .append("\r\n\r\n");
  out.append(body);
  co_await write(out);
  co_return false;
}

asio::awaitable<bool> ConnectionManager::waitForWake(asio::steady_timer& wake) {
  // A pause is bounded by the stream idle timeout (Envoy's stream_idle_timeout).
  wake.expires_at(idleDeadline());
  auto timedOut = [&](const boost::system::error_code& ec) {
    pause_timed_out_ = !ec;  // expired, rather than cancelled by a wake-up
    return !pause_timed_out_;
  };
  if (buffer_.size() >= kReadAheadLimit) {
    auto [ec] = co_await wake.async_wait(nothrow);
    co_return timedOut(ec);
  }
  auto r = co_await (wake.async_wait(nothrow_awaitable) ||
                     socket_.async_wait(tcp::socket::wait_read, nothrow_awaitable));
  if (r.index() == 0) co_return timedOut(std::get<0>(std::get<0>(r)));
  if (std::get<0>(std::get<1>(r))) co_return false;
  // The client sent something or closed: take what is there without blocking.
  const size_t room = std::min<size_t>(kReadAheadLimit - buffer_.size(), 64 * 1024);
  boost::system::error_code ec;
  const size_t n = socket_.read_some(buffer_.prepare(room), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) co_return true;
  if (ec) co_return false;  // closed or reset: the client is gone
  buffer_.commit(n);
  co_return true;
}

asio::awaitable<bool> ConnectionManager::handleOne() {
  http1::RequestParser& parser = parser_.emplace();
  parser.reuseStorage(spare_request_headers_);
  parser.header_limit(60 * 1024);
  parser.body_limit(boost::none);
  // Waiting for a request (idle keep-alive or slow headers) is bounded and cancelled on drain.
  state_->idle_connections_.push_back(idle_wait_);
  SocketDeadline& header_deadline = read_deadline_;
  // The header timeout counts from a request's first byte; an idle keep-alive connection waits
  // up to the idle timeout.
  std::chrono::steady_clock::duration header_timeout = state_->options().header_timeout;
  auto cfg = state_->config();
  const Listener& listener = cfg->bootstrap->listeners[listener_index_];
  if (listener.request_headers_timeout.count() > 0) {
    header_timeout = listener.request_headers_timeout;
  }
  stream_idle_timeout_ = listener.stream_idle_timeout;
  // Idle: no byte of a request yet, neither buffered nor taken by the parser (which consumes a
  // complete request line before the rest of the head arrives).
  http1::RequestParser* head = &parser;
  header_deadline.armAfterFirstByte(
      socket_, header_timeout, state_->options().idle_timeout,
      [this, head] { return buffer_.size() == 0 && !head->got_some(); });
  // The head is read inline rather than with Beast's composed read (one operation less per
  // request); a pipelined request already in the buffer is parsed without any read.
  boost::system::error_code ec;
  while (!http1::parseBufferedHead(parser, buffer_, ec)) {
    auto [read_ec, got] = co_await socket_.async_read_some(http1::readRoom(buffer_), nothrow);
    if (read_ec) {
      ec = http1::headReadError(parser, read_ec);
      break;
    }
    buffer_.commit(got);
  }
  const bool timed_out = header_deadline.expired();
  header_deadline.disarm();
  idle_wait_.unlink();
  if (timed_out) {
    if (parser.got_some() || buffer_.size() != 0) {
      ProxyStats::instance().downstream_rq_timeout->add(1);
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
    if (const auto& bad = parser.headError())
      co_return co_await writeError(bad->status, bad->message);
    if (ec == http::error::header_limit) {
      co_return co_await writeError(431, "request header fields too large\n");
    }
    co_return co_await writeError(400, "bad request: " + ec.message() + "\n");
  }
  if (parser.fieldCount() > 100) co_return co_await writeError(431, "too many request headers\n");
  if (parser.headers().get(":authority")->empty()) {
    co_return co_await writeError(400, "missing Host header\n");
  }
  state_->active_requests_++;
  struct Done {
    WorkerState* s;
    ~Done() {
      s->active_requests_--;
      s->maybeFinishDrain();
    }
  } done{state_.get()};
  if (!parser.is_done() && parser.expectsContinue()) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!co_await write(kContinue)) co_return false;
  }
  struct StreamSlot {  // the stream ends before `done` counts it out, as a local would
    std::optional<ActiveStream>& slot;
    ~StreamSlot() { slot.reset(); }
  } stream_slot{stream_};
  ActiveStream& stream = stream_.emplace(*this, parser, cfg, listener);
  co_return co_await stream.run();
}

void startConnection(std::shared_ptr<WorkerState> state, tcp::socket socket,
                     size_t listener_index) {
  auto cm = std::make_shared<ConnectionManager>(state, std::move(socket), listener_index);
  asio::co_spawn(state->io(), [cm]() { return cm->run(); }, asio::detached);
}

}  // namespace wasm_proxy
