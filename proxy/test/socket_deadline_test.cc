// SocketDeadline on a real connected socket pair: a pending read is cancelled when the deadline
// passes, whatever arming, re-arming and disarming came before (the timer is re-used lazily).
#include "upstream/socket_deadline.h"

#include <gtest/gtest.h>

#include <optional>

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Pair {
  asio::io_context io;
  tcp::socket a{io}, b{io};
  Pair() {
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acc.local_endpoint());
    acc.accept(b);
  }
};

// Reads on `p.a` until it completes or `limit` passes; returns when the read ended (nullopt: it
// did not end within `limit`).
std::optional<milliseconds> readEndsAfter(Pair& p, milliseconds limit) {
  char byte;
  std::optional<Clock::time_point> ended;
  p.a.async_read_some(asio::buffer(&byte, 1),
                      [&](boost::system::error_code, size_t) { ended = Clock::now(); });
  const auto start = Clock::now();
  p.io.restart();
  p.io.run_for(limit);
  if (!ended) {  // end the read here, so that its handler never outlives `ended`
    boost::system::error_code ignored;
    p.a.cancel(ignored);
    p.io.restart();
    while (!ended) p.io.run_one_for(milliseconds(100));
    return std::nullopt;
  }
  return std::chrono::duration_cast<milliseconds>(*ended - start);
}

TEST(SocketDeadline, APendingReadIsCancelledWhenTheDeadlinePasses) {
  Pair p;
  wasm_proxy::SocketDeadline d(p.io.get_executor());
  d.arm(p.a, Clock::now() + milliseconds(50));
  auto took = readEndsAfter(p, milliseconds(2000));
  ASSERT_TRUE(took);
  EXPECT_GE(took->count(), 40);
  EXPECT_TRUE(d.expired());
}

TEST(SocketDeadline, ReArmingForLaterMovesTheDeadlineOut) {
  Pair p;
  wasm_proxy::SocketDeadline d(p.io.get_executor());
  d.arm(p.a, Clock::now() + milliseconds(30));
  d.arm(p.a, Clock::now() + milliseconds(300));  // the wait for 30 ms stays pending
  auto took = readEndsAfter(p, milliseconds(3000));
  ASSERT_TRUE(took);
  EXPECT_GE(took->count(), 250);
  EXPECT_TRUE(d.expired());
}

TEST(SocketDeadline, ArmingForEarlierThanThePendingWaitFiresEarly) {
  Pair p;
  wasm_proxy::SocketDeadline d(p.io.get_executor());
  d.arm(p.a, Clock::now() + milliseconds(10000));
  d.arm(p.a, Clock::now() + milliseconds(50));
  auto took = readEndsAfter(p, milliseconds(3000));
  ASSERT_TRUE(took);
  EXPECT_LT(took->count(), 2000);
  EXPECT_TRUE(d.expired());
}

TEST(SocketDeadline, ADisarmedDeadlineNeverCancels) {
  Pair p;
  wasm_proxy::SocketDeadline d(p.io.get_executor());
  d.arm(p.a, Clock::now() + milliseconds(20));
  d.disarm();
  EXPECT_FALSE(readEndsAfter(p, milliseconds(200)));  // the wait fired and did nothing
  EXPECT_FALSE(d.expired());
  d.arm(p.a, Clock::now() + milliseconds(20));  // and arming again works
  EXPECT_TRUE(readEndsAfter(p, milliseconds(2000)));
  EXPECT_TRUE(d.expired());
}

TEST(SocketDeadline, AnIdleWaitIsExtendedWhileIdleThenExpires) {
  Pair p;
  wasm_proxy::SocketDeadline d(p.io.get_executor());
  int asked = 0;
  d.armAfterFirstByte(p.a, milliseconds(20), milliseconds(150), [&] { return ++asked > 0; });
  auto took = readEndsAfter(p, milliseconds(3000));
  ASSERT_TRUE(took);
  EXPECT_GE(took->count(), 120);
  EXPECT_GE(asked, 3);
  EXPECT_TRUE(d.expired());
}

TEST(SocketDeadline, DestroyedWithAWaitPendingIsSafe) {
  Pair p;
  {
    wasm_proxy::SocketDeadline d(p.io.get_executor());
    d.arm(p.a, Clock::now() + milliseconds(20));
  }
  EXPECT_FALSE(readEndsAfter(p, milliseconds(200)));
}

}  // namespace
