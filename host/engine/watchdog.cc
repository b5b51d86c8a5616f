#include "watchdog.h"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace proxy_wasm::host {
namespace {

// membarrier(2): the watchdog's half of the fence that orders parking against arming.
bool registerProcessFence() {
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}
bool processFence() {
  return syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

class WatchdogThread {
 public:
  static WatchdogThread& instance() {
    static WatchdogThread* w = new WatchdogThread();  // never destroyed: engines may outlive it
    return *w;
  }
  void add(std::shared_ptr<WatchedCalls> calls) {
    std::lock_guard<std::mutex> lock(mu_);
    watched_.push_back(std::move(calls));
  }
  void remove(const WatchedCalls* calls) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = watched_.begin(); it != watched_.end(); ++it) {
      if (it->get() == calls) {
        watched_.erase(it);
        return;
      }
    }
  }
  void wake() {
    std::lock_guard<std::mutex> lock(park_mu_);
    detail::watchdog_parked.store(false, std::memory_order_relaxed);
    park_cv_.notify_one();
  }
  bool canPark() const { return can_park_.load(std::memory_order_relaxed); }
  uint64_t ticks() const { return ticks_.load(std::memory_order_relaxed); }
  uint64_t parks() const { return parks_.load(std::memory_order_relaxed); }

 private:
  WatchdogThread() : can_park_(registerProcessFence()) {
    std::thread([this] { loop(); }).detach();
  }
  void loop() {
    int idle_ticks = 0;
    bool continuous = false;
    for (;;) {
      std::this_thread::sleep_for(Watchdog::kPeriod);
      ticks_.fetch_add(1, std::memory_order_relaxed);
      idle_ticks = scan(continuous) ? 0 : idle_ticks + 1;
      continuous = true;
      if (canPark() && idle_ticks >= Watchdog::kIdleTicksBeforeParking) {
        continuous = !park();
        idle_ticks = 0;
      }
    }
  }
  // Stops the calls past their deadline; returns whether any call is armed or was armed since
  // the previous scan.
  bool scan(bool continuous) {
    const int64_t now = steadyNs(std::chrono::steady_clock::now());
    bool any = false;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& calls : watched_) any = calls->scan(now, continuous) || any;
    return any;
  }
  bool anyArmed() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& calls : watched_) {
      if (calls->armed()) return true;
    }
    return false;
  }
  // Sets the flag, then fences: a call armed before the fence is seen here, and one armed after
  // it sees the flag and wakes us. Returns whether it parked.
  bool park() {
    std::unique_lock<std::mutex> lock(park_mu_);
    detail::watchdog_parked.store(true, std::memory_order_relaxed);
    const bool fenced = processFence();
    if (!fenced) can_park_.store(false, std::memory_order_relaxed);  // keep scanning from now on
    if (!fenced || anyArmed()) {
      detail::watchdog_parked.store(false, std::memory_order_relaxed);
      return false;
    }
    parks_.fetch_add(1, std::memory_order_relaxed);
    park_cv_.wait(lock, [] { return !detail::watchdog_parked.load(std::memory_order_relaxed); });
    return true;
  }

  std::atomic<bool> can_park_;
  std::atomic<uint64_t> ticks_{0};
  std::atomic<uint64_t> parks_{0};
  std::mutex mu_;
  std::vector<std::shared_ptr<WatchedCalls>> watched_;
  std::mutex park_mu_;
  std::condition_variable park_cv_;
};

}  // namespace

bool WatchedCalls::scan(int64_t now_ns, bool continuous) {
  // Read every scan, so that a call that begins before the next one is charged from here.
  const CpuSample reading{now_ns, threadCpuNs()};
  if (!continuous) previous_scan_ = {};
  const uint64_t n = armings_.load(std::memory_order_relaxed);
  const bool began = n != scanned_armings_;
  scanned_armings_ = n;
  // A call that began since the previous scan is charged from that scan's reading; one that was
  // already running when the watchdog woke up, from this one (the time before it counts whole).
  if (began) call_since_ = previous_scan_.valid() ? previous_scan_ : reading;
  previous_scan_ = reading;
  const bool running = armed();
  if (running) expireIfDue(cpuChargedNow(call_since_, now_ns, reading.cpu_ns));
  return began || running;
}

void WatchedCalls::announce(Deadline deadline) {
  if (deadline == kNoDeadline) return;
  armings_.store(armings_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  Watchdog::armed();
}

void FencedCalls::begin(Deadline deadline) {
  kill_.store(0, std::memory_order_relaxed);
  deadline_ns_.store(deadline == kNoDeadline ? INT64_MAX : steadyNs(deadline),
                     std::memory_order_release);
  announce(deadline);
}

bool FencedCalls::armed() const {
  const int64_t d = deadline_ns_.load(std::memory_order_acquire);
  return d != 0 && d != INT64_MAX;
}

bool FencedCalls::end() {
  deadline_ns_.store(0, std::memory_order_release);
  int k = kill_.exchange(3, std::memory_order_acq_rel);
  if (k == 1) {
    while (kill_.load(std::memory_order_acquire) != 2) std::this_thread::yield();
  }
  return k == 1 || k == 2;
}

void FencedCalls::interrupt() {
  if (deadline_ns_.load(std::memory_order_acquire) != 0) terminate();
}

void FencedCalls::expireIfDue(int64_t now_ns) {
  const int64_t d = deadline_ns_.load(std::memory_order_acquire);
  if (d != 0 && d <= now_ns) terminate();
}

void FencedCalls::terminate() {
  int expected = 0;
  if (kill_.compare_exchange_strong(expected, 1)) {
    stop();
    kill_.store(2, std::memory_order_release);
  }
}

void TaggedCalls::begin(Deadline deadline, uint64_t generation) {
  // Release: a watchdog that reads this generation also sees the previous call's end.
  generation_.store(generation, std::memory_order_release);
  deadline_ns_.store(deadline == kNoDeadline ? INT64_MAX : steadyNs(deadline),
                     std::memory_order_release);
  announce(deadline);
}

bool TaggedCalls::armed() const {
  const int64_t d = deadline_ns_.load(std::memory_order_acquire);
  return d != 0 && d != INT64_MAX;
}

uint64_t TaggedCalls::dueGeneration(int64_t now_ns, bool due_now) const {
  const uint64_t g = generation_.load(std::memory_order_acquire);
  const int64_t d = deadline_ns_.load(std::memory_order_acquire);
  if (d == 0 || (!due_now && d > now_ns)) return 0;
  return generation_.load(std::memory_order_relaxed) == g ? g : 0;
}

void TaggedCalls::interrupt() {
  if (const uint64_t g = dueGeneration(0, true)) stop(g);
}

void TaggedCalls::expireIfDue(int64_t now_ns) {
  if (const uint64_t g = dueGeneration(now_ns, false)) stop(g);
}

void Watchdog::watch(std::shared_ptr<WatchedCalls> calls) {
  WatchdogThread::instance().add(std::move(calls));
}
void Watchdog::unwatch(const WatchedCalls* calls) {
  WatchdogThread::instance().remove(calls);
}
void Watchdog::wake() {
  WatchdogThread::instance().wake();
}
bool Watchdog::canPark() {
  return WatchdogThread::instance().canPark();
}
uint64_t Watchdog::ticks() {
  return WatchdogThread::instance().ticks();
}
uint64_t Watchdog::parks() {
  return WatchdogThread::instance().parks();
}

}  // namespace proxy_wasm::host
