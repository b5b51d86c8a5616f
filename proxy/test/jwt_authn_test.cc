// jwt_authn's token and key checks (jwt.h, jwks.h) and config errors, with keys and tokens made
// by OpenSSL at test time. The filter's behaviour through wasm-proxy is in
// test/integration/jwt_authn_test.cc.
#include <gtest/gtest.h>

#include "config_yaml.h"
#include "filters/jwt_authn/config.h"
#include "filters/jwt_authn/jwks.h"
#include "jwt/jwt.h"
#include "jwt_fixtures.h"

namespace wasm_proxy::jwt_authn {
namespace {

using pwx_test::JwtKey;

std::shared_ptr<const Jwks> keysOf(const std::string& text) {
  std::string error;
  auto jwks = Jwks::parse(text, &error);
  EXPECT_TRUE(jwks) << error;
  return jwks;
}

Status verifyToken(const std::string& token, const Jwks& jwks) {
  Jwt jwt;
  Status s = parseJwt(token, &jwt);
  return s == Status::Ok ? jwks.verify(jwt) : s;
}

std::string payload() {
  return pwx_test::claims("https://issuer.example", "alice", "api");
}

TEST(JwtAuthnTest, EveryAlgorithmVerifiesWithItsKeyAndOnlyThere) {
  for (const char* alg : {"RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA", "HS256"}) {
    SCOPED_TRACE(alg);
    JwtKey key(alg, "k1");
    JwtKey other(alg, "k1");
    auto jwks = keysOf(key.jwks());
    EXPECT_EQ(verifyToken(key.sign(payload()), *jwks), Status::Ok);
    EXPECT_EQ(verifyToken(other.sign(payload()), *jwks), Status::JwtVerificationFail);
    // Any change to the signed part breaks the signature.
    std::string token = key.sign(payload());
    std::string forged = key.sign(pwx_test::claims("https://issuer.example", "mallory", "api"));
    const std::string tampered =
        forged.substr(0, forged.rfind('.')) + token.substr(token.rfind('.'));
    EXPECT_EQ(verifyToken(tampered, *jwks), Status::JwtVerificationFail);
  }
}

TEST(JwtAuthnTest, TheAlgorithmComesFromTheKeyNotTheToken) {
  JwtKey rsa("RS256", "k1");
  auto jwks = keysOf(rsa.jwks());
  // alg: none, with or without a signature.
  EXPECT_EQ(verifyToken(pwx_test::base64Url("{\"alg\":\"none\"}") + "." +
                            pwx_test::base64Url(payload()) + ".",
                        *jwks),
            Status::JwtHeaderBadAlg);
  // RS/HS confusion: an HMAC keyed with the RSA key's public JWK is not accepted by an RSA key.
  JwtKey hmac("HS256", "k1");
  EXPECT_EQ(verifyToken(hmac.sign(payload()), *jwks), Status::JwksKidAlgMismatch);
  // A JWK that names its alg verifies only that one (PS256 with an RS256 key).
  JwtKey ps("PS256", "k1");
  std::string jwk = ps.jwk();
  jwk.replace(jwk.find("PS256"), 5, "RS256");
  EXPECT_EQ(verifyToken(ps.sign(payload()), *keysOf("{\"keys\":[" + jwk + "]}")),
            Status::JwksKidAlgMismatch);
  // ES384 token against a P-256 key.
  JwtKey es256("ES256", "k1"), es384("ES384", "k1");
  EXPECT_EQ(verifyToken(es384.sign(payload()), *keysOf(es256.jwks())), Status::JwksKidAlgMismatch);
}

TEST(JwtAuthnTest, KidSelectsTheKeyWhenBothHaveOne) {
  JwtKey a("ES256", "a"), b("ES256", "b");
  const std::string both = "{\"keys\":[" + a.jwk() + "," + b.jwk() + "]}";
  auto jwks = keysOf(both);
  EXPECT_EQ(verifyToken(a.sign(payload()), *jwks), Status::Ok);
  EXPECT_EQ(verifyToken(b.sign(payload()), *jwks), Status::Ok);
  JwtKey c("ES256", "c");
  EXPECT_EQ(verifyToken(c.sign(payload()), *jwks), Status::JwksKidAlgMismatch);
  EXPECT_TRUE(jwks->hasKid("a"));
  EXPECT_FALSE(jwks->hasKid("c"));
}

TEST(JwtAuthnTest, EcdsaSignaturesMustBeRawRAndSWithNeitherZero) {
  JwtKey key("ES256", "k");
  auto jwks = keysOf(key.jwks());
  const std::string token = key.sign(payload());
  const std::string head = token.substr(0, token.rfind('.') + 1);
  std::string sig = *base64UrlDecode(token.substr(token.rfind('.') + 1));
  ASSERT_EQ(sig.size(), 64u);
  std::string zero_r = std::string(32, '\0') + sig.substr(32);
  EXPECT_EQ(verifyToken(head + base64UrlEncode(zero_r), *jwks), Status::JwtVerificationFail);
  EXPECT_EQ(verifyToken(head + base64UrlEncode(sig + "x"), *jwks), Status::JwtVerificationFail);
}

TEST(JwtAuthnTest, UnusableKeysAreDroppedWithAReason) {
  JwtKey rsa("RS256", "r");
  std::string jwk = rsa.jwk();
  const size_t e = jwk.find("\"e\":\"");
  std::string weak = jwk.substr(0, e) + "\"e\":\"EQ\"}";  // e = 17
  std::string enc = rsa.jwk();
  enc.replace(enc.find("\"use\":\"sig\""), 11, "\"use\":\"enc\"");
  std::string error;
  std::vector<std::string> skipped;
  auto jwks = Jwks::parse("{\"keys\":[" + weak + "," + enc +
                              ",{\"kty\":\"EC\",\"crv\":\"P-256\","
                              "\"x\":\"AAAA\",\"y\":\"AAAA\"}]}",
                          &error, &skipped);
  ASSERT_TRUE(jwks);
  EXPECT_TRUE(jwks->keys().empty());
  ASSERT_EQ(skipped.size(), 3u);
  EXPECT_NE(skipped[0].find("exponent"), std::string::npos) << skipped[0];
  EXPECT_NE(skipped[1].find("use"), std::string::npos) << skipped[1];
  EXPECT_FALSE(Jwks::parse("[1,2]", &error));
  EXPECT_FALSE(Jwks::parse("not json", &error));
}

TEST(JwtAuthnTest, TimeAndAudienceChecks) {
  Jwt jwt;
  const int64_t now = 1'800'000'000;
  jwt.exp = now - 30;  // expired 30 s ago: within the default skew
  EXPECT_EQ(checkTime(jwt, now, 60, false), Status::Ok);
  EXPECT_EQ(checkTime(jwt, now, 10, false), Status::JwtExpired);
  jwt.exp = now + 3600;
  jwt.nbf = now + 120;
  EXPECT_EQ(checkTime(jwt, now, 60, false), Status::JwtNotYetValid);
  jwt.nbf.reset();
  jwt.exp.reset();
  EXPECT_EQ(checkTime(jwt, now, 60, false), Status::Ok);
  EXPECT_EQ(checkTime(jwt, now, 60, true), Status::JwtMissingExpiration);

  jwt.audiences = {"https://api.example.com/"};
  EXPECT_TRUE(audienceAllowed(jwt, {}));
  EXPECT_TRUE(audienceAllowed(jwt, {"api.example.com"}));
  EXPECT_TRUE(audienceAllowed(jwt, {"other", "http://api.example.com"}));
  EXPECT_FALSE(audienceAllowed(jwt, {"api.example.org"}));
  jwt.audiences.clear();
  EXPECT_FALSE(audienceAllowed(jwt, {"api.example.com"}));
}

TEST(JwtAuthnTest, MalformedTokensAreNamed) {
  Jwt jwt;
  EXPECT_EQ(parseJwt("abc", &jwt), Status::JwtBadFormat);
  EXPECT_EQ(parseJwt("a.b.c.d", &jwt), Status::JwtBadFormat);
  EXPECT_EQ(parseJwt("!!.e30.", &jwt), Status::JwtHeaderParseError);
  const std::string h = pwx_test::base64Url("{\"alg\":\"RS256\"}");
  EXPECT_EQ(parseJwt(h + "." + pwx_test::base64Url("[1]") + ".", &jwt),
            Status::JwtPayloadParseError);
  EXPECT_EQ(parseJwt(h + "." + pwx_test::base64Url("{\"exp\":\"soon\"}") + ".", &jwt),
            Status::JwtPayloadParseError);
  EXPECT_EQ(parseJwt(h + "." + pwx_test::base64Url("{}") + ".***", &jwt),
            Status::JwtSignatureParseError);
  EXPECT_EQ(base64UrlDecode("QQ"), "A");
  EXPECT_FALSE(base64UrlDecode("QR"));  // non-zero padding bits: not canonical
  EXPECT_FALSE(base64UrlDecode("Q"));
  EXPECT_EQ(statusText(Status::JwtMissed), "Jwt is missing");
}

std::string configError(const std::string& yaml) {
  try {
    parseJwtAuthn(YAML::Load(yaml), "jwt", ".");
  } catch (const config_yaml::ConfigError& e) {
    return e.message;
  }
  return "";
}

TEST(JwtAuthnTest, ConfigErrorsNameTheField) {
  JwtKey key("ES256", "k");
  const std::string local = "local_jwks: {inline_string: '" + key.jwks() + "'}";
  EXPECT_EQ(configError("{providers: {p: {" + local + "}}}"), "");
  EXPECT_EQ(configError("{providers: {p: {" + local +
                        "}}, rules: [{match: {prefix: /}, requires: {provider_name: q}}]}"),
            "jwt.rules[0].requires.provider_name: no provider 'q'");
  EXPECT_EQ(configError("{providers: {p: {issuer: x}}}"),
            "jwt.providers.p: one of local_jwks or remote_jwks is required");
  EXPECT_EQ(configError("{providers: {p: {local_jwks: {inline_string: '{}'}}}}"),
            "jwt.providers.p.local_jwks: not a JWKS: neither a JWKS ({\"keys\": [...]}) nor a JWK");
  EXPECT_EQ(configError("{providers: {p: {" + local + ", from_cookies: [a]}}}"),
            "jwt.providers.p.from_cookies: not supported by wasm-proxy's jwt_authn");
  EXPECT_EQ(configError("{providers: {p: {" + local + ", claim_to_headers: [{header_name: x}]}}}"),
            "jwt.providers.p.claim_to_headers[0]: header_name and claim_name are required");
  EXPECT_EQ(configError("{providers: {p: {remote_jwks: {http_uri: {uri: 'http://idp/keys', "
                        "cluster: idp}, async_fetch: {}}}}}"),
            "jwt.providers.p.remote_jwks.async_fetch: not supported (keys are fetched on first "
            "use)");
  EXPECT_EQ(
      configError("{providers: {p: {" + local + "}}, rules: [{match: {safe_regex: {regex: x}}}]}"),
      "jwt.rules[0].match: prefix or path is required (safe_regex is not supported)");
  EXPECT_EQ(
      configError("{providers: {p: {" + local + ", audience: [a]}}}"),
      "jwt.providers.p.audience: unsupported field (wasm-proxy runs a subset of Envoy's API)");
}

TEST(JwtAuthnTest, FirstMatchingRuleWins) {
  JwtKey key("ES256", "k");
  auto c = parseJwtAuthn(
      YAML::Load("{providers: {p: {local_jwks: {inline_string: '" + key.jwks() +
                 "'}}}, rules: [{match: {path: /health}}, {match: {prefix: /api}, requires: "
                 "{provider_name: p}}]}"),
      "jwt", ".");
  EXPECT_FALSE(c->ruleFor("/health?x=1")->requirement);
  EXPECT_TRUE(c->ruleFor("/api/v1")->requirement);
  EXPECT_EQ(c->ruleFor("/other"), nullptr);
}

}  // namespace
}  // namespace wasm_proxy::jwt_authn

namespace wasm_proxy::jwt_authn {
namespace {

TEST(JwtAuthnTest, TheVerifiedTokenCacheKeepsTheMostRecentlyUsed) {
  JwtCache cache(2, 16);
  auto jwt = std::make_shared<const Jwt>();
  cache.insert("a", jwt);
  cache.insert("b", jwt);
  EXPECT_EQ(cache.find("a"), jwt);  // a is now the most recent
  cache.insert("c", jwt);           // evicts b
  EXPECT_EQ(cache.find("b"), nullptr);
  EXPECT_EQ(cache.find("a"), jwt);
  EXPECT_EQ(cache.find("c"), jwt);
  cache.insert(std::string(17, 't'), jwt);  // over jwt_max_token_size: not kept
  EXPECT_EQ(cache.find(std::string(17, 't')), nullptr);
  JwtCache off(0, 4096);
  off.insert("a", jwt);
  EXPECT_EQ(off.find("a"), nullptr);
}

}  // namespace
}  // namespace wasm_proxy::jwt_authn
