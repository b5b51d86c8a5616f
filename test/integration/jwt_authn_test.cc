// envoy.filters.http.jwt_authn through a real wasm-proxy: Envoy's answers to bad tokens, what a
// verified token forwards (and what a client cannot forge), claim-based routing, remote key sets
// from a real HTTP server (the echo upstream's /files/), rotation and an unreachable key server.
#include <gtest/gtest.h>

#include <thread>

#include "jwt_fixtures.h"
#include "test_support.h"

namespace pwx_test {
namespace {

constexpr const char* kIssuer = "https://issuer.example";

// One listener: jwt_authn (providers, rules), then the router. /api with x-tier: gold goes to
// cluster "gold" (its Host rewritten to gold.internal), everything else to "upstream".
std::string jwtConfig(const std::string& providers, const std::string& rules) {
  return R"(
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: {{ADMIN_PORT}} } }
static_resources:
  listeners:
  - name: main
    address: { socket_address: { address: 127.0.0.1, port_value: {{LISTEN_PORT}} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/api", headers: [{ name: x-tier, string_match: { exact: gold } }] }
                route: { cluster: gold, host_rewrite_literal: gold.internal }
              - match: { prefix: "/" }
                route: { cluster: upstream }
          http_filters:
          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers:
)" + providers +
         R"(
              rules:
)" + rules +
         R"(
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: upstream
    load_assignment:
      cluster_name: upstream
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{UPSTREAM_PORT}} } } } }] }]
  - name: gold
    load_assignment:
      cluster_name: gold
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{UPSTREAM_PORT}} } } } }] }]
  - name: idp
    load_assignment:
      cluster_name: idp
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{UPSTREAM_PORT}} } } } }] }]
  - name: nowhere
    connect_timeout: 0.2s
    load_assignment:
      cluster_name: nowhere
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } }] }]
)";
}

std::string localProvider(const std::string& name, const JwtKey& key, const std::string& extra) {
  return "                " + name + ":\n                  issuer: " + kIssuer +
         "\n                  audiences: [api.example.com]\n"
         "                  local_jwks: { inline_string: '" +
         key.jwks() + "' }\n" + extra;
}

constexpr const char* kClaimFields = R"(                  forward_payload_header: x-jwt-payload
                  payload_in_metadata: payload
                  clear_route_cache: true
                  claim_to_headers:
                  - { header_name: x-jwt-sub, claim_name: sub }
                  - { header_name: x-tier, claim_name: plan.tier }
)";

constexpr const char* kRules = R"(
              - match: { path: /public }
              - match: { prefix: /optional }
                requires: { allow_missing: {} }
              - match: { prefix: / }
                requires: { provider_name: main })";

Response get(uint16_t port, const std::string& target, const std::string& token,
             std::vector<std::pair<std::string, std::string>> headers = {}) {
  if (!token.empty()) headers.emplace_back("authorization", "Bearer " + token);
  return httpRequest(port, "GET", target, headers);
}

std::string goodClaims(const std::string& sub, const std::string& tier) {
  return claims(kIssuer, sub, "api.example.com", 3600,
                "\"plan\":{\"tier\":\"" + tier + "\"},\"scope\":\"read write\"");
}

class JwtAuthnProxyTest : public ::testing::Test {
 protected:
  JwtKey key_{"ES256", "k1"};
  EchoUpstream upstream_;
};

TEST_F(JwtAuthnProxyTest, AnswersBadTokensAsEnvoyDoes) {
  ProxyProcess proxy(jwtConfig(localProvider("main", key_, kClaimFields), kRules),
                     upstream_.port());
  ASSERT_TRUE(proxy.ready());
  const uint16_t port = proxy.port();

  Response missing = get(port, "/api/items?page=2", "");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(missing.body, "Jwt is missing");
  // The realm is the request's URL without its query (the test client sends Host: localhost).
  EXPECT_EQ(missing.header("www-authenticate"), "Bearer realm=\"http://localhost/api/items\"");

  struct Case {
    std::string token;
    int status;
    std::string body;
  };
  JwtKey stranger("ES256", "k1");
  const std::string payload = goodClaims("alice", "gold");
  const Case cases[] = {
      {key_.sign(claims(kIssuer, "alice", "api.example.com", -120)), 401, "Jwt is expired"},
      {key_.sign(claims(kIssuer, "alice", "api.example.com", 3600,
                        "\"nbf\":" + std::to_string(nowSeconds() + 600))),
       401, "Jwt not yet valid"},
      {key_.sign(claims("https://other.example", "alice", "api.example.com")), 401,
       "Jwt issuer is not configured"},
      {key_.sign(claims(kIssuer, "alice", "other.example.com")), 403,
       "Audiences in Jwt are not allowed"},
      {stranger.sign(payload), 401, "Jwt verification fails"},
      {base64Url("{\"alg\":\"none\"}") + "." + base64Url(payload) + ".", 401,
       "Jwt header [alg] is not supported"},
      {JwtKey("ES256", "k2").sign(payload), 401,
       "Jwks doesn't have key to match kid or alg from Jwt"},
      {"not-a-jwt", 401,
       "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    Response r = get(port, "/api/items", c.token);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.body, c.body);
    EXPECT_EQ(r.header("www-authenticate"),
              "Bearer realm=\"http://localhost/api/items\", error=\"invalid_token\"");
  }
  // A path whose rule has no requirement needs no token.
  EXPECT_EQ(get(port, "/public", "").status, 200);
}

TEST_F(JwtAuthnProxyTest, ForwardsWhatTheTokenSaysAndNothingAClientForged) {
  ProxyProcess proxy(jwtConfig(localProvider("main", key_, kClaimFields), kRules),
                     upstream_.port());
  ASSERT_TRUE(proxy.ready());
  const std::string token = key_.sign(goodClaims("alice", "silver"));

  Response ok = get(proxy.port(), "/items", token, {{"x-jwt-sub", "mallory"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body.find("authorization"), std::string::npos) << "forward: false strips it";
  EXPECT_NE(ok.body.find("\"x-jwt-sub\":\"alice\""), std::string::npos) << ok.body;
  EXPECT_EQ(ok.body.find("mallory"), std::string::npos) << ok.body;
  EXPECT_NE(ok.body.find("\"x-tier\":\"silver\""), std::string::npos) << "nested claim";
  const std::string payload_b64 =
      token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1);
  EXPECT_NE(ok.body.find("\"x-jwt-payload\":\"" + payload_b64 + "\""), std::string::npos);

  // The token as a query parameter (Envoy's default location) is accepted and not forwarded.
  Response param = get(proxy.port(), "/items?a=1&access_token=" + token + "&b=2", "");
  ASSERT_EQ(param.status, 200) << param.body;
  EXPECT_NE(param.body.find("\"path\":\"/items?a=1&b=2\""), std::string::npos) << param.body;

  // Where a missing token is allowed, forged claim headers are still removed.
  Response anon = get(proxy.port(), "/optional", "",
                      {{"x-jwt-sub", "admin"}, {"x-tier", "gold"}, {"x-jwt-payload", "e30"}});
  ASSERT_EQ(anon.status, 200);
  EXPECT_EQ(anon.body.find("admin"), std::string::npos) << anon.body;
  EXPECT_EQ(anon.body.find("x-tier"), std::string::npos) << anon.body;
  EXPECT_EQ(anon.body.find("x-jwt-payload"), std::string::npos) << anon.body;
  // ... and a present but invalid token is still refused there.
  EXPECT_EQ(get(proxy.port(), "/optional", JwtKey("ES256", "k1").sign(goodClaims("a", "b"))).status,
            401);
}

TEST_F(JwtAuthnProxyTest, TheSamePathGoesToAnotherClusterByClaim) {
  ProxyProcess proxy(jwtConfig(localProvider("main", key_, kClaimFields), kRules),
                     upstream_.port());
  ASSERT_TRUE(proxy.ready());
  Response gold = get(proxy.port(), "/api/orders", key_.sign(goodClaims("alice", "gold")));
  ASSERT_EQ(gold.status, 200) << gold.body;
  EXPECT_NE(gold.body.find("\"host\":\"gold.internal\""), std::string::npos) << gold.body;
  Response silver = get(proxy.port(), "/api/orders", key_.sign(goodClaims("bob", "silver")));
  ASSERT_EQ(silver.status, 200) << silver.body;
  EXPECT_EQ(silver.body.find("gold.internal"), std::string::npos) << silver.body;
  // A client that claims the tier itself is routed by what its token says.
  Response forged = get(proxy.port(), "/api/orders", key_.sign(goodClaims("bob", "silver")),
                        {{"x-tier", "gold"}});
  EXPECT_EQ(forged.body.find("gold.internal"), std::string::npos) << forged.body;
}

TEST_F(JwtAuthnProxyTest, RequirementsCombineProviders) {
  JwtKey rsa("RS256", "r1");
  const std::string providers =
      localProvider("main", key_, "") +
      "                partner:\n                  issuer: https://partner.example\n"
      "                  local_jwks: { inline_string: '" +
      rsa.jwks() + "' }\n                  from_headers: [{ name: x-partner-token }]\n";
  const std::string rules = R"(
              - match: { prefix: /any }
                requires: { requires_any: { requirements: [{ provider_name: main }, { provider_name: partner }] } }
              - match: { prefix: /all }
                requires: { requires_all: { requirements: [{ provider_name: main }, { provider_name: partner }] } })";
  ProxyProcess proxy(jwtConfig(providers, rules), upstream_.port());
  ASSERT_TRUE(proxy.ready());
  const std::string mine = key_.sign(goodClaims("alice", "gold"));
  const std::string partner = rsa.sign(claims("https://partner.example", "p", ""));
  EXPECT_EQ(get(proxy.port(), "/any", mine).status, 200);
  EXPECT_EQ(get(proxy.port(), "/any", "", {{"x-partner-token", partner}}).status, 200);
  Response none = get(proxy.port(), "/any", "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.body, "Jwt is missing");
  EXPECT_EQ(get(proxy.port(), "/all", mine).status, 401);
  EXPECT_EQ(get(proxy.port(), "/all", mine, {{"x-partner-token", partner}}).status, 200);
}

TEST(JwtAuthnRemoteTest, FetchesKeysCachesThemAndFollowsRotation) {
  const std::string dir = tempDir();
  JwtKey first("RS256", "2026-a"), second("ES256", "2026-b");
  writeFile(dir + "/jwks.json", first.jwks());
  EchoUpstream upstream(dir);
  const std::string providers = std::string(R"(                main:
                  issuer: )") + kIssuer +
                                R"(
                  remote_jwks:
                    http_uri: { uri: "http://idp.example/files/jwks.json", cluster: idp, timeout: 1s }
                    cache_duration: 300s
                down:
                  issuer: https://down.example
                  remote_jwks:
                    http_uri: { uri: "http://idp.example/keys", cluster: nowhere, timeout: 1s }
)";
  const std::string rules = R"(
              - match: { prefix: /down }
                requires: { provider_name: down }
              - match: { prefix: / }
                requires: { provider_name: main })";
  ProxyProcess proxy(jwtConfig(providers, rules), upstream.port(), 1);
  ASSERT_TRUE(proxy.ready());
  const std::string payload = claims(kIssuer, "alice", "");
  EXPECT_EQ(get(proxy.port(), "/x", first.sign(payload)).status, 200);
  // Rotation: the server now publishes the second key; a token with its kid makes the proxy
  // fetch again (at most once a second), and it is accepted.
  writeFile(dir + "/jwks.json", "{\"keys\":[" + first.jwk() + "," + second.jwk() + "]}");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  Response rotated = get(proxy.port(), "/x", second.sign(payload));
  EXPECT_EQ(rotated.status, 200) << rotated.body;
  // The cached set keeps serving when the server has lost the file.
  writeFile(dir + "/jwks.json", "garbage");
  EXPECT_EQ(get(proxy.port(), "/x", first.sign(payload)).status, 200);

  Response down = get(proxy.port(), "/down", second.sign(claims("https://down.example", "a", "")));
  EXPECT_EQ(down.status, 401);
  EXPECT_EQ(down.body, "Jwks remote fetch is failed");

  Response stats = httpRequest(proxy.adminPort(), "GET", "/stats");
  EXPECT_NE(stats.body.find("http.jwt_authn.jwks_fetch_success: 2"), std::string::npos)
      << stats.body;
  EXPECT_NE(stats.body.find("http.jwt_authn.jwks_fetch_failed: 1"), std::string::npos);
}

TEST(JwtAuthnConfigTest, ARemoteKeySetNeedsAKnownCluster) {
  JwtKey key("ES256", "k");
  const std::string providers = R"(                main:
                  remote_jwks: { http_uri: { uri: "http://idp/keys", cluster: missing } }
)";
  auto [code, log] =
      runProxyExpectingExit(jwtConfig(providers, "\n              - match: { prefix: / }"));
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("HTTP filter envoy.filters.http.jwt_authn: unknown cluster 'missing'"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace pwx_test
