// Deadlines of calls into plugins, for the engines whose code cannot check the clock itself (V8,
// wasm2c): one thread for the whole process stops calls that have used their deadline's budget of
// CPU time (cpu_deadline.h: at each scan it reads the CPU clock of every engine's thread).
//
// A WatchedCalls is the call state of one engine (one thread). Arming a deadline costs the call
// plain atomic stores (no lock, no allocation, no wake-up, no clock but the coarse one); the
// watchdog scans every kPeriod, so that is the resolution. FencedCalls' `kill` decides who owns the
// end of a call: 0 armed; 1 the watchdog (or an interrupt) is stopping it; 2 the stop was issued; 3
// the call closed first. Whoever moves it away from 0 wins, so a stop never lands on a later call
// unnoticed.
//
// An idle proxy should not wake up 200 times a second: after kIdleTicksBeforeParking ticks in
// which no call was armed (neither running at the tick nor begun since the previous one: under
// load calls are short, and most ticks fall between them), the watchdog thread parks until the
// next call is armed. Arming then also loads one flag (which changes only when the watchdog parks
// or wakes) and, only when it is set, wakes the watchdog. Parking and arming are ordered by an
// asymmetric fence: the armer's side is a compiler barrier, the watchdog's a membarrier(2) across
// the process, so either the watchdog sees the new deadline after setting the flag, or the armer
// sees the flag. Without membarrier(2) the watchdog never parks.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

#include "cpu_deadline.h"
#include "proxy_wasm/host/engine.h"

namespace proxy_wasm::host {

// What the watchdog scans: one engine's calls, made on the engine's thread (whose CPU clock
// deadlines are charged to, cpu_deadline.h).
class WatchedCalls {
 public:
  virtual ~WatchedCalls() = default;
  // The watchdog, every period: stops the running call if it has used its deadline's budget of
  // CPU time. Returns whether a call with a deadline is running or began since the previous
  // scan. `continuous`: the previous scan was one period ago (the watchdog has not parked since).
  bool scan(int64_t now_ns, bool continuous);
  // Stop the running call if its deadline is at or before `now_ns`.
  virtual void expireIfDue(int64_t now_ns) = 0;
  // Whether a call with a deadline is running: the watchdog parks only when none is (a call
  // without one needs no watchdog; an interrupt stops it from the interrupting thread).
  virtual bool armed() const = 0;

 protected:
  // The engine's thread, once a call's deadline is stored: counts a call with a deadline (the
  // only writer: no read-modify-write needed) and wakes a parked watchdog.
  void announce(Deadline deadline);
  // The CPU time of the engine's thread (tests play a thread).
  virtual int64_t threadCpuNs() const { return cpu_clock_.nowNs(); }

 private:
  ThreadCpuClock cpu_clock_;
  std::atomic<uint64_t> armings_{0};
  // The watchdog's, under its lock: the arming count, the reading of the previous scan and the
  // sample the running call is charged from.
  uint64_t scanned_armings_ = 0;
  CpuSample previous_scan_;
  CpuSample call_since_;
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
  bool armed() const override;

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
  bool armed() const override;

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

namespace detail {
// Set while the watchdog thread is parked (or about to park).
inline std::atomic<bool> watchdog_parked{false};
}  // namespace detail

class Watchdog {
 public:
  static constexpr auto kPeriod = std::chrono::milliseconds(5);
  static constexpr int kIdleTicksBeforeParking = 20;  // 100 ms without a call armed
  static void watch(std::shared_ptr<WatchedCalls> calls);
  static void unwatch(const WatchedCalls* calls);

  // Called by the engine's thread right after it armed a call with a deadline.
  static void armed() {
    std::atomic_signal_fence(std::memory_order_seq_cst);  // the armer's half of the fence
    if (detail::watchdog_parked.load(std::memory_order_relaxed)) wake();
  }

  // For tests and diagnostics: whether the watchdog can park (membarrier(2) is available),
  // whether it is parked, how many times it has woken up to scan and how many times it parked.
  static bool canPark();
  static bool parked() { return detail::watchdog_parked.load(std::memory_order_relaxed); }
  static uint64_t ticks();
  static uint64_t parks();

 private:
  static void wake();
};

}  // namespace proxy_wasm::host
