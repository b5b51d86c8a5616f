// jwt_routing in the harness, on every engine: both claim sources (jwt_authn's dynamic metadata
// in CEL's encoding; tokens the plugin verifies with nettle), every algorithm, Envoy's answers to
// bad tokens, the verification cache, remote key sets by HTTP callout, forged headers, config
// errors. Keys and tokens are made with OpenSSL at test time.
#include <gtest/gtest.h>

#include <chrono>

#include "engine_test.h"
#include "jwt_fixtures.h"
#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/abi/property.h"

namespace {

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;
using pwx_test::JwtKey;

constexpr const char* kIssuer = "https://issuer.example";

std::string routes(const std::string& providers = "") {
  return R"({)" + providers + R"(
    "claim_to_headers": [{"claim": "sub", "header": "x-user"},
                         {"claim": "plan.tier", "header": "x-tier"},
                         {"claim": "groups", "header": "x-groups"},
                         {"claim": "scope", "header": "x-scope"}],
    "rules": [{"name": "gold", "claim": "plan.tier", "values": ["gold"],
               "set_headers": {"x-route": "gold"}, "set_authority": "gold.internal"},
              {"name": "admins", "claim": "groups", "values": ["admin"],
               "set_headers": {"x-route": "admin"}},
              {"name": "level5", "claim": "level", "values": ["5"],
               "set_headers": {"x-route": "level5"}},
              {"name": "writers", "claim": "scope", "values": ["write"],
               "set_headers": {"x-route": "writers"}}]})";
}

std::string localProviders(const JwtKey& key, const std::string& extra = "") {
  std::string jwks = key.jwks();
  std::string escaped;
  for (char c : jwks) {
    if (c == '"') escaped += '\\';
    escaped += c;
  }
  return R"("providers": {"main": {"issuer": ")" + std::string(kIssuer) +
         R"(", "audiences": ["api"], "local_jwks": {"inline_string": ")" + escaped + "\"}" + extra +
         "}},";
}

std::string tokenClaims(const std::string& tier, const std::string& extra = "") {
  return pwx_test::claims(kIssuer, "alice", "api", 3600,
                          "\"plan\":{\"tier\":\"" + tier +
                              "\"},\"groups\":[\"dev\",\"ops\"],\"scope\":\"read write\"" +
                              (extra.empty() ? "" : "," + extra));
}

class JwtRouting : public EngineTest {
 protected:
  // RSA and ECDSA in the interpreter take longer than the default per-call deadline: options()
  // gives the interpreter 5 s.
  std::unique_ptr<PluginHarness> load(const std::string& config, std::string* error = nullptr) {
    auto h = EngineTest::load("jwt_routing", options("jwt_routing", config));
    if (error != nullptr) *error = error_;
    if (h) {  // the harness's wall clock starts in 2023; tokens are made with today's
      const auto now = std::chrono::system_clock::now().time_since_epoch();
      h->shiftRealtime(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() -
                       static_cast<int64_t>(h->realtimeNanos()));
    }
    return h;
  }
  // Sends a request; the local reply status, or 0 when it continued.
  uint32_t send(PluginHarness& h, Headers extra = {}, const std::string& path = "/orders") {
    Headers headers = {{":method", "GET"}, {":path", path}, {":authority", "shop.example"}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    last_ = h.newStream();
    auto status = last_->sendRequestHeaders(headers);
    if (last_->local_reply) return last_->local_reply->status;
    EXPECT_EQ(status, FilterHeadersStatus::Continue);
    return 0;
  }
  std::string header(std::string_view name) {
    return std::string(last_->request_headers.get(name).value_or("<none>"));
  }
  std::string configError(const std::string& config) {
    std::string error;
    EXPECT_FALSE(load(config, &error));
    return error;
  }
  std::unique_ptr<FakeStream> last_;
};

// jwt_authn's payload as a host hands it over: a map of CEL-encoded values.
std::string celPayload(const std::string& tier) {
  using proxy_wasm::abi::encodePairs;
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  return encodePairs(Pairs{
      {"sub", "alice"},
      {"plan", encodePairs(Pairs{{"tier", tier}})},
      {"groups", encodePairs(Pairs{{"dev", ""}, {"admin", ""}})},
      {"level", proxy_wasm::abi::encodeDouble(5)},
      {"scope", "read write"},
  });
}

const std::string kPayloadPath = proxy_wasm::abi::encodePropertyPath(
    {"metadata", "filter_metadata", "envoy.filters.http.jwt_authn", "payload"});

TEST_P(JwtRouting, RoutesByTheClaimsJwtAuthnLeftInMetadata) {
  auto h = load(routes());
  ASSERT_TRUE(h);
  Headers forged = {{"x-user", "mallory"}, {"x-route", "admin"}, {"x-tier", "gold"}};
  last_ = h->newStream();
  last_->properties[kPayloadPath] = celPayload("gold");
  Headers headers = {{":method", "GET"}, {":path", "/orders"}, {":authority", "shop.example"}};
  headers.insert(headers.end(), forged.begin(), forged.end());
  EXPECT_EQ(last_->sendRequestHeaders(headers), FilterHeadersStatus::Continue);
  EXPECT_EQ(header("x-user"), "alice");
  EXPECT_EQ(header("x-tier"), "gold");
  EXPECT_EQ(header("x-groups"), "dev,admin");
  EXPECT_EQ(header("x-scope"), "read write");
  EXPECT_EQ(header("x-route"), "gold");
  EXPECT_EQ(header(":authority"), "gold.internal");

  // Lists, numbers (8-byte doubles) and scopes match rules by their values.
  last_ = h->newStream();
  last_->properties[kPayloadPath] = celPayload("silver");
  last_->sendRequestHeaders({{":method", "GET"}, {":path", "/"}, {":authority", "shop.example"}});
  EXPECT_EQ(header("x-route"), "admin");
  EXPECT_EQ(header(":authority"), "shop.example");

  // No metadata (no token, or jwt_authn allowed it missing): no claims, and nothing forged.
  EXPECT_EQ(send(*h, forged), 0u);
  EXPECT_EQ(header("x-user"), "<none>");
  EXPECT_EQ(header("x-route"), "<none>");
  EXPECT_EQ(header("x-tier"), "<none>");
}

TEST_P(JwtRouting, VerifiesTokensItselfWithEveryAlgorithm) {
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA", "HS256"}) {
    SCOPED_TRACE(alg);
    JwtKey key(alg, "k1");
    auto h = load(routes(localProviders(key)));
    ASSERT_TRUE(h);
    const std::string token = key.sign(tokenClaims("gold"));
    EXPECT_EQ(send(*h, {{"authorization", "Bearer " + token}, {"x-user", "mallory"}}), 0u);
    EXPECT_EQ(header("x-user"), "alice");
    EXPECT_EQ(header("x-route"), "gold");
    EXPECT_EQ(header(":authority"), "gold.internal");
    EXPECT_EQ(header("authorization"), "<none>") << "not forwarded by default";
    // Signed by another key of the same kind.
    EXPECT_EQ(
        send(*h, {{"authorization", "Bearer " + JwtKey(alg, "k1").sign(tokenClaims("gold"))}}),
        401u);
    EXPECT_EQ(last_->local_reply->body, "Jwt verification fails");
  }
}

TEST_P(JwtRouting, AnswersBadTokensAsJwtAuthnDoes) {
  JwtKey key("ES256", "k1");
  auto h = load(routes(localProviders(key)));
  ASSERT_TRUE(h);
  struct Case {
    std::string token;
    uint32_t status;
    std::string body;
  };
  const Case cases[] = {
      {key.sign(pwx_test::claims(kIssuer, "a", "api", -120)), 401, "Jwt is expired"},
      {key.sign(pwx_test::claims("https://evil.example", "a", "api")), 401,
       "Jwt issuer is not configured"},
      {key.sign(pwx_test::claims(kIssuer, "a", "other")), 403, "Audiences in Jwt are not allowed"},
      {pwx_test::base64Url("{\"alg\":\"none\"}") + "." + pwx_test::base64Url(tokenClaims("gold")) +
           ".",
       401, "Jwt header [alg] is not supported"},
      {JwtKey("ES256", "k2").sign(tokenClaims("gold")), 401,
       "Jwks doesn't have key to match kid or alg from Jwt"},
      {JwtKey("HS256", "k1").sign(tokenClaims("gold")), 401,
       "Jwks doesn't have key to match kid or alg from Jwt"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    EXPECT_EQ(send(*h, {{"authorization", "Bearer " + c.token}}, "/orders?x=1"), c.status);
    EXPECT_EQ(last_->local_reply->body, c.body);
    EXPECT_EQ(last_->local_reply->headers,
              (Headers{{"www-authenticate",
                        "Bearer realm=\"http://shop.example/orders\", error=\"invalid_token\""}}));
  }
  // Without require_token, a request with no token goes on without claims.
  EXPECT_EQ(send(*h, {{"x-route", "gold"}}), 0u);
  EXPECT_EQ(header("x-route"), "<none>");
  auto strict = load(routes(localProviders(key)).insert(1, "\"require_token\": true,"));
  ASSERT_TRUE(strict);
  EXPECT_EQ(send(*strict), 401u);
  EXPECT_EQ(last_->local_reply->body, "Jwt is missing");
}

TEST_P(JwtRouting, RemembersVerifiedTokensButNotPastTheirExpiry) {
  JwtKey key("RS256", "k1");
  auto h = load(routes(localProviders(key)));
  ASSERT_TRUE(h);
  const std::string token = key.sign(pwx_test::claims(kIssuer, "alice", "api", 120));
  const int64_t hits = PluginHarness::metric("jwt_routing.verify_cache_hits").value_or(0);
  EXPECT_EQ(send(*h, {{"authorization", "Bearer " + token}}), 0u);
  EXPECT_EQ(send(*h, {{"authorization", "Bearer " + token}}), 0u);
  EXPECT_EQ(header("x-user"), "alice");
  EXPECT_EQ(PluginHarness::metric("jwt_routing.verify_cache_hits").value_or(0), hits + 1);
  h->shiftRealtime(int64_t{300} * 1'000'000'000);  // past exp + 60 s of skew
  EXPECT_EQ(send(*h, {{"authorization", "Bearer " + token}}), 401u);
  EXPECT_EQ(last_->local_reply->body, "Jwt is expired");
}

TEST_P(JwtRouting, FetchesRemoteKeysByCalloutAndReportsAFailedFetch) {
  JwtKey key("ES256", "k1");
  auto h = load(routes(R"("providers": {"idp": {"issuer": ")" + std::string(kIssuer) + R"(",
      "remote_jwks": {"http_uri": {"uri": "http://idp.example/jwks", "cluster": "idp"}}}},)"));
  ASSERT_TRUE(h);
  const std::string token = key.sign(tokenClaims("gold"));
  last_ = h->newStream();
  EXPECT_NE(last_->sendRequestHeaders({{":method", "GET"},
                                       {":path", "/"},
                                       {":authority", "a"},
                                       {"authorization", "Bearer " + token}}),
            FilterHeadersStatus::Continue);
  ASSERT_EQ(h->httpCalls().size(), 1u);
  EXPECT_EQ(h->httpCalls()[0].request.cluster, "idp");
  h->respondHttpCall(h->httpCalls()[0].token, {{":status", "200"}}, key.jwks());
  EXPECT_EQ(last_->request_continued, 1);
  EXPECT_EQ(header("x-route"), "gold");
  // The set is cached: the next request needs no callout.
  h->httpCalls().clear();
  EXPECT_EQ(send(*h, {{"authorization", "Bearer " + token}}), 0u);
  EXPECT_TRUE(h->httpCalls().empty());

  auto down = load(routes(R"("providers": {"idp": {
      "remote_jwks": {"http_uri": {"uri": "http://idp.example/jwks", "cluster": "idp"}}}},)"));
  ASSERT_TRUE(down);
  last_ = down->newStream();
  last_->sendRequestHeaders({{":method", "GET"},
                             {":path", "/"},
                             {":authority", "a"},
                             {"authorization", "Bearer " + token}});
  ASSERT_EQ(down->httpCalls().size(), 1u);
  down->respondHttpCall(down->httpCalls()[0].token, {{":status", "503"}}, "");
  ASSERT_TRUE(last_->local_reply);
  EXPECT_EQ(last_->local_reply->status, 401u);
  EXPECT_EQ(last_->local_reply->body, "Jwks remote fetch is failed");
}

// The configuration's fields are tested natively (config_test.cc); here, that a refused one
// fails the load with its path.
TEST_P(JwtRouting, ARefusedConfigurationFailsTheLoadNamingTheField) {
  EXPECT_NE(configError(R"({"rules": [{"claim": "a", "values": ["b"]}]})")
                .find("rules[0]: set_headers or set_authority is required"),
            std::string::npos);
}

PWX_INSTANTIATE_ON_ALL_ENGINES(JwtRouting);

}  // namespace
