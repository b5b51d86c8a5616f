// The watchdog's view of an engine's calls. TaggedCalls (wasm2c) ends a call with a plain store,
// so what makes a late stop harmless is the generation every stop carries: these tests check
// that a stop names the call whose deadline passed, and that nothing is stopped between calls.
// A deadline is a budget of the engine thread's CPU time: a scan charges a call with that, and
// not with the wall time it waited.
// The last tests run the real watchdog thread: it parks when idle, wakes for the next call and
// stays awake while calls keep coming.
#include "watchdog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace proxy_wasm::host {
namespace {

class RecordedStops : public TaggedCalls {
 public:
  std::vector<uint64_t> stops;

 protected:
  void stop(uint64_t generation) override { stops.push_back(generation); }
};

Deadline at(int64_t ns) {
  return Deadline(std::chrono::nanoseconds(ns));
}

TEST(TaggedCalls, AStopNamesTheCallWhoseDeadlinePassed) {
  RecordedStops calls;
  calls.begin(at(1000), 7);
  calls.expireIfDue(999);
  EXPECT_TRUE(calls.stops.empty()) << "not due yet";
  calls.expireIfDue(1000);
  EXPECT_EQ(calls.stops, std::vector<uint64_t>{7});
}

TEST(TaggedCalls, NothingIsStoppedBetweenCalls) {
  RecordedStops calls;
  calls.begin(at(1000), 7);
  calls.end();
  calls.expireIfDue(5000);
  calls.interrupt();
  EXPECT_TRUE(calls.stops.empty());
  calls.begin(at(9000), 8);  // the next call: its own deadline, its own generation
  calls.expireIfDue(5000);
  EXPECT_TRUE(calls.stops.empty());
  calls.interrupt();
  EXPECT_EQ(calls.stops, std::vector<uint64_t>{8});
}

TEST(TaggedCalls, ACallWithoutDeadlineIsStoppedOnlyByAnInterrupt) {
  RecordedStops calls;
  calls.begin(kNoDeadline, 3);
  calls.expireIfDue(INT64_MAX - 1);
  EXPECT_TRUE(calls.stops.empty());
  calls.interrupt();
  EXPECT_EQ(calls.stops, std::vector<uint64_t>{3});
}

// Calls on a thread whose CPU clock the test sets.
class CpuTimedCalls : public RecordedStops {
 public:
  int64_t cpu_ns = 0;

 protected:
  int64_t threadCpuNs() const override { return cpu_ns; }
};

TEST(WatchedCalls, ACallIsChargedItsThreadsCpuTimeNotWallTime) {
  CpuTimedCalls calls;
  calls.scan(0, false);      // idle: the reading a call that begins next is charged from
  calls.begin(at(1000), 7);  // a budget of ~1000 ns
  calls.cpu_ns = 100;
  EXPECT_TRUE(calls.scan(500, true));
  calls.cpu_ns = 150;
  calls.scan(5000, true);  // wall time is far past the deadline, CPU time is not
  EXPECT_TRUE(calls.stops.empty()) << "stopped a call that had used 150 ns of CPU";
  calls.cpu_ns = 1000;
  calls.scan(6000, true);
  EXPECT_EQ(calls.stops, std::vector<uint64_t>{7});
  calls.end();

  // The next call is charged from the scan before it, not from the first call's start.
  calls.scan(7000, true);
  calls.begin(at(8000), 8);
  calls.cpu_ns = 1500;
  calls.scan(9000, true);
  EXPECT_EQ(calls.stops.size(), 1u) << "charged the CPU time of the call before";
  calls.cpu_ns = 2000;
  calls.scan(9500, true);
  EXPECT_EQ(calls.stops, (std::vector<uint64_t>{7, 8}));
}

// A call already running when the watchdog wakes up has no earlier reading: until its first one,
// wall time counts whole, so a late watchdog stops it no later than wall time would.
TEST(WatchedCalls, WithoutAnEarlierReadingWallTimeCounts) {
  CpuTimedCalls calls;
  calls.scan(0, true);
  calls.begin(at(1000), 3);
  calls.scan(1200, false);  // the first scan after parking
  EXPECT_EQ(calls.stops, std::vector<uint64_t>{3});
}

// Records the last stop; written by the watchdog thread.
class LastStop : public TaggedCalls {
 public:
  std::atomic<uint64_t> generation{0};

 protected:
  void stop(uint64_t g) override { generation.store(g); }
};

bool waitFor(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Calls watched by the real watchdog thread; null (and nothing watched) when it cannot park.
std::shared_ptr<LastStop> watchedIfItCanPark() {
  auto calls = std::make_shared<LastStop>();
  Watchdog::watch(calls);
  if (Watchdog::canPark()) return calls;
  Watchdog::unwatch(calls.get());
  return nullptr;
}

TEST(Watchdog, ParksWhileNoCallIsArmedAndWakesForTheNextDeadline) {
  using std::chrono::milliseconds;
  auto calls = watchedIfItCanPark();
  if (!calls) GTEST_SKIP() << "no membarrier(2) here: the watchdog never parks";
  ASSERT_TRUE(waitFor([] { return Watchdog::parked(); }, milliseconds(2000)))
      << "idle for 2 s and still scanning every " << Watchdog::kPeriod.count() << " ms";
  const uint64_t ticks = Watchdog::ticks();
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(Watchdog::ticks(), ticks) << "a parked watchdog does not wake up by itself";

  // Already due: the deadline counts this thread's CPU time, and it sleeps while it waits.
  calls->begin(std::chrono::steady_clock::now(), 42);
  EXPECT_TRUE(waitFor([&] { return calls->generation.load() == 42; }, milliseconds(2000)))
      << "a deadline armed while the watchdog was parked was not enforced";
  EXPECT_GT(Watchdog::ticks(), ticks);
  calls->end();
  Watchdog::unwatch(calls.get());
}

// Under load a call is running at few of the ticks: what keeps the watchdog awake is that calls
// keep beginning, not that one happens to be running when it looks.
TEST(Watchdog, DoesNotParkWhileShortCallsKeepComing) {
  using std::chrono::milliseconds;
  auto calls = watchedIfItCanPark();
  if (!calls) GTEST_SKIP() << "no membarrier(2) here: the watchdog never parks";
  calls->begin(std::chrono::steady_clock::now() + milliseconds(1000), 1);  // awake from here
  calls->end();
  const uint64_t parks = Watchdog::parks();
  const uint64_t ticks = Watchdog::ticks();
  const auto until = std::chrono::steady_clock::now() + milliseconds(400);
  for (uint64_t g = 2; std::chrono::steady_clock::now() < until; ++g) {
    calls->begin(std::chrono::steady_clock::now() + milliseconds(1000), g);
    calls->end();
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(Watchdog::parks(), parks)
      << "parked " << Watchdog::parks() - parks << " times while calls kept coming";
  EXPECT_GT(Watchdog::ticks(), ticks + 20) << "it kept scanning";
  Watchdog::unwatch(calls.get());
}

}  // namespace
}  // namespace proxy_wasm::host
