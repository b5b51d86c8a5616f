// SocketDeadline: cancels a socket's pending operations when a time point passes, with one timer
// and no parallel awaitables; expired() tells the awaiting code why its operation was aborted.
// Used for connect, route and header deadlines on both sides of the proxy.
//
// Arming is cheap because it happens several times per request: the timer is not cancelled and
// restarted each time. A wait already pending for an earlier or equal time point is left running;
// when it fires it compares the time with the current deadline and waits again for the rest, or
// does nothing when disarmed. Only a deadline earlier than the pending wait restarts the timer.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <ctime>
#include <functional>
#include <memory>

namespace wasm_proxy {

class SocketDeadline {
 public:
  using Clock = std::chrono::steady_clock;

  // The time to compute a deadline from: steady_clock's own time base (CLOCK_MONOTONIC) at the
  // resolution of a kernel tick (a few ms), for a fifth of the precise clock's cost (a request
  // computes several deadlines). A deadline may then fire up to one tick early.
  static Clock::time_point coarseNow() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(
        std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
  }

  explicit SocketDeadline(const boost::asio::any_io_executor& ex)
      : timer_(ex), state_(std::make_shared<State>()) {
    state_->timer = &timer_;
  }
  ~SocketDeadline() {
    state_->timer = nullptr;  // the pending handler (cancelled below) sees its owner gone
    state_->socket = nullptr;
    timer_.cancel();
  }
  SocketDeadline(const SocketDeadline&) = delete;
  SocketDeadline& operator=(const SocketDeadline&) = delete;

  void arm(boost::asio::ip::tcp::socket& socket, Clock::time_point when) {
    disarm();
    if (when == Clock::time_point::max()) return;
    state_->socket = &socket;
    state_->deadline = when;
    schedule(state_);
  }
  void disarm() {
    state_->socket = nullptr;
    state_->expired = false;
    state_->idle = nullptr;
  }
  bool expired() const { return state_->expired; }

  // Like arm(), for a wait whose clock starts with its first byte: each time `period` passes
  // while `idle()` is true the wait is extended, up to `idle_limit` in all.
  void armAfterFirstByte(boost::asio::ip::tcp::socket& socket, Clock::duration period,
                         Clock::duration idle_limit, std::function<bool()> idle) {
    disarm();
    const auto now = coarseNow();
    state_->socket = &socket;
    state_->idle = std::move(idle);
    state_->idle_until = now + idle_limit;
    state_->period = period;
    state_->deadline = now + period;
    schedule(state_);
  }

 private:
  // Shared with the pending handler, which may run after the SocketDeadline is gone.
  struct State {
    boost::asio::steady_timer* timer = nullptr;      // null once the owner is destroyed
    boost::asio::ip::tcp::socket* socket = nullptr;  // null while disarmed
    bool expired = false;
    Clock::time_point deadline;
    std::function<bool()> idle;  // set: extend by `period` while it says so, up to idle_until
    Clock::time_point idle_until;
    Clock::duration period{};
    bool waiting = false;  // a wait is pending, for `wait_until`
    Clock::time_point wait_until;
    uint64_t generation = 0;  // of the pending wait; older handlers were superseded
  };

  static void schedule(const std::shared_ptr<State>& state) {
    if (state->waiting && state->wait_until <= state->deadline) return;  // it will re-wait
    if (state->waiting) state->timer->cancel();  // that handler sees a newer generation
    state->waiting = true;
    state->wait_until = state->deadline;
    const uint64_t generation = ++state->generation;
    state->timer->expires_at(state->deadline);
    state->timer->async_wait([state, generation](boost::system::error_code) {
      if (generation != state->generation) return;
      state->waiting = false;
      if (state->timer == nullptr || state->socket == nullptr) return;  // gone or disarmed
      const auto now = Clock::now();
      if (now < state->deadline) return schedule(state);  // re-armed for later meanwhile
      if (state->idle && state->idle() && now < state->idle_until) {
        state->deadline = now + state->period;
        return schedule(state);
      }
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->cancel(ignored);
    });
  }

  boost::asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace wasm_proxy
