// wasm-proxy against hostile clients: inputs that used to crash, stall or smuggle, each with the
// exact bytes, and the HCM settings that decide what a client is trusted with.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "proxy_fixtures.h"
#include "test_support.h"

namespace pwx_test {
namespace {

constexpr std::string_view kUntilClosed = "\x01never\x01";

// config() with HCM fields added after stat_prefix.
std::string withHcm(std::string base, const std::string& fields) {
  const std::string key = "stat_prefix: ingress_http\n";
  base.insert(base.find(key) + key.size(), fields);
  return base;
}

size_t responses(const std::string& wire) {
  size_t n = 0;
  for (size_t at = wire.find("HTTP/1."); at != std::string::npos;
       at = wire.find("HTTP/1.", at + 1)) {
    ++n;
  }
  return n;
}

class HardeningTest : public ::testing::Test {
 protected:
  EchoUpstream upstream;
};

TEST_F(HardeningTest, LongInputsAgainstRegexRoutesCannotCrashTheProxy) {
  const std::string routes = R"Y(
              - match: { prefix: "/hdr", headers: [{ name: x-long, string_match: { safe_regex: { regex: "a(.*)b" } } }] }
                direct_response: { status: 203 }
              - match: { safe_regex: { regex: "/api/(.*)" } }
                direct_response: { status: 202 })Y";
  ProxyProcess proxy(config("scaffold", "{}", "", routes), upstream.port());
  ASSERT_TRUE(proxy.ready());
  const std::string long_path = "/api/" + std::string(30000, 'x');
  auto r = rawExchange(proxy.port(),
                       "GET " + long_path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 202") << r.substr(0, 100);
  auto h =
      rawExchange(proxy.port(), "GET /hdr HTTP/1.1\r\nHost: x\r\nx-long: a" +
                                    std::string(40000, 'z') + "b\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(h.substr(0, 12), "HTTP/1.1 203") << h.substr(0, 100);
  EXPECT_TRUE(proxy.process().running());
  EXPECT_EQ(httpRequest(proxy.port(), "GET", "/").status, 200);
}

// Only a pooled connection that went stale is retried. A fresh connection the upstream closes
// without answering may have run the request already: sending it again could run a POST twice.
TEST_F(HardeningTest, ARequestIsNotResentWhenAFreshUpstreamConnectionClosesUnanswered) {
  ProxyProcess proxy(config("scaffold"), upstream.port());
  ASSERT_TRUE(proxy.ready());  // polls the admin listener only: no upstream connection yet
  EXPECT_EQ(httpRequest(proxy.port(), "POST", "/reset", {}, "pay once").status, 503);
  const auto stats = httpRequest(proxy.adminPort(), "GET", "/stats").body;
  EXPECT_NE(stats.find("cluster.upstream_cx_total: 1\n"), std::string::npos)
      << "one connection, one attempt:\n"
      << stats;
}

TEST_F(HardeningTest, UnframeableTransferCodingsGet501AndNothingIsSmuggled) {
  ProxyProcess proxy(config("scaffold"), upstream.port());
  ASSERT_TRUE(proxy.ready());
  for (const char* te : {"xchunked", "chunked, identity", "identity"}) {
    const std::string r =
        rawExchange(proxy.port(), std::string("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ") +
                                      te + "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 501") << te << ": " << r.substr(0, 200);
    EXPECT_EQ(responses(r), 1u) << te << ": the request behind it is never read";
    EXPECT_EQ(r.find("smuggled"), std::string::npos);
  }
}

TEST_F(HardeningTest, MethodsAreCaseSensitiveOneHostAndConnectionNamedHeadersStay) {
  ProxyProcess proxy(config("scaffold"), upstream.port());
  ASSERT_TRUE(proxy.ready());
  EXPECT_EQ(rawExchange(proxy.port(), "get /admin HTTP/1.1\r\nHost: x\r\n\r\n").substr(0, 12),
            "HTTP/1.1 400");
  EXPECT_EQ(rawExchange(proxy.port(), "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").substr(0, 12),
            "HTTP/1.1 400");
  const std::string r = rawExchange(proxy.port(),
                                    "GET / HTTP/1.1\r\nHost: x\r\nConnection: x-secret, close\r\n"
                                    "x-secret: 1\r\nx-kept: 2\r\n\r\n");
  EXPECT_EQ(r.find("x-secret\":"), std::string::npos) << r;
  EXPECT_NE(r.find("\"x-kept\":\"2\""), std::string::npos) << r;
}

TEST_F(HardeningTest, ARequestLineFollowedBySilenceIsASlowRequestNotAnIdleOne) {
  ProxyProcess proxy(withHcm(config("scaffold"), "          request_headers_timeout: 0.3s\n"),
                     upstream.port());
  ASSERT_TRUE(proxy.ready());
  RawClient c(proxy.port());
  c.send("GET / HTTP/1.1\r\n");  // the parser takes a complete request line at once
  EXPECT_TRUE(c.readUntil("\r\n\r\n", std::chrono::seconds(3)));
  EXPECT_EQ(c.received.substr(0, 12), "HTTP/1.1 408") << c.received;
}

TEST_F(HardeningTest, AClientThatStopsSendingItsBodyTimesOut) {
  ProxyProcess proxy(withHcm(config("scaffold"), "          stream_idle_timeout: 0.3s\n"),
                     upstream.port());
  ASSERT_TRUE(proxy.ready());
  RawClient c(proxy.port());
  const auto start = std::chrono::steady_clock::now();
  c.send("POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
  c.readUntil(kUntilClosed, std::chrono::milliseconds(5000));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(c.received.substr(0, 12), "HTTP/1.1 408") << c.received;
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(httpRequest(proxy.port(), "GET", "/").status, 200);
}

// A client that asks for 50 MiB and never reads: the write waits at most stream_idle_timeout,
// then the proxy gives the response up and closes (before the fix it held both connections as
// long as the client wished, and a late reader got every byte).
TEST_F(HardeningTest, AClientThatNeverReadsItsResponseIsCutAfterTheIdleTimeout) {
  ProxyProcess proxy(withHcm(config("scaffold"), "          stream_idle_timeout: 0.5s\n"),
                     upstream.port());
  ASSERT_TRUE(proxy.ready());
  RawClient c(proxy.port());
  c.send("GET /bytes/52428800 HTTP/1.1\r\nHost: x\r\n\r\n");
  std::this_thread::sleep_for(std::chrono::seconds(2));  // not reading
  const bool closed_early = !c.readUntil(kUntilClosed, std::chrono::milliseconds(10000));
  EXPECT_EQ(c.received.substr(0, 12), "HTTP/1.1 200");
  EXPECT_LT(c.received.size(), 50u << 20) << "the proxy kept writing to a client that never read";
  EXPECT_TRUE(closed_early);
  EXPECT_EQ(httpRequest(proxy.port(), "GET", "/").status, 200);
}

// The proxy's CPU time in clock ticks (user + system), from /proc.
uint64_t cpuTicks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) {
      stime = std::stoull(field);
      break;
    }
  }
  return utime + stime;
}

// Out of file descriptors, accepting fails: the accept loop backs off instead of spinning (it
// used to burn ~90% of a core), and serves again once descriptors are free.
TEST_F(HardeningTest, OutOfDescriptorsTheAcceptLoopBacksOffAndRecovers) {
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = 96;  // inherited by the proxy only: restored right after it started
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  auto proxy = std::make_unique<ProxyProcess>(config("scaffold"), upstream.port(), 1);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(proxy->ready());
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 160; ++i) clients.push_back(std::make_unique<RawClient>(proxy->port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int pid = proxy->process().pid();
  const uint64_t before = cpuTicks(pid);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const uint64_t used = cpuTicks(pid) - before;  // ticks of 10 ms: 200 would be a whole core
  EXPECT_LT(used, 60u) << "the accept loop spins while descriptors are exhausted";
  clients.clear();
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    served = httpRequest(proxy->port(), "GET", "/").status == 200;
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(served);
  EXPECT_TRUE(proxy->process().running());
}

TEST_F(HardeningTest, PausedPluginsHoldNoMoreThanTheReadAheadLimit) {
  // Four clients upload 250 MiB each while the plugin waits 2 s on a callout: the proxy reads at
  // most 1 MiB ahead per connection and lets TCP push back on the rest.
  ProxyProcess proxy(config("conformance"), upstream.port(), 1);
  ASSERT_TRUE(proxy.ready());
  const size_t before = peakRssKiB(proxy.process().pid());
  std::vector<std::thread> clients;
  std::atomic<size_t> sent{0};
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      RawClient c(proxy.port());
      c.send("POST /count HTTP/1.1\r\nHost: x\r\nx-pause-callout: 2000\r\nContent-Length: " +
             std::to_string(250u << 20) + "\r\n\r\n");
      const std::string chunk(1 << 20, 'u');
      const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
      // Sends until the kernel's buffers are full (the proxy stopped reading) or time is up.
      while (std::chrono::steady_clock::now() < end) {
        if (!c.sendFor(chunk, std::chrono::milliseconds(200))) break;
        sent += chunk.size();
      }
    });
  }
  for (auto& t : clients) t.join();
  const size_t after = peakRssKiB(proxy.process().pid());
  EXPECT_LT(after - before, 64u * 1024)
      << "peak RSS grew by " << (after - before) / 1024 << " MiB; clients got " << (sent >> 20)
      << " MiB into the socket";
  EXPECT_TRUE(proxy.process().running());
}

TEST_F(HardeningTest, PathsAreNormalizedBeforeRoutingWhenAsked) {
  const std::string routes = R"(
              - match: { prefix: "/admin" }
                direct_response: { status: 403, body: { inline_string: "admin" } })";
  ProxyProcess plain(config("scaffold", "{}", "", routes), upstream.port());
  ProxyProcess normalized(
      withHcm(config("scaffold", "{}", "", routes),
              "          normalize_path: true\n          merge_slashes: true\n"),
      upstream.port());
  ASSERT_TRUE(plain.ready());
  ASSERT_TRUE(normalized.ready());
  for (const char* path : {"/public/../admin", "//admin", "/public/%2e%2e/admin", "/./admin/"}) {
    EXPECT_EQ(httpRequest(normalized.port(), "GET", path).status, 403) << path;
  }
  EXPECT_EQ(httpRequest(plain.port(), "GET", "//admin").status, 200) << "not asked: as sent";
  auto q = httpRequest(normalized.port(), "GET", "/a/b/../c?x=/../y");
  EXPECT_NE(q.body.find("\"path\":\"/a/c?x=/../y\""), std::string::npos) << q.body;
}

TEST_F(HardeningTest, AnExternalClientCannotSetInternalHeadersOrItsRequestId) {
  ProxyProcess trusted(config("scaffold"), upstream.port());
  ProxyProcess edge(withHcm(config("scaffold"), "          use_remote_address: true\n"),
                    upstream.port());
  ASSERT_TRUE(trusted.ready());
  ASSERT_TRUE(edge.ready());
  const std::vector<std::pair<std::string, std::string>> h = {
      {"x-envoy-internal", "true"}, {"x-envoy-original-path", "/x"}, {"x-request-id", "mine"}};
  auto e = httpRequest(edge.port(), "GET", "/", h);
  EXPECT_EQ(e.body.find("x-envoy-"), std::string::npos) << e.body;
  EXPECT_EQ(e.body.find("\"x-request-id\":\"mine\""), std::string::npos) << e.body;
  auto t = httpRequest(trusted.port(), "GET", "/", h);
  EXPECT_NE(t.body.find("\"x-request-id\":\"mine\""), std::string::npos) << t.body;
}

TEST_F(HardeningTest, AnUnaskedUpgradeIsRefusedAndItsConnectionNeverReused) {
  ProxyProcess proxy(config("scaffold"), upstream.port(), 1);
  ASSERT_TRUE(proxy.ready());
  // Upgrade and Connection are hop-by-hop: the upstream is never asked to switch. One that does
  // gets the request failed, and its connection (now speaking something else) is dropped.
  auto r = httpRequest(proxy.port(), "GET", "/switch", {{"upgrade", "websocket"}});
  EXPECT_EQ(r.status, 503) << r.body;
  for (int i = 0; i < 5; ++i) {
    auto next = httpRequest(proxy.port(), "GET", "/after-" + std::to_string(i));
    EXPECT_EQ(next.status, 200) << "request " << i << " got " << next.body.substr(0, 80);
    EXPECT_NE(next.body.find("/after-" + std::to_string(i)), std::string::npos);
  }
}

TEST(HardeningConfig, HcmFieldsWithoutAnImplementationAreRefusedByName) {
  for (const char* field : {"upgrade_configs: [{ upgrade_type: websocket }]",
                            "xff_num_trusted_hops: 1", "server_name: edge"}) {
    auto [code, out] = runProxyExpectingExit(
        withHcm(config("scaffold"), std::string("          ") + field + "\n"));
    EXPECT_EQ(code, 1) << field;
    const std::string name = std::string(field).substr(0, std::string(field).find(':'));
    EXPECT_NE(out.find("filters[0].typed_config." + name + ":"), std::string::npos) << out;
    EXPECT_NE(out.find(name), std::string::npos) << out;
  }
}

}  // namespace
}  // namespace pwx_test
