// wasm-proxy's data path under plugins that hold the stream: no byte a client sends is lost
// while a plugin waits on a callout (pausing on the headers or at the end of the body), requests
// pipelined behind a paused one are answered whole and in order, a plugin's header changes choose
// the route again, and a plugin's local reply keeps its own content-type.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "proxy_fixtures.h"
#include "test_support.h"

namespace pwx_test {
namespace {

std::string bodyOf(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string body(size, '\0');
  for (char& c : body) c = static_cast<char>(rng());
  return body;
}

// A POST /count carrying `body`, with Content-Length or chunked (1,000-byte chunks), pausing the
// plugin on a callout answered after `callout_ms`, on the headers or at the end of the body.
std::pair<std::string, std::string> countRequest(const std::string& body, bool chunked,
                                                 bool pause_on_body, int callout_ms,
                                                 bool last = false) {
  std::string head = "POST /count HTTP/1.1\r\nHost: x\r\n";
  head += std::string(pause_on_body ? "x-pause-body-callout: " : "x-pause-callout: ") +
          std::to_string(callout_ms) + "\r\n";
  if (last) head += "Connection: close\r\n";
  std::string wire;
  if (chunked) {
    head += "Transfer-Encoding: chunked\r\n\r\n";
    for (size_t at = 0; at < body.size(); at += 1000) {
      const std::string piece = body.substr(at, 1000);
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
      wire += size + piece + "\r\n";
    }
    wire += "0\r\n\r\n";
  } else {
    head += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    wire = body;
  }
  return {head, wire};
}

// What the echo upstream's /count reported, as "bytes/fnv1a".
std::string counted(const std::string& response, size_t from = 0) {
  const size_t b = response.find("{\"bytes\":", from);
  if (b == std::string::npos) return "<no count>";
  const size_t f = response.find("\"fnv1a\":\"", b);
  return response.substr(b + 9, response.find(',', b) - b - 9) + "/" + response.substr(f + 9, 16);
}

std::string expected(const std::string& body) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(body)));
  return std::to_string(body.size()) + "/" + hex;
}

// Never sent by the proxy: read until it closes the connection.
constexpr std::string_view kUntilClosed = "\x01never\x01";

class DataPathTest : public ::testing::Test {
 protected:
  EchoUpstream upstream;
};

// On every engine: the conformance plugin on V8, then on the wabt interpreter.
class DataPathEngines : public DataPathTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string engineConfig() {
    std::string c = config("conformance");
    const std::string v8 = "runtime: envoy.wasm.runtime.v8";
    c.replace(c.find(v8), v8.size(), "runtime: envoy.wasm.runtime." + GetParam());
    return c;
  }
};

TEST_P(DataPathEngines, BodiesSentWhileAPluginWaitsOnACalloutArriveWhole) {
  ProxyProcess proxy(engineConfig(), upstream.port());
  ASSERT_TRUE(proxy.ready());
  const size_t sizes[] = {0, 1, 4095, 4096, 4097, 64 * 1024, 1 << 20};
  std::atomic<int> passed{0};
  std::vector<std::thread> clients;
  constexpr int kClients = 4, kEach = 50;  // 200 requests
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      std::mt19937 rng(1000 + t);
      for (int i = 0; i < kEach; ++i) {
        const int n = t * kEach + i;
        const std::string body = bodyOf(sizes[n % 7], n);
        const bool chunked = (n / 7) % 2 == 1;
        const bool on_body = (n / 14) % 2 == 1;
        const bool body_later = n % 3 == 0;  // else sent with the headers
        auto [head, wire] = countRequest(body, chunked, on_body, rng() % 51, true);
        RawClient c(proxy.port());
        if (body_later) {
          c.send(head);
          std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 30));
          c.send(wire);
        } else {
          c.send(head + wire);
        }
        c.readUntil(kUntilClosed, std::chrono::milliseconds(10000));
        const bool ok =
            c.received.rfind("HTTP/1.1 200", 0) == 0 && counted(c.received) == expected(body);
        if (ok) {
          ++passed;
        } else {
          ADD_FAILURE() << "request " << n << ": " << body.size() << " bytes, "
                        << (chunked ? "chunked" : "content-length") << ", pause on "
                        << (on_body ? "body" : "headers") << (body_later ? ", body later" : "")
                        << ": got " << counted(c.received) << " of " << expected(body) << "\n"
                        << c.received.substr(0, 300);
        }
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(passed.load(), kClients * kEach);
}

TEST_P(DataPathEngines, PipelinedRequestsBehindAPausedOneAreAnsweredWholeAndInOrder) {
  ProxyProcess proxy(engineConfig(), upstream.port());
  ASSERT_TRUE(proxy.ready());
  for (int round = 0; round < 10; ++round) {
    const std::string a = bodyOf(70000, round), b = bodyOf(5000, round + 100);
    auto [ha, wa] = countRequest(a, round % 2 == 0, false, 20 + round);
    auto [hb, wb] = countRequest(b, round % 2 == 1, true, 5, true);
    RawClient c(proxy.port());
    c.send(ha + wa + hb + wb);  // the second arrives while the first is paused
    c.readUntil(kUntilClosed, std::chrono::milliseconds(10000));
    const size_t second = c.received.find("HTTP/1.1 200", 1);
    ASSERT_NE(second, std::string::npos) << c.received.substr(0, 400);
    EXPECT_EQ(counted(c.received), expected(a)) << "first, round " << round;
    EXPECT_EQ(counted(c.received, second), expected(b)) << "second, round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, DataPathEngines, ::testing::Values("v8", "wabt", "wasm2c"),
                         [](const auto& info) { return info.param; });

TEST_F(DataPathTest, APluginsHeaderChangesChooseTheRouteAgain) {
  const std::string routes = R"(
              - match: { prefix: "/rewritten" }
                direct_response: { status: 203, body: { inline_string: "routed by the new path" } }
              - match: { prefix: "/", headers: [{ name: x-resumed-by, string_match: { exact: callout } }] }
                direct_response: { status: 202, body: { inline_string: "routed by the added header" } })";
  ProxyProcess proxy(config("conformance", "{}", "", routes), upstream.port());
  ASSERT_TRUE(proxy.ready());
  // /set-pairs replaces the request headers with ":path: /rewritten".
  auto path = httpRequest(proxy.port(), "GET", "/set-pairs");
  EXPECT_EQ(path.status, 203) << path.body;
  EXPECT_EQ(path.body, "routed by the new path");
  // The callout's answer adds x-resumed-by: callout before the stream goes on.
  auto header = httpRequest(proxy.port(), "GET", "/anything", {{"x-pause-callout", "1"}});
  EXPECT_EQ(header.status, 202) << header.body;
  auto plain = httpRequest(proxy.port(), "GET", "/anything");
  EXPECT_EQ(plain.status, 200) << "no plugin change: the upstream";
}

TEST_F(DataPathTest, ALocalReplyKeepsThePluginsContentType) {
  ProxyProcess proxy(config("conformance"), upstream.port());
  ASSERT_TRUE(proxy.ready());
  const std::string r =
      rawExchange(proxy.port(), "GET /local-json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.substr(0, 12), "HTTP/1.1 403") << r;
  size_t count = 0;
  for (size_t at = r.find("content-type:"); at != std::string::npos;
       at = r.find("content-type:", at + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 1u) << r;
  EXPECT_NE(r.find("content-type: application/json\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("{\"denied\":true}"), std::string::npos);
}

// What a plugin reads answers as in Envoy: repeated headers where they came, attributes the
// request does not have NotFound (WasmResult 1) rather than empty, the response body an empty
// buffer during the request, "the rest of the body from 1" clamped.
TEST_F(DataPathTest, APluginReadsTheRequestAsEnvoyPresentsIt) {
  ProxyProcess proxy(config("conformance"), upstream.port());
  ASSERT_TRUE(proxy.ready());
  const std::string r =
      rawExchange(proxy.port(),
                  "POST /fidelity HTTP/1.1\r\nHost: x\r\nx-a: 1\r\nx-b: 2\r\n"
                  "x-a: 3\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  EXPECT_NE(r.find("\"x-got-order\":\"x-a=1;x-b=2;x-a=3;x-request-id="), std::string::npos) << r;
  EXPECT_NE(r.find("\"x-got-referer\":\"error:1\""), std::string::npos) << r;
  EXPECT_NE(r.find("\"x-got-useragent\":\"error:1\""), std::string::npos) << r;
  EXPECT_NE(r.find("\"x-got-response-code\":\"error:1\""), std::string::npos) << r;
  EXPECT_NE(r.find("\"x-got-other-body\":\"ok:0\""), std::string::npos) << r;
  for (int i = 0; i < 50 && proxy.process().log().find("rest=") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(proxy.process().log().find("rest=ello"), std::string::npos);
  auto with = httpRequest(proxy.port(), "GET", "/fidelity",
                          {{"referer", "https://r.example/"}, {"user-agent", "ua/1"}});
  EXPECT_NE(with.body.find("\"x-got-referer\":\"ok:https://r.example/\""), std::string::npos)
      << with.body;
  EXPECT_NE(with.body.find("\"x-got-useragent\":\"ok:ua/1\""), std::string::npos);
}

}  // namespace
}  // namespace pwx_test
