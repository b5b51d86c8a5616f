// scaffold through a real wasm-proxy on real sockets, on V8 and on wasm2c: traffic passes, the
// configured response headers are added, and a refused configuration stops the proxy with the
// field's path. A new extension copied from this folder starts with these tests (README.md).
#include <gtest/gtest.h>

#include "test_support.h"

namespace {

using namespace pwx_test;

class ScaffoldIntegration : public ::testing::TestWithParam<std::string> {
 protected:
  std::vector<std::string> runtime() const { return {"--wasm-runtime", GetParam()}; }
  EchoUpstream upstream_;
};

TEST_P(ScaffoldIntegration, PassesTrafficAndAddsTheConfiguredResponseHeaders) {
  ProxyProcess proxy(
      singlePluginConfig("scaffold",
                         R"({"response_headers_to_add": {"x-powered-by": "scaffold"}})"),
      upstream_.port(), 1, {}, runtime());
  ASSERT_TRUE(proxy.ready());
  for (int i = 0; i < 3; ++i) {
    auto r = httpRequest(proxy.port(), "POST", "/items?x=1", {{"x-a", "1"}}, "payload");
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.header("x-powered-by"), "scaffold");
  }
}

TEST_P(ScaffoldIntegration, ARefusedConfigurationStopsTheProxyNamingTheField) {
  auto [code, output] = runProxyExpectingExit(
      singlePluginConfig("scaffold", R"({"response_headers_to_add": {"x-a": 1}})"), runtime());
  EXPECT_NE(code, 0);
  EXPECT_NE(output.find("response_headers_to_add.x-a: expected string"), std::string::npos)
      << output;
}

INSTANTIATE_TEST_SUITE_P(Runtimes, ScaffoldIntegration, ::testing::Values("v8", "wasm2c"),
                         [](const auto& info) { return info.param; });

}  // namespace
