// The HTTP connection manager of one downstream connection (Envoy's ConnectionManagerImpl for
// HTTP/1.1): the read loop, keep-alive and pipelining, 100-continue, the header, idle and write
// deadlines, drain; one ActiveStream at a time does the request itself.
//
// Reading: the connection owns the only read buffer. While a filter holds a stream, the manager
// watches the client by waiting for readability (never a read that a wake-up could cancel and
// lose) and then takes what is there without blocking, up to kReadAheadLimit bytes; past that
// it stops reading (flow control) until the stream goes on. No byte a client sent is dropped.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <memory>
#include <optional>

#include "active_stream.h"
#include "filter_manager.h"
#include "http1/parser.h"
#include "stream_info.h"
#include "upstream/socket_deadline.h"
#include "worker_state.h"

namespace wasm_proxy {

class WorkerState;

class ConnectionManager : public PauseWaiter,
                          public std::enable_shared_from_this<ConnectionManager> {
 public:
  // Bytes read ahead of the current request while a filter holds it (Envoy's default
  // per_connection_buffer_limit_bytes).
  static constexpr size_t kReadAheadLimit = 1u << 20;

  ConnectionManager(std::shared_ptr<WorkerState> state, boost::asio::ip::tcp::socket socket,
                    size_t listener_index);

  boost::asio::awaitable<void> run();

  // ---- for the ActiveStream ----
  WorkerState& worker() { return *state_; }
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }
  const ConnectionInfo& info() const { return conn_; }
  // The deadline of the stream's reads from the client (request body).
  SocketDeadline& readDeadline() { return read_deadline_; }
  // Writes all of `bytes` to the client, bounded by the stream idle timeout. False on failure.
  boost::asio::awaitable<bool> write(std::string_view bytes);
  // Now + the listener's stream_idle_timeout (never, when it is 0).
  std::chrono::steady_clock::time_point idleDeadline() const;
  // A pause ended by the stream idle timeout rather than the client going away.
  bool pauseTimedOut() const { return pause_timed_out_; }
  boost::asio::awaitable<bool> waitForWake(boost::asio::steady_timer& wake) override;
  // The header maps of a finished stream, kept for the next request's heads (their storage is
  // reused rather than allocated per head); the maps given are left empty.
  void recycleHeaders(http1::VectorHeaderMap& request, http1::VectorHeaderMap& response) {
    spare_request_headers_ = std::move(request);
    spare_response_headers_ = std::move(response);
  }
  http1::VectorHeaderMap& spareResponseHeaders() { return spare_response_headers_; }

 private:
  // Reads, processes and answers one request. Returns whether to keep the connection.
  boost::asio::awaitable<bool> handleOne();
  boost::asio::awaitable<bool> writeError(unsigned status, std::string_view body);

  std::shared_ptr<WorkerState> state_;
  boost::asio::ip::tcp::socket socket_;
  size_t listener_index_;
  boost::beast::flat_buffer buffer_;
  ConnectionInfo conn_;
  SocketDeadline read_deadline_;   // request heads and bodies
  SocketDeadline write_deadline_;  // responses
  bool pause_timed_out_ = false;
  std::chrono::milliseconds stream_idle_timeout_{0};  // of the current request's listener
  // The request being read and the one being served (one at a time), kept here rather than in
  // handleOne's coroutine frame: the frame stays small enough for Asio to recycle it, and neither
  // costs an allocation per request.
  std::optional<http1::RequestParser> parser_;
  std::optional<ActiveStream> stream_;
  IdleWait idle_wait_;  // listed in the worker's idle connections while waiting for a request
  // The header maps of the last stream, whose storage the next heads reuse.
  http1::VectorHeaderMap spare_request_headers_, spare_response_headers_;
};

// Starts serving an accepted connection on its worker.
void startConnection(std::shared_ptr<WorkerState> state, boost::asio::ip::tcp::socket socket,
                     size_t listener_index);

}  // namespace wasm_proxy
