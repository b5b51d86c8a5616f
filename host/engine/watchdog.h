// Deadlines of calls into plugins, shared by the engines that cannot count instructions (V8,
// wasm2c): one thread for the whole process stops calls past their deadline.
//
// A WatchedCalls is the call state of one engine (one thread). Arming a deadline costs the call
// plain atomic stores (no lock, no allocation, no wake-up); the watchdog scans every kPeriod, so
// that is the resolution. FencedCalls' `kill` decides who owns the end of a call: 0 armed; 1 the
// watchdog (or an interrupt) is stopping it; 2 the stop was issued; 3 the call closed first.
// Whoever moves it away from 0 wins, so a stop never lands on a later call unnoticed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "proxy_wasm/host/engine.h"

namespace proxy_wasm::host {

// What the watchdog scans: one engine's calls.
class WatchedCalls {
 public:
  virtual ~WatchedCalls() = default;
  // The watchdog: stop the running call if its deadline has passed.
  virtual void expireIfDue(int64_t now_ns) = 0;
};

// Calls whose stop cannot tell one call from the next (V8's TerminateExecution): the end of a call
// and a stop are ordered through `kill_`, at the price of an atomic exchange per call.
class FencedCalls : public WatchedCalls {
 public:
  // The outermost call starts / ends. end() returns true when the call was stopped.
  void begin(Deadline deadline);
  bool end();
  // Any thread: stop the running call, if any.
  void interrupt();
  void expireIfDue(int64_t now_ns) override;

 protected:
  // Makes the running call end as soon as possible; called at most once per call, from another
  // thread (or from the engine's own thread for interrupt()).
  virtual void stop() = 0;

 private:
  void terminate();
  std::atomic<int64_t> deadline_ns_{0};  // 0: no call; INT64_MAX: no deadline
  std::atomic<int> kill_{0};
};

// Calls whose stop carries the call's generation, and the engine ignores a stop for any other
// generation (wasm2c's signal). A late stop is then harmless, so beginning and ending a call are
// plain stores. The watchdog reads generation, deadline, generation again: a deadline it acts on
// belongs to the generation it sends (a new call stores its generation before its deadline).
class TaggedCalls : public WatchedCalls {
 public:
  // `generation` is never 0 and never reused by the engine's thread.
  void begin(Deadline deadline, uint64_t generation);
  void end() { deadline_ns_.store(0, std::memory_order_release); }
  // Any thread: stop the running call, if any.
  void interrupt();
  void expireIfDue(int64_t now_ns) override;

 protected:
  // Makes the call of `generation` end as soon as possible, if it is still running; may be
  // called for a call that has already ended.
  virtual void stop(uint64_t generation) = 0;

 private:
  // The running call's generation when its deadline is due (or any time for `due_now`); 0 if
  // none.
  uint64_t dueGeneration(int64_t now_ns, bool due_now) const;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int64_t> deadline_ns_{0};  // 0: no call; INT64_MAX: no deadline
};

class Watchdog {
 public:
  static constexpr auto kPeriod = std::chrono::milliseconds(5);
  static void watch(std::shared_ptr<WatchedCalls> calls);
  static void unwatch(const WatchedCalls* calls);
};

int64_t steadyNs(Deadline d);

}  // namespace proxy_wasm::host
