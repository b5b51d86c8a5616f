// Deadlines of calls into plugins, shared by the engines that cannot count instructions (V8,
// wasm2c): one thread for the whole process stops calls past their deadline.
//
// WatchedCalls is the call state of one engine (one thread). Arming a deadline costs the call two
// atomic stores (no lock, no allocation, no wake-up); the watchdog scans every kPeriod, so that is
// the resolution. `kill` decides who owns the end of a call: 0 armed; 1 the watchdog (or an
// interrupt) is stopping it; 2 the stop was issued; 3 the call closed first. Whoever moves it away
// from 0 wins, so a stop never lands on a later call unnoticed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "proxy_wasm/host/engine.h"

namespace proxy_wasm::host {

class WatchedCalls {
 public:
  virtual ~WatchedCalls() = default;
  // The outermost call starts / ends. end() returns true when the call was stopped.
  void begin(Deadline deadline);
  bool end();
  // Any thread: stop the running call, if any.
  void interrupt();
  // The watchdog: stop the running call if its deadline has passed.
  void expireIfDue(int64_t now_ns);

 protected:
  // Makes the running call end as soon as possible; called at most once per call, from another
  // thread (or from the engine's own thread for interrupt()).
  virtual void stop() = 0;

 private:
  void terminate();
  std::atomic<int64_t> deadline_ns_{0};  // 0: no call; INT64_MAX: no deadline
  std::atomic<int> kill_{0};
};

class Watchdog {
 public:
  static constexpr auto kPeriod = std::chrono::milliseconds(5);
  static void watch(std::shared_ptr<WatchedCalls> calls);
  static void unwatch(const WatchedCalls* calls);
};

int64_t steadyNs(Deadline d);

}  // namespace proxy_wasm::host
