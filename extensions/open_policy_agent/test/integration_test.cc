// open_policy_agent through a real wasm-proxy, against the OPA stand-in over real HTTP.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "test_support.h"

namespace {

using namespace pwx_test;

std::string config(const std::string& plugin_config) {
  return singlePluginConfig("open_policy_agent", plugin_config, R"(
  - name: opa_policy_server
    connect_timeout: 5s
    load_assignment: { cluster_name: opa, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{OPA_PORT}} } } } }] }] }
)",
                            "{ id: server, metadata: { WORKLOAD_NAME: echo-server } }");
}

class OpaIntegration : public ::testing::Test {
 protected:
  OpaIntegration()
      : opa_port_(freePort()),
        opa_({PWX_OPA_STANDIN_BIN, "--port", std::to_string(opa_port_)},
             tempDir() + "/opa-" + std::to_string(opa_port_) + ".log") {
    waitForPort(opa_port_, std::chrono::seconds(10));
  }
  std::unique_ptr<ProxyProcess> proxy(const std::string& extra = "") {
    return std::make_unique<ProxyProcess>(
        config(R"({"opa_cluster_name": "opa_policy_server", "opa_service_host": "localhost:8181",
                   "check_result_cache_valid_sec": 10)" +
               extra + "}"),
        upstream_.port(), 1,
        std::map<std::string, std::string>{{"OPA_PORT", std::to_string(opa_port_)}});
  }
  static long counter(const std::string& prom, const std::string& name) {
    return prometheusValue(prom, name);
  }
  uint16_t opa_port_;
  Process opa_;
  EchoUpstream upstream_;
};

TEST_F(OpaIntegration, AllowAndDenyWithUpstreamsCounters) {
  auto p = proxy();
  ASSERT_TRUE(p->ready());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(httpRequest(p->port(), "GET", "/echo").status, 200);
  auto prom = httpRequest(p->adminPort(), "GET", "/stats/prometheus").body;
  EXPECT_EQ(counter(prom, "wasm_filter_opa_filter_cache_hit_policy_cache_count"), 9) << prom;
  EXPECT_EQ(counter(prom, "wasm_filter_opa_filter_cache_miss_policy_cache_count"), 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(httpRequest(p->port(), "POST", "/echo").status, 403);
  prom = httpRequest(p->adminPort(), "GET", "/stats/prometheus").body;
  EXPECT_EQ(counter(prom, "wasm_filter_opa_filter_cache_hit_policy_cache_count"), 18);
  EXPECT_EQ(counter(prom, "wasm_filter_opa_filter_cache_miss_policy_cache_count"), 2);
}

TEST_F(OpaIntegration, OpaDownSlowOrAnsweringGarbage) {
  auto slow = proxy(R"(, "policy_path": "slow/allow", "timeout_ms": 300)");
  ASSERT_TRUE(slow->ready());
  EXPECT_EQ(httpRequest(slow->port(), "GET", "/echo").status, 500);
  auto prom = httpRequest(slow->adminPort(), "GET", "/stats/prometheus").body;
  EXPECT_EQ(counter(prom, "opa_timeout"), 1) << prom;
  auto garbage = proxy(R"(, "policy_path": "garbage/allow")");
  EXPECT_EQ(httpRequest(garbage->port(), "GET", "/echo").status, 500);
  auto allow_on_error = proxy(R"(, "policy_path": "garbage/allow", "failure_mode_allow": true)");
  EXPECT_EQ(httpRequest(allow_on_error->port(), "GET", "/echo").status, 200);
  opa_.signal(SIGKILL);
  opa_.wait(std::chrono::seconds(5));
  auto down = proxy();
  EXPECT_EQ(httpRequest(down->port(), "GET", "/echo").status, 500) << "OPA down";
}

TEST_F(OpaIntegration, ClientGoneBeforeOpaAnswers) {
  auto p = proxy(R"(, "policy_path": "slow/allow")");
  ASSERT_TRUE(p->ready());
  auto r = httpRequest(p->port(), "GET", "/echo", {}, "", std::chrono::milliseconds(200));
  EXPECT_EQ(r.status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));  // the answer arrives meanwhile
  EXPECT_TRUE(p->process().running());
  EXPECT_EQ(httpRequest(p->port(), "GET", "/other").status, 500) << "still serving";
}

}  // namespace
