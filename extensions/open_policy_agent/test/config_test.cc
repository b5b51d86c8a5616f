// open_policy_agent's configuration, natively under ASan and UBSan: what each field becomes, and
// that every refused value is refused with its JSON path.
#include <gtest/gtest.h>

#include "config.h"
#include "testing/config_expectations.h"

namespace open_policy_agent {
namespace {

using pwx::testing::expectRefused;

TEST(OpaConfig, UpstreamsFieldsWithTheirDefaults) {
  auto c = parseConfig(R"({"opa_cluster_name": "opa", "opa_service_host": "opa.local"})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->cluster, "opa");
  EXPECT_EQ(c->service_host, "opa.local");
  EXPECT_EQ(c->policy_path, "test/allow");
  EXPECT_EQ(c->cache_valid_sec, 0u) << "no cache unless asked";
  EXPECT_EQ(c->timeout_ms, 5000u);
  EXPECT_FALSE(c->failure_mode_allow);
  EXPECT_EQ(c->status_on_error, 500u);
  EXPECT_EQ(c->enabled_per_million, proxy_wasm::kPerMillionAll);
}

TEST(OpaConfig, PolicyPathsNamingTheSameDocumentAreOne) {
  for (const char* path : {"/v1/data/authz/allow", "/authz/allow", "authz/allow"}) {
    auto c = parseConfig(std::string(R"({"opa_cluster_name": "c", "opa_service_host": "h",
                                         "policy_path": ")") +
                         path + "\"}");
    ASSERT_TRUE(c) << c.error();
    EXPECT_EQ(c->policy_path, "authz/allow") << path;
  }
}

TEST(OpaConfig, ExtAuthzHeaderMatchersIgnoreCase) {
  auto c = parseConfig(R"({"opa_cluster_name": "c", "opa_service_host": "h",
                           "input_headers": ["X-User"],
                           "allowed_headers": {"patterns": [{"prefix": "X-Tenant-"},
                                                            {"exact": "authorization"}]},
                           "disallowed_headers": {"patterns": [{"suffix": "-secret",
                                                                "ignore_case": false}]}})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->input_headers, (std::vector<std::string>{"x-user"}));
  EXPECT_TRUE(c->header_matchers);
  ASSERT_EQ(c->allowed_headers.size(), 2u);
  EXPECT_TRUE(c->allowed_headers[0].matches("x-tenant-id"));
  EXPECT_FALSE(c->allowed_headers[0].matches("x-user"));
  EXPECT_TRUE(c->allowed_headers[1].matches("authorization"));
  EXPECT_FALSE(c->allowed_headers[1].matches("authorization2"));
  EXPECT_TRUE(c->disallowed_headers[0].matches("x-api-secret"));
}

TEST(OpaConfig, RefusedValuesNameTheirPath) {
  const std::string base = R"("opa_cluster_name": "c", "opa_service_host": "h")";
  expectRefused(
      parseConfig,
      {
          {R"({"opa_service_host": "h"})", "opa_cluster_name: missing required field"},
          {R"({"opa_cluster_name": "", "opa_service_host": "h"})",
           "opa_cluster_name: must not be empty"},
          {"{" + base + R"(, "filter_enabled": {"runtime_key": "x"}})",
           "filter_enabled.runtime_key: unknown field (plugins see no Envoy runtime"},
          {"{" + base + R"(, "with_request_body": {}})", "with_request_body: unknown field"},
          {"{" + base + R"(, "check_result_cache_valid_sec": "x"})",
           "check_result_cache_valid_sec"},
          {"{" + base + R"(, "timeout_ms": 0})", "timeout_ms: must be at least 1"},
          {"{" + base + R"(, "status_on_error": 700})", "status_on_error: must be at most 599"},
          {"{" + base + R"(, "allowed_headers": {"patterns": [{"safe_regex": {}}]}})",
           "allowed_headers.patterns[0].safe_regex: unknown field (regular expressions are not "
           "supported"},
          {"{" + base + R"(, "allowed_headers": {"patterns": [{"exact": "a", "prefix": "b"}]}})",
           "allowed_headers.patterns[0]: exactly one of exact, prefix, suffix, contains"},
      });
}

}  // namespace
}  // namespace open_policy_agent
