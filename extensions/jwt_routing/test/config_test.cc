// jwt_routing's configuration, natively under ASan and UBSan: what each field becomes, every
// refused value refused with its JSON path, and which rule a token's claims choose.
#include <gtest/gtest.h>

#include "config.h"
#include "jwt_fixtures.h"
#include "testing/config_expectations.h"

namespace jwt_routing {
namespace {

using pwx::testing::expectRefused;

std::string jsonString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

const char* kRoutes = R"(
    "claim_to_headers": [{"claim": "sub", "header": "X-User"}],
    "rules": [{"name": "gold", "claim": "plan.tier", "values": ["gold"],
               "set_headers": {"x-route": "gold"}, "set_authority": "gold.internal"},
              {"claim": "groups", "values": ["admin", "root"], "set_headers": {"x-route": "admin"}}])";

TEST(JwtRoutingConfig, ClaimsFromJwtAuthnMetadataByDefault) {
  auto c = parseConfig(std::string("{") + kRoutes + "}");
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->providers.empty());
  EXPECT_EQ(c->metadata_namespace, "envoy.filters.http.jwt_authn");
  EXPECT_EQ(c->payload_key, "payload");
  ASSERT_EQ(c->claim_to_headers.size(), 1u);
  EXPECT_EQ(c->claim_to_headers[0].header, "x-user");
  ASSERT_EQ(c->rules.size(), 2u);
  EXPECT_EQ(c->rules[0].name, "gold");
  EXPECT_EQ(c->rules[0].set_authority, "gold.internal");
  EXPECT_EQ(c->rules[1].name, "rule1") << "a rule without a name is named by its index";
  for (const char* h : {"x-user", "x-route"}) {
    EXPECT_NE(std::find(c->managed_headers.begin(), c->managed_headers.end(), h),
              c->managed_headers.end())
        << h << " is removed from every request before routing";
  }
}

TEST(JwtRoutingConfig, ProvidersWithLocalAndRemoteKeys) {
  pwx_test::JwtKey key("ES256", "k1");
  auto c = parseConfig(std::string(R"({"providers": {
      "local": {"issuer": "https://issuer", "audiences": ["api"],
                "local_jwks": {"inline_string": )") +
                       jsonString(key.jwks()) + R"(},
                "from_headers": [{"name": "X-Token", "value_prefix": "Bearer "}]},
      "remote": {"remote_jwks": {"http_uri": {"uri": "https://keys.example/jwks.json",
                                              "cluster": "keys", "timeout_ms": 2000},
                                 "cache_duration_seconds": 300}}},
      "require_token": true, "cache_size": 10,)" +
                       kRoutes + "}");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->providers.size(), 2u);
  const Provider& local = c->providers[0].name == "local" ? c->providers[0] : c->providers[1];
  const Provider& remote = c->providers[0].name == "local" ? c->providers[1] : c->providers[0];
  ASSERT_TRUE(local.local_jwks);
  EXPECT_EQ(local.audiences, (std::vector<std::string>{"api"}));
  ASSERT_EQ(local.from_headers.size(), 1u);
  EXPECT_EQ(local.from_headers[0].name, "x-token");
  ASSERT_TRUE(remote.remote_jwks);
  EXPECT_EQ(remote.remote_jwks->cluster, "keys");
  EXPECT_EQ(remote.remote_jwks->authority, "keys.example");
  EXPECT_EQ(remote.remote_jwks->path, "/jwks.json");
  EXPECT_EQ(remote.remote_jwks->timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(remote.remote_jwks->cache_duration_ms, 300'000u);
  EXPECT_TRUE(c->require_token);
  EXPECT_EQ(c->cache_size, 10u);
}

TEST(JwtRoutingConfig, RefusedValuesNameTheirPath) {
  expectRefused(parseConfig,
                {
                    {"{}", "claim_to_headers or rules is required (nothing to route by)"},
                    {R"({"rules": [{"claim": "a", "values": []}]})", "rules[0].values"},
                    {R"({"rules": [{"claim": "a", "values": ["b"]}]})",
                     "rules[0]: set_headers or set_authority is required"},
                    {R"({"claim_to_headers": [{"claim": "a", "header": ":path"}]})",
                     "claim_to_headers[0].header: not a header this plugin may set"},
                    {R"({"providers": {"p": {"issuer": "x"}}, "rules": []})",
                     "providers.p: exactly one of local_jwks and remote_jwks is required"},
                    {R"({"providers": {"p": {"local_jwks": {"inline_string": "{}"}}}})",
                     "providers.p.local_jwks.inline_string: not a JWKS"},
                    {R"({"claim_to_headers": [], "rule": []})", "rule: unknown field"},
                });
}

TEST(JwtRoutingConfig, TheFirstRuleWithOneOfItsValuesWins) {
  auto c = parseConfig(std::string("{") + kRoutes + "}");
  ASSERT_TRUE(c) << c.error();
  auto rule = [&](const char* payload) {
    auto json = nlohmann::json::parse(payload);
    const Rule* r = matchRule(*c, JsonClaims(json));
    return r == nullptr ? std::string("<none>") : r->name;
  };
  EXPECT_EQ(rule(R"({"plan": {"tier": "gold"}, "groups": ["admin"]})"), "gold");
  EXPECT_EQ(rule(R"({"plan": {"tier": "silver"}, "groups": ["dev", "root"]})"), "rule1");
  EXPECT_EQ(rule(R"({"plan": {"tier": "silver"}})"), "<none>");
  EXPECT_EQ(rule(R"({"plan": {"tier": {"nested": "gold"}}})"), "<none>") << "an object is no value";
}

}  // namespace
}  // namespace jwt_routing
