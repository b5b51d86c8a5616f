// A call's deadline counts the CPU time of the thread that runs it, not wall time: a worker that
// is descheduled, or waits in a hostcall (page faults served from disk, a blocked log sink), is
// not charged for it, so a loaded machine cannot fail a plugin that does little work.
//
// Reading a thread's CPU clock is a system call (~0.3 µs), too dear for every call. So a call
// still arms a wall-time deadline (now + its budget), and whoever checks deadlines reads the CPU
// clock instead: it keeps a sample (wall and CPU time read together) taken no later than the call
// began, or as early in it as it can, and compares the deadline with the sample's wall time plus
// the CPU time the thread has used since. With a sample from before the call, that is never later
// than the call's start plus the CPU time the call used, so the call is not stopped before it has
// used its budget, and it is stopped late by at most the time from the sample to the call's start
// (the watchdog's period). With a sample from inside the call (the watchdog woke up while it ran,
// or the interpreter's first hostcall or slice), the wall time before the sample counts whole.
#pragma once

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <cstdint>

namespace proxy_wasm::host {

// The CPU clock of the thread that made it, read from any thread; -1 when it cannot be read.
class ThreadCpuClock {
 public:
  ThreadCpuClock() {
    if (pthread_getcpuclockid(pthread_self(), &clock_) != 0) clock_ = kNone;
  }
  int64_t nowNs() const { return clock_ == kNone ? -1 : readNs(clock_); }
  // A clock's reading in nanoseconds; -1 when it cannot be read.
  static int64_t readNs(clockid_t clock) {
    timespec ts;
    if (clock_gettime(clock, &ts) != 0) return -1;
    return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  }

 private:
  static constexpr clockid_t kNone = -1;
  clockid_t clock_ = kNone;
};

// The CPU time of the calling thread; -1 when it cannot be read.
inline int64_t callingThreadCpuNs() {
  return ThreadCpuClock::readNs(CLOCK_THREAD_CPUTIME_ID);
}

// Wall and CPU time of one thread read together; `cpu_ns` -1 when there is none.
struct CpuSample {
  int64_t wall_ns = 0;
  int64_t cpu_ns = -1;
  bool valid() const { return cpu_ns >= 0; }
};

// The time to compare a deadline with, at wall time `wall_ns` when the thread's CPU clock reads
// `cpu_ns`: the sample's wall time plus the CPU time used since, and never past `wall_ns`. Without
// a sample or a CPU reading, wall time counts.
inline int64_t cpuChargedNow(CpuSample since, int64_t wall_ns, int64_t cpu_ns) {
  if (!since.valid() || cpu_ns < 0) return wall_ns;
  return std::min(wall_ns, since.wall_ns + (cpu_ns - since.cpu_ns));
}

}  // namespace proxy_wasm::host
