// SocketDeadline: cancels a socket's pending operations when a time point passes, with one timer
// and no parallel awaitables; expired() tells the awaiting code why its operation was aborted.
// Used for connect, route and header deadlines on both sides of the proxy.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace wasm_proxy {

class SocketDeadline {
 public:
  explicit SocketDeadline(const boost::asio::any_io_executor& ex) : timer_(ex) {}
  ~SocketDeadline() { disarm(); }
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  void arm(boost::asio::ip::tcp::socket& socket, std::chrono::steady_clock::time_point when) {
    disarm();
    if (when == std::chrono::steady_clock::time_point::max()) return;
    state_ = std::make_shared<State>();
    state_->socket = &socket;
    timer_.expires_at(when);
    timer_.async_wait([state = state_](boost::system::error_code ec) {
      if (ec || state->socket == nullptr) return;
      state->expired = true;
      state->socket->cancel(ec);
    });
  }
  void disarm() {
    if (!state_) return;
    state_->socket = nullptr;
    timer_.cancel();
    state_.reset();
  }
  bool expired() const { return state_ && state_->expired; }

  // Like arm(), for a wait whose clock starts with its first byte: each time `period` passes
  // while `idle()` is true the wait is extended, up to `idle_limit` in all.
  void armAfterFirstByte(boost::asio::ip::tcp::socket& socket,
                         std::chrono::steady_clock::duration period,
                         std::chrono::steady_clock::duration idle_limit,
                         std::function<bool()> idle) {
    disarm();
    state_ = std::make_shared<State>();
    state_->socket = &socket;
    state_->idle = std::move(idle);
    state_->idle_until = std::chrono::steady_clock::now() + idle_limit;
    state_->period = period;
    wait(state_);
  }

 private:
  struct State {
    boost::asio::ip::tcp::socket* socket = nullptr;
    bool expired = false;
    std::function<bool()> idle;
    std::chrono::steady_clock::time_point idle_until;
    std::chrono::steady_clock::duration period{};
  };
  void wait(std::shared_ptr<State> state) {
    timer_.expires_after(state->period);
    timer_.async_wait([this, state](boost::system::error_code ec) {
      if (ec || state->socket == nullptr) return;
      if (state->idle && state->idle() && std::chrono::steady_clock::now() < state->idle_until) {
        wait(state);  // `this` is alive: disarm() (also in the destructor) clears state->socket
        return;
      }
      state->expired = true;
      state->socket->cancel(ec);
    });
  }
  boost::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace wasm_proxy
