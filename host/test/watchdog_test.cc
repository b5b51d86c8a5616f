// The watchdog's view of an engine's calls. TaggedCalls (wasm2c) ends a call with a plain store,
// so what makes a late stop harmless is the generation every stop carries: these tests check
// that a stop names the call whose deadline passed, and that nothing is stopped between calls.
#include "watchdog.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace proxy_wasm::host
