// grpc_access_logging through a real wasm-proxy to a real gRPC collector (log-collector: libgrpc++
// over HTTP/2, decoding with full protobuf), on every engine: every request becomes one entry with
// its fields, by target and by cluster, for both wire formats; a collector that goes away and comes
// back loses nothing it could not count; SIGTERM with a half-full batch delivers it before exit.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.h"

namespace pwx_test {
namespace {

// The collector on a fixed port; stop() and start() play a collector that goes away.
class Collector {
 public:
  Collector() : port_(freePort()) { start(); }
  void start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {PWX_LOG_COLLECTOR_BIN, "--port", std::to_string(port_)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    runs_.push_back(std::make_unique<Process>(argv, tempDir() + "/collector-" +
                                                        std::to_string(port_) + "-" +
                                                        std::to_string(runs_.size()) + ".log"));
    waitForPort(port_, std::chrono::seconds(10));
  }
  void stop() {
    runs_.back()->signal(SIGKILL);
    runs_.back()->wait(std::chrono::seconds(5));
  }
  uint16_t port() const { return port_; }
  // Every entry received so far (all runs) for "write_log" or "otlp", as JSON.
  std::vector<nlohmann::json> entries(const std::string& service) const {
    std::vector<nlohmann::json> out;
    for (const auto& run : runs_) {
      std::istringstream lines(run->log());
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("{\"service\":", 0) != 0) continue;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j["service"] == service && j.contains("entry")) {
          out.push_back(j);
        }
      }
    }
    return out;
  }
  // Waits until `n` entries of `service` arrived (or the timeout); returns how many did.
  size_t waitFor(const std::string& service, size_t n,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    const auto until = std::chrono::steady_clock::now() + timeout;
    size_t got = 0;
    while ((got = entries(service).size()) < n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return got;
  }

 private:
  uint16_t port_;
  std::vector<std::unique_ptr<Process>> runs_;
};

const char* kCollectorCluster = R"(  - name: collector
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment: { cluster_name: collector, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{COLLECTOR_PORT}} } } } }] }] }
)";

class AccessLogIntegration : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<ProxyProcess> proxy(const std::string& plugin_config, int concurrency = 1) {
    std::string c = singlePluginConfig("grpc_access_logging", plugin_config, kCollectorCluster,
                                       "{ id: sidecar, metadata: { WORKLOAD_NAME: echo-server, "
                                       "NAMESPACE: test } }");
    c.replace(c.find("runtime: envoy.wasm.runtime.v8"), 30,
              "runtime: envoy.wasm.runtime." + GetParam());
    auto p = std::make_unique<ProxyProcess>(
        c, upstream_.port(), concurrency,
        std::map<std::string, std::string>{{"COLLECTOR_PORT", std::to_string(collector_.port())}});
    EXPECT_TRUE(p->ready()) << p->process().log();
    return p;
  }
  // The metric once it reached `want` (the collector records before it answers), or at the timeout.
  long waitStat(ProxyProcess& p, const std::string& name, long want) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    long v = stat(p, name);
    while (v < want && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      v = stat(p, name);
    }
    return v;
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(collector_.port()); }
  long stat(ProxyProcess& p, const std::string& name) {
    return prometheusValue(httpRequest(p.adminPort(), "GET", "/stats/prometheus").body,
                           "grpc_access_logging_" + name);
  }
  EchoUpstream upstream_;
  Collector collector_;
};

TEST_P(AccessLogIntegration, EveryRequestBecomesOneEntryWithItsFields) {
  auto p = proxy(R"({"logging_service": ")" + target() + R"(", "flush_interval_ms": 100})");
  for (int i = 0; i < 20; ++i) {
    auto r =
        httpRequest(p->port(), "GET", "/item/" + std::to_string(i),
                    {{"user-agent", "test-client/1"}, {"x-request-id", "id-" + std::to_string(i)}});
    ASSERT_EQ(r.status, 200);
  }
  ASSERT_EQ(collector_.waitFor("write_log", 20), 20u);
  std::set<std::string> paths;
  for (const auto& e : collector_.entries("write_log")) {
    const auto& entry = e["entry"];
    paths.insert(entry["path"].get<std::string>());
    EXPECT_EQ(entry["destination_workload"], "echo-server");
    EXPECT_EQ(entry["destination_namespace"], "test");
    EXPECT_EQ(entry["response_code"], 200);
    EXPECT_EQ(entry["user_agent"], "test-client/1") << "request.useragent, not upstream's typo";
    EXPECT_EQ(entry["request_id"], "id-" + entry["path"].get<std::string>().substr(6));
    EXPECT_EQ(entry["host"], "localhost");  // what the test client sends
    EXPECT_TRUE(entry.contains("timestamp") && entry.contains("latency")) << entry.dump();
    EXPECT_FALSE(entry.contains("referer")) << "no Referer header, no referer";
    EXPECT_EQ(entry["source_address"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  }
  EXPECT_EQ(paths.size(), 20u);
  EXPECT_EQ(waitStat(*p, "write_log_logs_written", 20), 20);
  EXPECT_EQ(stat(*p, "write_log_logs_dropped"), 0);
}

TEST_P(AccessLogIntegration, OtlpGoesToAClusterAndWriteLogToATargetAtTheSameTime) {
  auto p = proxy(R"({"logging_service": ")" + target() +
                 R"(", "otlp_service": "collector", "flush_interval_ms": 100})");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(httpRequest(p->port(), "GET", "/both").status, 200);
  EXPECT_EQ(collector_.waitFor("otlp", 5), 5u);
  EXPECT_EQ(collector_.waitFor("write_log", 5), 5u);
  const auto otlp = collector_.entries("otlp");
  ASSERT_FALSE(otlp.empty());
  EXPECT_EQ(otlp[0]["resource"]["attributes"][0]["key"], "service.name");
  EXPECT_EQ(otlp[0]["resource"]["attributes"][0]["value"]["string_value"], "echo-server");
  EXPECT_EQ(otlp[0]["entry"]["body"]["string_value"], "GET /both HTTP/1.1 200");
}

TEST_P(AccessLogIntegration, ACollectorThatGoesAwayAndComesBackLosesNothingUncounted) {
  auto p = proxy(R"({"logging_service": ")" + target() +
                 R"(", "flush_interval_ms": 100, "max_batch_entries": 10,)"
                 R"( "max_buffered_entries": 40})");
  collector_.stop();
  constexpr int kSent = 100;
  for (int i = 0; i < kSent; ++i) ASSERT_EQ(httpRequest(p->port(), "GET", "/down").status, 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_GT(stat(*p, "write_log_export_failures"), 0);
  collector_.start();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (stat(*p, "write_log_logs_written") + stat(*p, "write_log_logs_dropped") < kSent &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const long written = stat(*p, "write_log_logs_written"),
             dropped = stat(*p, "write_log_logs_dropped");
  EXPECT_EQ(written + dropped, kSent);
  EXPECT_EQ(dropped, kSent - 40) << "beyond max_buffered_entries";
  EXPECT_EQ(collector_.entries("write_log").size(), static_cast<size_t>(written));
}

TEST_P(AccessLogIntegration, SigtermDeliversAHalfFullBatchBeforeExit) {
  auto p = proxy(R"({"logging_service": ")" + target() + R"(", "flush_interval_ms": 60000})", 2);
  constexpr int kSent = 37;  // far from a full batch, and no flush interval before the signal
  for (int i = 0; i < kSent; ++i) ASSERT_EQ(httpRequest(p->port(), "GET", "/last").status, 200);
  EXPECT_TRUE(collector_.entries("write_log").empty());
  p->process().signal(SIGTERM);
  EXPECT_EQ(p->process().wait(std::chrono::seconds(10)), 0) << p->process().log();
  EXPECT_EQ(collector_.entries("write_log").size(), static_cast<size_t>(kSent))
      << "delivered before the proxy exited";
}

// A reload replaces the plugin: the old one flushes what it holds before it goes (its VM is kept
// until proxy_done), while the new one serves.
TEST_P(AccessLogIntegration, AReloadDeliversTheOldPluginsBatch) {
  const std::string cfg =
      R"({"logging_service": ")" + target() + R"(", "flush_interval_ms": 60000})";
  auto p = proxy(cfg);
  for (int i = 0; i < 7; ++i) ASSERT_EQ(httpRequest(p->port(), "GET", "/before").status, 200);
  EXPECT_TRUE(collector_.entries("write_log").empty());
  std::string next = p->render(singlePluginConfig(
      "grpc_access_logging",
      R"({"logging_service": ")" + target() + R"(", "flush_interval_ms": 50})", kCollectorCluster));
  next.replace(next.find("runtime: envoy.wasm.runtime.v8"), 30,
               "runtime: envoy.wasm.runtime." + GetParam());
  writeFile(p->configPath(), next);
  p->process().signal(SIGHUP);
  EXPECT_EQ(collector_.waitFor("write_log", 7), 7u) << p->process().log();
  ASSERT_EQ(httpRequest(p->port(), "GET", "/after").status, 200);
  EXPECT_EQ(collector_.waitFor("write_log", 8), 8u) << "the new plugin logs too";
}

INSTANTIATE_TEST_SUITE_P(Engines, AccessLogIntegration, ::testing::Values("v8", "wabt", "wasm2c"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pwx_test
