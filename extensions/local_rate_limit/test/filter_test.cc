// local_rate_limit in the harness, on every engine, with a fake clock.
#include <gtest/gtest.h>

#include "engine_test.h"
#include "proxy_wasm/abi/property.h"
#include "proxy_wasm/host/shared_state.h"

namespace {

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;

class RateLimit : public EngineTest {
 protected:
  // A request that finds the creation lock held looks again until it is released or stale, or
  // 1,000 times on the harness's clock that stands still: about 0.1 s in the interpreter, more
  // on a loaded machine; options() gives the interpreter 5 s per callback.
  std::unique_ptr<PluginHarness> load(const std::string& config, const std::string& name = "") {
    static int n = 0;
    HarnessOptions o =  // fresh buckets per test
        options(name.empty() ? "rl" + std::to_string(++n) : name, config);
    o.vm.vm_id = "rate_limit";
    return EngineTest::load("local_rate_limit", std::move(o));
  }
  // Returns the status: 0 when allowed.
  uint32_t send(PluginHarness& h, Headers extra = {}) {
    Headers headers = {{":method", "GET"}, {":path", "/"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    last_ = h.newStream();
    last_->sendRequestHeaders(headers);
    return last_->local_reply ? last_->local_reply->status : 0;
  }
  int allowed(PluginHarness& h, int n, Headers extra = {}) {
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += send(h, extra) == 0;
    return ok;
  }
  // A limit of one token an hour per x-k header value, with buckets of its own (`name`, per
  // engine), for the tests of the slot-creation lock.
  std::unique_ptr<PluginHarness> loadOneTokenPerKey(const std::string& name) {
    return load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "key": {"header": "x-k"}, "max_keys": 100})",
                name + "_" + GetParam());
  }
  std::string lockKey(const std::string& name) {
    return "local_rate_limit." + name + "_" + GetParam() + ".lock";
  }
  // The lock as another VM leaves it while it creates a slot, taken at `ns`.
  static std::string heldAt(uint64_t ns) {
    return "local_rate_limit.x.slot.7 " + std::to_string(ns);
  }
  WasmResult setLock(const std::string& name, const std::string& value) {
    return SharedDataStore::instance().set("rate_limit", lockKey(name), value, 0);
  }
  std::string lockValue(const std::string& name) {
    std::string value;
    uint32_t cas = 0;
    SharedDataStore::instance().get("rate_limit", lockKey(name), &value, &cas);
    return value;
  }
  std::unique_ptr<FakeStream> last_;
};

TEST_P(RateLimit, UpstreamScenario) {
  auto h = load(R"({"max_tokens": 20, "tokens_per_refill": 10, "refill_interval_sec": 1})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(allowed(*h, 20), 20);
  EXPECT_EQ(send(*h), 429u);
  EXPECT_EQ(last_->local_reply->body, "rate_limited");
  EXPECT_EQ(allowed(*h, 9), 0);
  h->advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(allowed(*h, 10), 10);
  EXPECT_EQ(allowed(*h, 10), 0);
}

TEST_P(RateLimit, LongClientKeysGetDistinctBoundedBuckets) {
  auto h = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "key": {"header": "x-k"}})");
  ASSERT_TRUE(h) << error_;
  const std::string a(50000, 'a'), b = std::string(49999, 'a') + "b";
  EXPECT_EQ(send(*h, {{"x-k", a}}), 0u);
  EXPECT_EQ(send(*h, {{"x-k", a}}), 429u) << "the same long key is the same bucket";
  EXPECT_EQ(send(*h, {{"x-k", b}}), 0u) << "keys that differ only past the bound stay apart";
  EXPECT_EQ(send(*h, {{"x-k", b}}), 429u);
}

TEST_P(RateLimit, CreatingABucketIsNotCountedAsContention) {
  auto h = load(R"({"max_tokens": 5, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "key": {"header": "x-k"}})");
  ASSERT_TRUE(h) << error_;
  for (int i = 0; i < 5; ++i) send(*h, {{"x-k", "client-" + std::to_string(i)}});
  EXPECT_EQ(PluginHarness::metric("local_rate_limit.allowed_after_cas_contention").value_or(0), 0)
      << "one harness, no concurrent writer";
}

// The configuration's fields are tested natively (config_test.cc); here, that a refused one
// fails the load with its path.
TEST_P(RateLimit, ARefusedConfigurationFailsTheLoadNamingTheField) {
  EXPECT_FALSE(load(R"({"max_tokens": 5, "tokens_per_refill": 1, "refill_interval_sec": 0})"));
  EXPECT_NE(error_.find("refill_interval_sec: must be at least 1"), std::string::npos) << error_;
}

// Higress's windows: a request passes only when every window has a token, and takes one from
// each; the headers and Retry-After are those of the window that decided.
TEST_P(RateLimit, WindowsPerSecondAndMinuteAreAllEnforced) {
  auto h = load(R"({"query_per_second": 3, "query_per_minute": 5, "rate_limit_headers": true})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(allowed(*h, 3), 3);
  EXPECT_EQ(send(*h), 429u) << "the second's window is empty";
  h->advance(std::chrono::seconds(1));
  EXPECT_EQ(send(*h), 0u);
  last_->sendResponseHeaders({{":status", "200"}});
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-limit"), "5") << "the minute decides now";
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-remaining"), "1");
  EXPECT_EQ(allowed(*h, 3), 1);
  h->advance(std::chrono::seconds(1));
  EXPECT_EQ(send(*h), 429u) << "a new second, but the minute's 5 are spent";
  auto retry = [&] {
    for (auto& [k, v] : last_->local_reply->headers)
      if (k == "retry-after") return v;
    return std::string("<none>");
  };
  EXPECT_EQ(retry(), "58");
  h->advance(std::chrono::seconds(58));
  EXPECT_EQ(allowed(*h, 4), 3);
}

TEST_P(RateLimit, ATokenBucketAndAnHourlyWindowTogether) {
  auto h = load(R"({"max_tokens": 2, "tokens_per_refill": 2, "fill_interval": "1s",
                    "query_per_hour": 5, "key": {"header": "x-user"}})");
  ASSERT_TRUE(h) << error_;
  int passed = 0;
  for (int s = 0; s < 10; ++s, h->advance(std::chrono::seconds(1))) {
    passed += allowed(*h, 3, {{"x-user", "a"}});
  }
  EXPECT_EQ(passed, 5) << "2 per second, 5 per hour";
  EXPECT_EQ(allowed(*h, 2, {{"x-user", "b"}}), 2) << "another key has its own windows";
  h->advance(std::chrono::hours(1));
  EXPECT_EQ(allowed(*h, 3, {{"x-user", "a"}}), 2);
}

// Envoy's local_rate_limit_per_downstream_connection: each connection has its own bucket.
TEST_P(RateLimit, ABucketPerDownstreamConnection) {
  auto h = load(R"({"max_tokens": 2, "tokens_per_refill": 2, "fill_interval": "60s",
                    "local_rate_limit_per_downstream_connection": true})");
  ASSERT_TRUE(h) << error_;
  auto on = [&](uint64_t connection) {
    auto s = h->newStream();
    s->properties[proxy_wasm::abi::encodePropertyPath({"connection", "id"})] =
        proxy_wasm::abi::encodeInt64(static_cast<int64_t>(connection));
    s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}});
    return s->local_reply ? s->local_reply->status : 0u;
  };
  EXPECT_EQ(on(1), 0u);
  EXPECT_EQ(on(1), 0u);
  EXPECT_EQ(on(1), 429u);
  EXPECT_EQ(on(2), 0u) << "another connection, another bucket";
  EXPECT_EQ(on(2), 0u);
  EXPECT_EQ(on(2), 429u);
}

// Envoy's enable_x_ratelimit_headers: DRAFT_VERSION_03, the limit with its quota policy.
TEST_P(RateLimit, EnvoysDraft03RateLimitHeaders) {
  auto h = load(R"({"max_tokens": 5, "tokens_per_refill": 5, "fill_interval": "60s",
                    "enable_x_ratelimit_headers": "DRAFT_VERSION_03"})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(send(*h), 0u);
  last_->sendResponseHeaders({{":status", "200"}});
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-limit"), "5, 5;w=60");
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-remaining"), "4");
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-reset"), "60");
  EXPECT_FALSE(load(R"({"query_per_second": 1, "enable_x_ratelimit_headers": "v4"})"));
  EXPECT_NE(error_.find("enable_x_ratelimit_headers: expected OFF or DRAFT_VERSION_03"),
            std::string::npos)
      << error_;
}

// Envoy's descriptors: the first descriptor whose entries all match gives the limit; an entry
// with a value matches that value only, one without matches any value and gives each its
// buckets; requests matching none use the default limit.
TEST_P(RateLimit, DescriptorsChooseTheLimitByRequestAttributes) {
  auto h = load(R"({"query_per_minute": 1,
                    "descriptors": [
                      {"entries": [{"source": {"header": "x-tier"}, "value": "gold"}],
                       "query_per_minute": 5},
                      {"entries": [{"source": {"header": "x-tenant"}}],
                       "max_tokens": 2, "tokens_per_refill": 2, "fill_interval": "60s"}]})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(allowed(*h, 8, {{"x-tier", "gold"}}), 5) << "gold's own limit";
  EXPECT_EQ(allowed(*h, 4, {{"x-tenant", "a"}}), 2) << "tenant a's bucket";
  EXPECT_EQ(allowed(*h, 4, {{"x-tenant", "b"}}), 2) << "tenant b's bucket, not a's";
  EXPECT_EQ(allowed(*h, 3, {{"x-tier", "silver"}}), 1) << "no descriptor: the default limit";
  EXPECT_EQ(allowed(*h, 2), 0) << "the default limit is spent";
  h->advance(std::chrono::seconds(60));
  EXPECT_EQ(allowed(*h, 3, {{"x-tenant", "a"}}), 2);
}

TEST_P(RateLimit, WithDescriptorsOnlyOtherRequestsAreNotLimited) {
  auto h = load(R"({"descriptors": [{"entries": [{"source": {"path": true}, "value": "/login"}],
                                     "query_per_minute": 2}]})");
  ASSERT_TRUE(h) << error_;
  int login = 0;
  for (int i = 0; i < 4; ++i) {
    last_ = h->newStream();
    last_->sendRequestHeaders({{":method", "POST"}, {":path", "/login"}});
    login += last_->local_reply ? 0 : 1;
  }
  EXPECT_EQ(login, 2);
  EXPECT_EQ(allowed(*h, 10), 10) << "other paths: no limit";
  EXPECT_FALSE(load(R"({"descriptors": [{"entries": [], "query_per_minute": 2}]})"));
  EXPECT_NE(error_.find("descriptors[0].entries: at least one entry is required"),
            std::string::npos)
      << error_;
  EXPECT_FALSE(load(R"({"descriptors": [{"entries": [{"source": {"header": "a"}}]}]})"));
  EXPECT_NE(error_.find("descriptors[0].max_tokens: missing required field"), std::string::npos)
      << error_;
}

TEST_P(RateLimit, InitialFillNeverExceedsMaxTokens) {
  auto h = load(R"({"max_tokens": 5, "tokens_per_refill": 50, "refill_interval_sec": 1})");
  EXPECT_EQ(allowed(*h, 10), 5);
}

TEST_P(RateLimit, LongIdleCapsAtMaxAndPartialIntervalsAddNothing) {
  auto h = load(R"({"max_tokens": 4, "tokens_per_refill": 1, "fill_interval": "100ms"})");
  EXPECT_EQ(allowed(*h, 6), 4);
  h->advance(std::chrono::milliseconds(99));
  EXPECT_EQ(allowed(*h, 1), 0) << "a partial interval adds nothing";
  h->advance(std::chrono::milliseconds(1));
  EXPECT_EQ(allowed(*h, 2), 1);
  h->advance(std::chrono::milliseconds(250));  // 2.5 intervals
  EXPECT_EQ(allowed(*h, 5), 2);
  h->advance(std::chrono::hours(24));
  EXPECT_EQ(allowed(*h, 10), 4) << "capped at max_tokens after a long idle period";
}

TEST_P(RateLimit, ClockGoingBackwardsNeverMintsTokens) {
  auto h = load(R"({"max_tokens": 3, "tokens_per_refill": 3, "refill_interval_sec": 1})");
  EXPECT_EQ(allowed(*h, 3), 3);
  h->shiftRealtime(-3'600'000'000'000);  // the wall clock jumps back an hour
  EXPECT_EQ(allowed(*h, 3), 0);
  h->advance(std::chrono::seconds(2));
  EXPECT_EQ(allowed(*h, 3), 0) << "still before the last refill";
  h->shiftRealtime(3'600'000'000'000);
  h->advance(std::chrono::seconds(1));
  EXPECT_EQ(allowed(*h, 5), 3);
}

TEST_P(RateLimit, BucketsAreSharedByVmsOfOnePluginButNotAcrossPlugins) {
  const char* cfg = R"({"max_tokens": 10, "tokens_per_refill": 1, "refill_interval_sec": 3600})";
  auto worker1 = load(cfg, "shared_rl_" + GetParam());
  auto worker2 = load(cfg, "shared_rl_" + GetParam());
  EXPECT_EQ(allowed(*worker1, 6) + allowed(*worker2, 6), 10);
  auto other = load(cfg, "other_rl_" + GetParam());
  EXPECT_EQ(allowed(*other, 3), 3) << "a second filter on the same vm_id has its own bucket";
}

TEST_P(RateLimit, PerKeyBucketsDoNotAffectEachOther) {
  auto h = load(R"({"max_tokens": 2, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "key": [{"header": "X-Api-Key"}, {"query_param": "tenant"}]})");
  ASSERT_TRUE(h) << error_;
  auto send_as = [&](const std::string& api_key, const std::string& path) {
    last_ = h->newStream();
    last_->sendRequestHeaders({{":method", "GET"}, {":path", path}, {"x-api-key", api_key}});
    return last_->local_reply ? 429 : 200;
  };
  EXPECT_EQ(send_as("a", "/?tenant=1"), 200);
  EXPECT_EQ(send_as("a", "/?tenant=1"), 200);
  EXPECT_EQ(send_as("a", "/?tenant=1"), 429);
  EXPECT_EQ(send_as("b", "/?tenant=1"), 200);
  EXPECT_EQ(send_as("a", "/x?tenant=2&y=1"), 200);
}

TEST_P(RateLimit, MaxKeysSendsNewKeysToACountedOverflowBucket) {
  auto before = PluginHarness::metric("local_rate_limit.key_overflow").value_or(0);
  auto h = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "key": {"header": "x-k"}, "max_keys": 2})");
  EXPECT_EQ(send(*h, {{"x-k", "1"}}), 0u);
  EXPECT_EQ(send(*h, {{"x-k", "2"}}), 0u);
  EXPECT_EQ(send(*h, {{"x-k", "3"}}), 0u) << "first overflow request uses the overflow bucket";
  EXPECT_EQ(send(*h, {{"x-k", "4"}}), 429u) << "which all later keys share";
  EXPECT_GE(PluginHarness::metric("local_rate_limit.key_overflow").value_or(0), before + 2);
}

// Shared data has no delete in ABI 0.2.1; a bucket refilled to max_tokens is the same as a new one,
// so its slot goes to the next new key: clients that went quiet stop taking room from new ones.
TEST_P(RateLimit, BucketsRefilledToFullMakeRoomForNewKeys) {
  const auto overflow = [] {
    return PluginHarness::metric("local_rate_limit.key_overflow").value_or(0);
  };
  auto h = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 1,
                    "key": {"header": "x-k"}, "max_keys": 2})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(send(*h, {{"x-k", "1"}}), 0u);
  EXPECT_EQ(send(*h, {{"x-k", "2"}}), 0u);
  const auto before = overflow();
  EXPECT_EQ(send(*h, {{"x-k", "3"}}), 0u) << "1 and 2 are in use: the overflow bucket";
  EXPECT_EQ(send(*h, {{"x-k", "4"}}), 429u) << "shared by every key without a slot";
  EXPECT_EQ(overflow(), before + 2);
  h->advance(std::chrono::milliseconds(1000));  // 1 and 2 are full again: their slots are free
  EXPECT_EQ(send(*h, {{"x-k", "3"}}), 0u);
  EXPECT_EQ(send(*h, {{"x-k", "3"}}), 429u) << "3 has a bucket of its own";
  EXPECT_EQ(send(*h, {{"x-k", "4"}}), 0u) << "and so has 4";
  EXPECT_EQ(send(*h, {{"x-k", "4"}}), 429u);
  EXPECT_EQ(overflow(), before + 2) << "no overflow once slots were reused";
  EXPECT_EQ(send(*h, {{"x-k", "1"}}), 0u) << "1 comes back to the overflow bucket, full";
}

TEST_P(RateLimit, BucketsInUseAreNeverTakenOver) {
  auto h = load(R"({"max_tokens": 2, "tokens_per_refill": 1, "refill_interval_sec": 1,
                    "key": {"header": "x-k"}, "max_keys": 1})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 0u);  // a holds the only slot, with 1 token of 2 left
  EXPECT_EQ(send(*h, {{"x-k", "b"}}), 0u);  // the overflow bucket
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 0u);
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 429u) << "a kept its bucket";
}

// A VM that failed between taking the creation lock and releasing it leaves a lock behind; after
// kStaleLockNs (100 ms) another VM takes it over instead of sending new keys to overflow for ever.
// The harness's clock stands still during a request, so the request stops waiting after 1,000
// looks at the same time and uses the overflow bucket.
TEST_P(RateLimit, AStaleCreationLockIsTakenOver) {
  auto h = loadOneTokenPerKey("rl_stale_lock");
  ASSERT_TRUE(h) << error_;
  ASSERT_EQ(setLock("rl_stale_lock", heldAt(h->realtimeNanos())), WasmResult::Ok);
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 0u) << "the overflow bucket while the lock is fresh";
  EXPECT_EQ(send(*h, {{"x-k", "b"}}), 429u) << "(shared)";
  h->advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 0u) << "the stale lock was taken over: a has a bucket";
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 429u);
  EXPECT_EQ(lockValue("rl_stale_lock"), "-") << "and released";
}

// The creation lock is held for a few hostcalls, but the holder's thread can be descheduled in the
// middle of them for many milliseconds on a loaded machine. A request waits by the clock, not for
// a count of looks, and ends up with the key's own bucket: sending it to the overflow bucket would
// let the key spend one token more than max_tokens (CI saw this with two workers).
TEST_P(RateLimit, ARequestWaitsForTheCreationLockByTheClock) {
  auto h = loadOneTokenPerKey("rl_lock_wait");
  ASSERT_TRUE(h) << error_;
  ASSERT_EQ(setLock("rl_lock_wait", heldAt(h->realtimeNanos())), WasmResult::Ok);
  h->realtime_step_ns = 50'000;  // 2,000 looks until the holder's lock is 100 ms old
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 0u);
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 429u) << "a spent its own bucket, not the overflow bucket";
  EXPECT_EQ(h->metricDelta("local_rate_limit.key_overflow"), 0);
  EXPECT_EQ(send(*h, {{"x-k", "b"}}), 0u) << "the overflow bucket is untouched";
}

// A lock stamped a little after this request read the clock was taken by a live VM since: it is
// held, not stale. One stamped far ahead was taken before the clock went backwards: stale.
TEST_P(RateLimit, ALockStampedAheadOfTheClockIsHeldUnlessFarAhead) {
  auto h = loadOneTokenPerKey("rl_lock_ahead");
  ASSERT_TRUE(h) << error_;
  const std::string ahead = heldAt(h->realtimeNanos() + 50'000'000);
  ASSERT_EQ(setLock("rl_lock_ahead", ahead), WasmResult::Ok);
  EXPECT_EQ(send(*h, {{"x-k", "a"}}), 0u) << "the overflow bucket: the lock is held";
  EXPECT_EQ(h->metricDelta("local_rate_limit.key_overflow"), 1);
  EXPECT_EQ(lockValue("rl_lock_ahead"), ahead) << "not taken over";
  ASSERT_EQ(setLock("rl_lock_ahead", heldAt(h->realtimeNanos() + 3600'000'000'000)),
            WasmResult::Ok);
  EXPECT_EQ(send(*h, {{"x-k", "b"}}), 0u) << "b's own bucket: the lock was stale";
  EXPECT_EQ(send(*h, {{"x-k", "b"}}), 429u);
  EXPECT_EQ(h->metricDelta("local_rate_limit.key_overflow"), 1);
  EXPECT_EQ(lockValue("rl_lock_ahead"), "-");
}

// Envoy's masked_remote_address: clients of one network share a bucket.
TEST_P(RateLimit, MaskedRemoteAddressGroupsClientsByNetwork) {
  auto h = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "key": {"masked_remote_address": {"v4_prefix_mask_len": 24,
                                                      "v6_prefix_mask_len": 64}}})");
  ASSERT_TRUE(h) << error_;
  auto from = [&](const std::string& address) {
    last_ = h->newStream();
    last_->properties[proxy_wasm::abi::encodePropertyPath({"source", "address"})] = address;
    last_->sendRequestHeaders({{":method", "GET"}, {":path", "/"}});
    return last_->local_reply ? last_->local_reply->status : 0u;
  };
  EXPECT_EQ(from("10.1.2.3:5000"), 0u);
  EXPECT_EQ(from("10.1.2.200:6000"), 429u) << "the same /24";
  EXPECT_EQ(from("10.1.3.3:5000"), 0u) << "another /24";
  EXPECT_EQ(from("[2001:db8:0:1::7]:443"), 0u);
  EXPECT_EQ(from("[2001:db8:0:1:ffff::1]:443"), 429u) << "the same /64";
  EXPECT_EQ(from("[2001:db8:0:2::7]:443"), 0u) << "another /64";
  EXPECT_FALSE(load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 1,
                        "key": {"masked_remote_address": {"v4_prefix_mask_len": 33}}})"));
  EXPECT_NE(error_.find("key.masked_remote_address.v4_prefix_mask_len: expected 0 to 32"),
            std::string::npos)
      << error_;
}

// Envoy's response_headers_to_add on limited responses, and rate_limited_as_resource_exhausted:
// the plugin asks for gRPC status 8, which Envoy applies when the client speaks gRPC.
TEST_P(RateLimit, ResponseHeadersToAddAndResourceExhaustedForGrpc) {
  auto h = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "response_headers_to_add": [{"header": {"key": "x-limited-by", "value": "rl"}}],
                    "rate_limited_as_resource_exhausted": true})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(send(*h), 0u);
  EXPECT_EQ(send(*h), 429u);
  bool found = false;
  for (const auto& [k, v] : last_->local_reply->headers)
    found = found || (k == "x-limited-by" && v == "rl");
  EXPECT_TRUE(found);
  EXPECT_EQ(last_->local_reply->grpc_status, 8);
  auto plain = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600})");
  send(*plain);
  EXPECT_EQ(send(*plain), 429u);
  EXPECT_EQ(last_->local_reply->grpc_status, -1) << "Envoy maps 429 to UNAVAILABLE itself";
  EXPECT_FALSE(load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 1,
                        "response_headers_to_add": [{"header": {"value": "x"}}]})"));
  EXPECT_NE(error_.find("response_headers_to_add[0].header.key: missing required field"),
            std::string::npos)
      << error_;
}

// Envoy's filter_enabled and filter_enforced (fractional percents): a request outside
// filter_enabled is not counted at all; one over its limit outside filter_enforced passes, with
// request_headers_to_add_when_not_enforced.
TEST_P(RateLimit, FilterEnabledAndFilterEnforcedFractions) {
  auto off = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                      "filter_enabled": {"default_value": {"numerator": 0}}})");
  ASSERT_TRUE(off) << error_;
  EXPECT_EQ(allowed(*off, 5), 5) << "disabled: no token taken";
  auto report = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                         "filter_enforced": {"default_value": {"numerator": 0}},
                         "request_headers_to_add_when_not_enforced":
                           [{"header": {"key": "x-rate-limited", "value": "true"}}]})");
  ASSERT_TRUE(report) << error_;
  EXPECT_EQ(send(*report), 0u);
  EXPECT_FALSE(last_->request_headers.get("x-rate-limited"));
  EXPECT_EQ(send(*report), 0u) << "over the limit, not enforced";
  EXPECT_EQ(last_->request_headers.get("x-rate-limited"), "true");
  auto half = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                       "filter_enforced": {"default_value": {"numerator": 50, "denominator": "HUNDRED"}}})");
  ASSERT_TRUE(half) << error_;
  const int passed = allowed(*half, 2001) - 1;  // the first takes the only token
  EXPECT_GT(passed, 850) << "about half of 2000 over the limit pass";
  EXPECT_LT(passed, 1150);
  EXPECT_FALSE(load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 1,
                        "filter_enabled": {"default_value": {"numerator": 5}, "runtime_key": "rl"}})"));
  EXPECT_NE(error_.find("filter_enabled.runtime_key: unknown field (plugins see no Envoy runtime"),
            std::string::npos)
      << error_;
  EXPECT_FALSE(load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 1,
                        "filter_enforced": {"default_value": {"numerator": 5, "denominator": "TEN"}}})"));
  EXPECT_NE(error_.find("filter_enforced.default_value.denominator: expected HUNDRED"),
            std::string::npos)
      << error_;
}

TEST_P(RateLimit, CookieKeys) {
  auto h = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600,
                    "key": {"cookie": "session"}})");
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(send(*h, {{"cookie", "theme=dark; session=abc"}}), 0u);
  EXPECT_EQ(send(*h, {{"cookie", "session=abc"}}), 429u);
  EXPECT_EQ(send(*h, {{"cookie", "session=xyz; theme=dark"}}), 0u);
  EXPECT_EQ(send(*h, {{"cookie", "xsession=abc"}}), 0u) << "not the cookie named session";
}

TEST_P(RateLimit, StatusBodyRetryAfterAndRateLimitHeaders) {
  auto h = load(R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 10,
                    "status": 503, "body": "slow down", "rate_limit_headers": true})");
  EXPECT_EQ(send(*h), 0u);
  last_->sendResponseHeaders({{":status", "200"}});
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-limit"), "1");
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-remaining"), "0");
  EXPECT_EQ(last_->response_headers.get("x-ratelimit-reset"), "10");
  h->advance(std::chrono::seconds(4));
  EXPECT_EQ(send(*h), 503u);
  EXPECT_EQ(last_->local_reply->body, "slow down");
  Headers& reply = last_->local_reply->headers;
  auto find = [&](const std::string& k) {
    for (auto& [n, v] : reply)
      if (n == k) return v;
    return std::string("<none>");
  };
  EXPECT_EQ(find("retry-after"), "6");
  EXPECT_EQ(find("x-ratelimit-remaining"), "0");
}

TEST_P(RateLimit, ShadowModeCountsButDoesNotBlock) {
  auto before = PluginHarness::metric("local_rate_limit.limited").value_or(0);
  auto h = load(
      R"({"max_tokens": 1, "tokens_per_refill": 1, "refill_interval_sec": 3600, "shadow_mode": true})");
  EXPECT_EQ(allowed(*h, 3), 3);
  EXPECT_EQ(PluginHarness::metric("local_rate_limit.limited"), before + 2);
}

PWX_INSTANTIATE_ON_ALL_ENGINES(RateLimit);

}  // namespace
