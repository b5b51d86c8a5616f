// The filter manager with scripted fake filters: every iteration result in every phase, local
// replies from each phase, pause and resume from a timer, reset while paused, held data and its
// limit, the route cache, and completion order.
#include "filter_manager.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <stdexcept>

namespace {

using namespace wasm_proxy;
namespace asio = boost::asio;

// What a fake filter does in one callback: its status, and optionally an action on the stream.
struct Script {
  bool stop = false;
  std::function<void(StreamFilterCallbacks&, std::string* data)> action;
};

class FakeFilter : public StreamFilter {
 public:
  FakeFilter(StreamFilterCallbacks& cb, std::string name, std::vector<std::string>& log)
      : cb_(cb), name_(std::move(name)), log_(log) {}
  std::map<std::string, Script> scripts;  // by callback name
  bool bypass = false;

  HeadersStatus decodeHeaders(bool) override {
    return run("decodeHeaders", nullptr) ? HeadersStatus::StopIteration : HeadersStatus::Continue;
  }
  DataStatus decodeData(std::string& data, bool eos) override {
    return run(eos ? "decodeData(eos)" : "decodeData", &data) ? DataStatus::StopIterationAndBuffer
                                                              : DataStatus::Continue;
  }
  TrailersStatus decodeTrailers() override {
    return run("decodeTrailers", nullptr) ? TrailersStatus::StopIteration
                                          : TrailersStatus::Continue;
  }
  HeadersStatus encodeHeaders(bool) override {
    return run("encodeHeaders", nullptr) ? HeadersStatus::StopIteration : HeadersStatus::Continue;
  }
  DataStatus encodeData(std::string& data, bool eos) override {
    return run(eos ? "encodeData(eos)" : "encodeData", &data) ? DataStatus::StopIterationAndBuffer
                                                              : DataStatus::Continue;
  }
  TrailersStatus encodeTrailers() override {
    return run("encodeTrailers", nullptr) ? TrailersStatus::StopIteration
                                          : TrailersStatus::Continue;
  }
  bool bypassed() const override { return bypass; }
  void onStreamComplete() override { log_.push_back(name_ + ".complete"); }

  StreamFilterCallbacks& cb_;

 private:
  bool run(const std::string& callback, std::string* data) {
    log_.push_back(name_ + "." + callback + (data ? "[" + *data + "]" : ""));
    auto it = scripts.find(callback);
    if (it == scripts.end()) return false;
    if (it->second.action) it->second.action(cb_, data);
    return it->second.stop;
  }
  std::string name_;
  std::vector<std::string>& log_;
};

// Waits on the wake timer only (no client); counts the waits.
class TimerWaiter : public PauseWaiter {
 public:
  asio::awaitable<bool> waitForWake(asio::steady_timer& wake) override {
    ++waits;
    wake.expires_after(std::chrono::seconds(5));
    auto [ec] = co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return static_cast<bool>(ec);  // cancelled by a wake-up: go on; expired: give up
  }
  int waits = 0;
};

class FilterManagerTest : public ::testing::Test {
 protected:
  FilterManagerTest()
      : fm(io.get_executor(), stream, waiter, FilterManager::Limits{10, 20},
           [this](const HttpStream&) {
             ++route_selections;
             return &route;
           }) {}

  FakeFilter& add(const std::string& name) {
    FakeFilter* f = nullptr;
    fm.addFilter([&](StreamFilterCallbacks& cb) {
      auto p = std::make_unique<FakeFilter>(cb, name, log);
      f = p.get();
      return p;
    });
    return *f;
  }

  // Runs a phase to its final result, resuming on the io_context when it pauses.
  FilterResult settle(FilterResult r) {
    if (r != FilterResult::Paused) return r;
    std::optional<FilterResult> out;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { out = co_await fm.resume(); }, asio::detached);
    io.restart();
    io.run();
    return out.value_or(FilterResult::Paused);
  }

  // Resumes `f` (decoding or encoding) from a timer after `ms`.
  void resumeLater(FakeFilter& f, bool decoding, int ms = 5) {
    auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(ms));
    t->async_wait([t, &f, decoding](boost::system::error_code) {
      if (decoding) {
        f.cb_.continueDecoding();
      } else {
        f.cb_.continueEncoding();
      }
    });
  }

  asio::io_context io;
  HttpStream stream;
  TimerWaiter waiter;
  Route route;
  int route_selections = 0;
  std::vector<std::string> log;
  FilterManager fm;
};

TEST_F(FilterManagerTest, ContinueRunsEveryFilterInOrderAndEncodesInReverse) {
  add("a");
  add("b");
  EXPECT_EQ(fm.decodeHeaders(false), FilterResult::Continue);
  std::string data = "xy";
  EXPECT_EQ(fm.decodeData(data, true), FilterResult::Continue);
  EXPECT_EQ(data, "xy");
  EXPECT_EQ(fm.encodeHeaders(true), FilterResult::Continue);
  EXPECT_TRUE(stream.response_started);
  fm.complete();
  EXPECT_EQ(log,
            (std::vector<std::string>{"a.decodeHeaders", "b.decodeHeaders", "a.decodeData(eos)[xy]",
                                      "b.decodeData(eos)[xy]", "b.encodeHeaders", "a.encodeHeaders",
                                      "a.complete", "b.complete"}));
  EXPECT_EQ(waiter.waits, 0) << "nothing paused: no wait";
}

TEST_F(FilterManagerTest, StopOnHeadersPausesUntilResumedFromATimer) {
  FakeFilter& a = add("a");
  add("b");
  a.scripts["decodeHeaders"].stop = true;
  const FilterResult r = fm.decodeHeaders(true);
  EXPECT_EQ(r, FilterResult::Paused);
  EXPECT_EQ(log.size(), 1u) << "b waits until a resumes";
  resumeLater(a, true);
  EXPECT_EQ(settle(r), FilterResult::Continue);
  EXPECT_EQ(log.back(), "b.decodeHeaders");
  EXPECT_GE(waiter.waits, 1);
}

TEST_F(FilterManagerTest, AFilterThatResumesWithinItsCallbackDoesNotPause) {
  FakeFilter& a = add("a");
  a.scripts["decodeHeaders"] = {
      true, [](StreamFilterCallbacks& cb, std::string*) { cb.continueDecoding(); }};
  EXPECT_EQ(fm.decodeHeaders(true), FilterResult::Continue);
}

TEST_F(FilterManagerTest, StopOnEveryPhaseOfBothDirectionsIsResumed) {
  FakeFilter& a = add("a");
  for (const char* cb : {"decodeHeaders", "decodeData(eos)", "decodeTrailers", "encodeHeaders",
                         "encodeData(eos)", "encodeTrailers"}) {
    a.scripts[cb].stop = true;
  }
  std::string data = "d";
  const bool decoding[] = {true, true, true, false, false, false};
  for (int phase = 0; phase < 6; ++phase) {
    FilterResult r;
    switch (phase) {
      case 0:
        r = fm.decodeHeaders(false);
        break;
      case 1:
        r = fm.decodeData(data, true);
        break;
      case 2:
        r = fm.decodeTrailers();
        break;
      case 3:
        r = fm.encodeHeaders(false);
        break;
      case 4:
        r = fm.encodeData(data, true);
        break;
      default:
        r = fm.encodeTrailers();
        break;
    }
    ASSERT_EQ(r, FilterResult::Paused) << phase;
    resumeLater(a, decoding[phase]);
    EXPECT_EQ(settle(r), FilterResult::Continue) << phase;
  }
  EXPECT_EQ(data, "d") << "held data goes on when the filter resumes";
}

TEST_F(FilterManagerTest, DataIsHeldUntilTheEndThenPassedWhole) {
  FakeFilter& a = add("a");
  add("b");
  a.scripts["decodeData"].stop = true;
  std::string piece = "abc";
  EXPECT_EQ(fm.decodeData(piece, false), FilterResult::Continue);
  EXPECT_EQ(piece, "") << "held by a";
  piece = "def";
  EXPECT_EQ(fm.decodeData(piece, true), FilterResult::Continue);
  EXPECT_EQ(piece, "abcdef");
  EXPECT_EQ(log.back(), "b.decodeData(eos)[abcdef]");
}

TEST_F(FilterManagerTest, HoldingMoreThanTheLimitIsTooLarge) {
  FakeFilter& a = add("a");
  a.scripts["decodeData"].stop = true;
  a.scripts["encodeData"].stop = true;
  std::string piece(8, 'x');
  EXPECT_EQ(fm.decodeData(piece, false), FilterResult::Continue);
  piece.assign(8, 'x');
  EXPECT_EQ(fm.decodeData(piece, false), FilterResult::TooLarge) << "16 bytes > 10";
  fm.encodeHeaders(false);
  piece.assign(15, 'x');
  EXPECT_EQ(fm.encodeData(piece, false), FilterResult::Continue) << "15 <= 20";
}

TEST_F(FilterManagerTest, ALocalReplyFromEachPhaseEndsTheIteration) {
  const char* callbacks[] = {"decodeHeaders", "decodeData(eos)", "decodeTrailers",
                             "encodeHeaders", "encodeData(eos)", "encodeTrailers"};
  for (int phase = 0; phase < 6; ++phase) {
    HttpStream s;
    TimerWaiter w;
    std::vector<std::string> l;
    FilterManager m(io.get_executor(), s, w, {}, nullptr);
    FakeFilter* a = nullptr;
    m.addFilter([&](StreamFilterCallbacks& cb) {
      auto f = std::make_unique<FakeFilter>(cb, "a", l);
      a = f.get();
      return f;
    });
    m.addFilter(
        [&](StreamFilterCallbacks& cb) { return std::make_unique<FakeFilter>(cb, "b", l); });
    a->scripts[callbacks[phase]].action = [](StreamFilterCallbacks& cb, std::string*) {
      cb.sendLocalReply(LocalReply{403, "no", {}, "denied", -1});
    };
    std::string data = "d";
    m.decodeHeaders(false);
    FilterResult r = phase == 0 ? FilterResult::LocalReply : FilterResult::Continue;
    if (phase >= 1) r = m.decodeData(data, true);
    if (phase >= 2 && r == FilterResult::Continue) r = m.decodeTrailers();
    if (phase >= 3 && r == FilterResult::Continue) r = m.encodeHeaders(false);
    if (phase >= 4 && r == FilterResult::Continue) r = m.encodeData(data, true);
    if (phase >= 5 && r == FilterResult::Continue) r = m.encodeTrailers();
    EXPECT_EQ(r, FilterResult::LocalReply) << callbacks[phase];
    EXPECT_EQ(m.localReply().status, 403u);
    if (phase < 3) {
      EXPECT_EQ(l.back().rfind(std::string("a.") + callbacks[phase], 0), 0u) << "b never sees it";
    }
  }
}

TEST_F(FilterManagerTest, ALocalReplyWhilePausedEndsTheWait) {
  FakeFilter& a = add("a");
  a.scripts["decodeHeaders"].stop = true;
  const FilterResult r = fm.decodeHeaders(true);
  auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(5));
  t->async_wait([t, &a](boost::system::error_code) {
    a.cb_.sendLocalReply(LocalReply{401, "", {}, "", -1});
  });
  EXPECT_EQ(settle(r), FilterResult::LocalReply);
  EXPECT_EQ(fm.localReply().status, 401u);
}

TEST_F(FilterManagerTest, ResetWhilePausedEndsTheStream) {
  FakeFilter& a = add("a");
  add("b");
  a.scripts["decodeHeaders"].stop = true;
  const FilterResult r = fm.decodeHeaders(true);
  auto t = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(5));
  t->async_wait([t, &a](boost::system::error_code) { a.cb_.resetStream(); });
  EXPECT_EQ(settle(r), FilterResult::Reset);
  EXPECT_EQ(log.size(), 1u) << "b never ran";
}

TEST_F(FilterManagerTest, TheWaiterGivingUpEndsThePause) {
  FakeFilter& a = add("a");
  a.scripts["decodeHeaders"].stop = true;
  struct GiveUp : PauseWaiter {
    asio::awaitable<bool> waitForWake(asio::steady_timer&) override { co_return false; }
  } give_up;
  HttpStream s;
  FilterManager m(io.get_executor(), s, give_up, {}, nullptr);
  FakeFilter* f = nullptr;
  m.addFilter([&](StreamFilterCallbacks& cb) {
    auto p = std::make_unique<FakeFilter>(cb, "x", log);
    f = p.get();
    return p;
  });
  f->scripts["decodeHeaders"].stop = true;
  ASSERT_EQ(m.decodeHeaders(true), FilterResult::Paused);
  std::optional<FilterResult> out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { out = co_await m.resume(); }, asio::detached);
  io.run();
  EXPECT_EQ(out, FilterResult::GiveUp);
}

TEST_F(FilterManagerTest, BypassedFiltersAreSkippedAndTheirHeldDataPasses) {
  FakeFilter& a = add("a");
  add("b");
  a.bypass = true;
  std::string data = "x";
  EXPECT_EQ(fm.decodeData(data, true), FilterResult::Continue);
  EXPECT_EQ(data, "x");
  EXPECT_EQ(log, (std::vector<std::string>{"b.decodeData(eos)[x]"}));
}

TEST_F(FilterManagerTest, EncodersAreTheFiltersThatSawTheRequestHead) {
  FakeFilter& a = add("a");
  add("b");
  a.scripts["decodeHeaders"].action = [](StreamFilterCallbacks& cb, std::string*) {
    cb.sendLocalReply(LocalReply{418, "", {}, "", -1});
  };
  EXPECT_EQ(fm.decodeHeaders(true), FilterResult::LocalReply);
  EXPECT_EQ(fm.encodeHeaders(true), FilterResult::Continue);
  EXPECT_EQ(log.back(), "a.encodeHeaders") << "b never saw the request";
}

TEST_F(FilterManagerTest, TheRouteIsCachedUntilAFilterClearsIt) {
  FakeFilter& a = add("a");
  EXPECT_EQ(fm.route(), &route);
  EXPECT_EQ(fm.route(), &route);
  EXPECT_EQ(route_selections, 1);
  a.cb_.clearRouteCache();
  EXPECT_EQ(fm.route(), &route);
  EXPECT_EQ(route_selections, 2);
  EXPECT_EQ(stream.info.route, &route);
}

TEST_F(FilterManagerTest, FiltersCompleteOnceInConfigOrder) {
  add("a");
  add("b");
  fm.complete();
  fm.complete();
  EXPECT_EQ(log, (std::vector<std::string>{"a.complete", "b.complete"}));
}

}  // namespace

// More filters than the manager keeps in place: the later ones live on the heap and are run,
// paused, resumed and completed like the first.
TEST_F(FilterManagerTest, ALongChainRunsInOrderAndPausesOnAnyFilter) {
  std::vector<FakeFilter*> filters;
  for (char name = 'a'; name <= 'g'; ++name) filters.push_back(&add(std::string(1, name)));
  ASSERT_EQ(fm.size(), 7u);
  FakeFilter& f = *filters[5];
  f.scripts["decodeHeaders"].stop = true;
  const FilterResult r = fm.decodeHeaders(true);
  ASSERT_EQ(r, FilterResult::Paused);
  EXPECT_EQ(log.back(), "f.decodeHeaders");
  resumeLater(f, true);
  EXPECT_EQ(settle(r), FilterResult::Continue);
  EXPECT_EQ(fm.encodeHeaders(true), FilterResult::Continue);
  fm.complete();
  const std::vector<std::string> expected = {
      "a.decodeHeaders", "b.decodeHeaders", "c.decodeHeaders", "d.decodeHeaders", "e.decodeHeaders",
      "f.decodeHeaders", "g.decodeHeaders", "g.encodeHeaders", "f.encodeHeaders", "e.encodeHeaders",
      "d.encodeHeaders", "c.encodeHeaders", "b.encodeHeaders", "a.encodeHeaders", "a.complete",
      "b.complete",      "c.complete",      "d.complete",      "e.complete",      "f.complete",
      "g.complete"};
  EXPECT_EQ(log, expected);
}

// A filter factory that throws adds no filter, whether the slot was in place or on the heap.
TEST_F(FilterManagerTest, AFactoryThatThrowsLeavesNoSlotBehind) {
  auto throwing = [](StreamFilterCallbacks&) -> std::unique_ptr<StreamFilter> {
    throw std::runtime_error("no filter");
  };
  add("a");
  EXPECT_THROW(fm.addFilter(throwing), std::runtime_error);
  EXPECT_EQ(fm.size(), 1u);
  for (char name = 'b'; name <= 'e'; ++name) add(std::string(1, name));
  EXPECT_THROW(fm.addFilter(throwing), std::runtime_error);
  EXPECT_EQ(fm.size(), 5u);
  fm.complete();
  EXPECT_EQ(log, (std::vector<std::string>{"a.complete", "b.complete", "c.complete", "d.complete",
                                           "e.complete"}));
}
