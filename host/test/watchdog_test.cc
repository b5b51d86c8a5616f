// The watchdog's view of an engine's calls. TaggedCalls (wasm2c) ends a call with a plain store,
// so what makes a late stop harmless is the generation every stop carries: these tests check
// that a stop names the call whose deadline passed, and that nothing is stopped between calls.
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

  calls->begin(std::chrono::steady_clock::now() + milliseconds(20), 42);
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
