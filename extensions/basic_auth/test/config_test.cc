// basic_auth's configuration and its pure check, natively under ASan and UBSan: what each field
// becomes, every refused value refused with its JSON path, and the decision for a request.
#include <gtest/gtest.h>

#include <cstdlib>

#include "check.h"
#include "config.h"
#include "proxy_wasm/sdk/base64.h"
#include "testing/config_expectations.h"

namespace basic_auth {
namespace {

using pwx::testing::expectRefused;

std::string errorOf(std::string_view json) {
  return pwx::testing::errorOf(parseConfig, json);
}

std::optional<std::string> basic(std::string_view user_pass) {
  return "Basic " + proxy_wasm::base64::encode(user_pass);
}

Config parsed(std::string_view json) {
  auto c = parseConfig(json);
  EXPECT_TRUE(c) << c.error();
  return c ? std::move(*c) : Config{};
}

TEST(BasicAuthConfig, RulesCredentialsAndOptions) {
  Config c = parsed(R"({"realm": "my realm", "forward_username_header": "x-user",
                        "strip_authorization": true, "authentication_header": "Proxy-Authorization",
                        "anonymous": "guest",
                        "basic_auth_rules": [{"prefix": "/api", "hosts": ["*.example.com"],
                                              "request_methods": ["GET", "POST"],
                                              "credentials": ["ok:test", "YWRtaW4zOmFkbWluMw=="]}]})");
  EXPECT_EQ(c.realm, "my realm");
  EXPECT_EQ(c.forward_username_header, "x-user");
  EXPECT_TRUE(c.strip_authorization);
  EXPECT_EQ(c.authentication_header, "proxy-authorization");
  EXPECT_EQ(c.anonymous, "guest");
  ASSERT_EQ(c.rules.size(), 1u);
  EXPECT_EQ(c.rules[0].match, Rule::Match::Prefix);
  EXPECT_EQ(c.rules[0].hosts, (std::vector<std::string>{"*.example.com"}));
  ASSERT_EQ(c.rules[0].credentials.size(), 2u);
  EXPECT_EQ(c.rules[0].credentials[1].user, "admin3") << "a base64 token is decoded";
  EXPECT_EQ(parsed("").rules.size(), 0u) << "an empty configuration has no rules";
}

TEST(BasicAuthConfig, CredentialsFromTheVmEnvironment) {
  ::setenv("BASIC_AUTH_CONFIG_TEST_USERS", "a:1, b:2\nc:3", 1);
  Config c = parsed(
      R"({"consumers": [{"name": "team", "credentials": ["env:BASIC_AUTH_CONFIG_TEST_USERS"]}]})");
  ASSERT_EQ(c.consumers.size(), 3u);
  EXPECT_EQ(c.consumers[2].user, "c");
  EXPECT_EQ(c.consumers[2].consumer, "team");
  EXPECT_NE(errorOf(R"({"consumers": [{"name": "t", "credentials": ["env:NOT_SET_ANYWHERE_X"]}]})")
                .find("consumers[0].credentials[0]: environment variable NOT_SET_ANYWHERE_X is not "
                      "set"),
            std::string::npos);
}

TEST(BasicAuthConfig, RefusedValuesNameTheirPath) {
  expectRefused(
      parseConfig,
      {
          {R"({"basic_auth_rules":[{"prefix":"","request_methods":["GET"],"credentials":["a:b"]}]})",
           "basic_auth_rules[0].prefix: must not be empty"},
          {R"({"basic_auth_rules":[{"prefix":"/a","request_methods":["GET"],"credentials":["a:b"]},
           {"prefix":"/b","request_methods":["GET"],"credentials":["ok:x", 7]}]})",
           "basic_auth_rules[1].credentials[1]: expected string, got number"},
          {R"({"basic_auth_rule": []})", "basic_auth_rule: unknown field"},
          {R"({"realm": 5})", "realm: expected string, got number"},
          {R"({"consumers":[{"name":"a","credentials":["a:b"]}],
           "basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"allow":["zed"]}]})",
           "basic_auth_rules[0].allow[0]: unknown consumer 'zed'"},
          {R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["u:{SHA}abc="]}]})",
           "basic_auth_rules[0].credentials[0]: a {SHA} password must be the base64 of a 20-byte "
           "SHA-1 "
           "digest"},
          {R"({"basic_auth_rules":[{"regex":"/a(b","request_methods":["GET"],"credentials":["a:b"]}]})",
           "basic_auth_rules[0].regex: invalid regex at offset 4: missing closing parenthesis"},
          {R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["bm9jb2xvbg=="]}]})",
           "credentials[0]: the base64 token does not decode to \"user:password\""},
          {R"({"basic_auth_rules":[{"prefix":"/","exact":"/","request_methods":["GET"],"credentials":["a:b"]}]})",
           "basic_auth_rules[0]: exactly one of 'prefix', 'suffix', 'exact' and 'regex' is "
           "required"},
          {R"({"basic_auth_rules":[{"prefix":"/","request_methods":[],"credentials":["a:b"]}]})",
           "basic_auth_rules[0].request_methods: at least one method is required"},
          {R"({"authentication_header": ":authority"})",
           "authentication_header: expected a header name"},
          {R"({"anonymous": ""})", "anonymous: must not be empty"},
      });
}

TEST(BasicAuthConfig, MalformedHashesAreRefused) {
  auto rule = [](std::string credential) {
    return R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],
               "credentials":["ok:ok", ")" +
           credential + R"("]}]})";
  };
  const std::string at = "basic_auth_rules[0].credentials[1]: ";
  expectRefused(
      parseConfig,
      {
          {rule("u:$2y$04$tooshort"), at + "a bcrypt password must be"},
          {rule("u:$2x$04$FotA8HPTKu6L21YmzEYHzu7in8PB.RpeUjqFp5HXNQxoT4MgVKcBy"),
           at + "a bcrypt password must be"},
          {rule("u:$2y$03$FotA8HPTKu6L21YmzEYHzu7in8PB.RpeUjqFp5HXNQxoT4MgVKcBy"),
           at + "a bcrypt password must be"},
          {rule("u:$2y$12$OOB9nb96Gtxy8ya8nwD5fOVEgj3HBcU7vi54ECFNZW5DZFTfKVkyC"),
           at + "bcrypt cost 12 is above 10, too slow to check per request"},
          {rule("u:$apr1$rxRAwFjr$t./MWUfOAQqMm4LiS"), at + "an $apr1$ password must be"},
          {rule("u:$apr1$toolongsalt$t./MWUfOAQqMm4LiS/RGu1"), at + "an $apr1$ password must be"},
          {rule("u:{SHA}Zm9v"), at + "a {SHA} password must be"},
      });
}

TEST(BasicAuthCheck, RulesByMethodHostAndPath) {
  Config c = parsed(R"({"basic_auth_rules": [
      {"prefix": "/api", "request_methods": ["GET"], "credentials": ["ok:test"]},
      {"exact": "/admin", "hosts": ["*.example.com", "intra*"], "request_methods": ["GET"],
       "credentials": ["root:pw"]},
      {"regex": "/files/[0-9]+", "request_methods": ["PUT"], "credentials": ["up:load"]}]})");
  using K = Decision::Kind;
  EXPECT_EQ(check(c, "GET", "h", "/api/x", basic("ok:test")).kind, K::Allow);
  EXPECT_EQ(check(c, "GET", "h", "/api/x", basic("ok:test")).user, "ok");
  EXPECT_EQ(check(c, "GET", "h", "/api/x", std::nullopt).kind, K::NoCredentials);
  EXPECT_EQ(check(c, "GET", "h", "/api/x", basic("ok:wrong")).kind, K::InvalidCredentials);
  EXPECT_EQ(check(c, "POST", "h", "/api/x", std::nullopt).kind, K::Allow) << "method not listed";
  EXPECT_TRUE(check(c, "POST", "h", "/api/x", std::nullopt).user.empty());
  EXPECT_EQ(check(c, "GET", "a.example.com:8080", "/admin", std::nullopt).kind, K::NoCredentials)
      << "the port is not part of the host";
  EXPECT_EQ(check(c, "GET", "intranet", "/admin", std::nullopt).kind, K::NoCredentials);
  EXPECT_EQ(check(c, "GET", "other.org", "/admin", std::nullopt).kind, K::Allow);
  EXPECT_EQ(check(c, "GET", "a.example.com", "/admin/x", std::nullopt).kind, K::Allow);
  EXPECT_EQ(check(c, "PUT", "h", "/files/12?x=1", std::nullopt).kind, K::NoCredentials)
      << "a regex matches the whole path without the query";
  EXPECT_EQ(check(c, "PUT", "h", "/files/12a", std::nullopt).kind, K::Allow);
}

TEST(BasicAuthCheck, SchemeCaseMalformedTokensAndOversizedValues) {
  Config c = parsed(R"({"basic_auth_rules": [
      {"prefix": "/", "request_methods": ["GET"], "credentials": ["ok:test"]}]})");
  using K = Decision::Kind;
  EXPECT_EQ(check(c, "GET", "h", "/", "bAsIc  b2s6dGVzdA==").kind, K::Allow);
  EXPECT_EQ(check(c, "GET", "h", "/", "Bearer b2s6dGVzdA==").kind, K::NoCredentials);
  EXPECT_EQ(check(c, "GET", "h", "/", "Basic !!!").kind, K::InvalidCredentials);
  EXPECT_EQ(check(c, "GET", "h", "/", basic("no-colon")).kind, K::InvalidCredentials);
  EXPECT_EQ(check(c, "GET", "h", "/", "Basic " + std::string(9000, 'A')).kind,
            K::InvalidCredentials);
}

TEST(BasicAuthCheck, ConsumersAllowListsAndForbidden) {
  Config c = parsed(R"({"consumers": [{"name": "alice", "credentials": ["alice:a"]},
                                      {"name": "bob", "credentials": ["bob:b"]}],
                        "basic_auth_rules": [
                          {"prefix": "/alice", "request_methods": ["GET"], "allow": ["alice"]},
                          {"prefix": "/any", "request_methods": ["GET"], "credentials": ["x:y"]}]})");
  using K = Decision::Kind;
  EXPECT_EQ(check(c, "GET", "h", "/alice", basic("alice:a")).kind, K::Allow);
  Decision bob = check(c, "GET", "h", "/alice", basic("bob:b"));
  EXPECT_EQ(bob.kind, K::Forbidden) << "a known consumer not on the allow list";
  EXPECT_EQ(bob.user, "bob");
  EXPECT_EQ(check(c, "GET", "h", "/any", basic("bob:b")).kind, K::InvalidCredentials)
      << "a rule without an allow list takes only its own credentials";
}

TEST(BasicAuthCheck, RepeatedSlowChecksAreCachedWithoutThePassword) {
  // htpasswd -bnBC 4 u secret
  Config c = parsed(R"({"basic_auth_rules": [{"prefix": "/", "request_methods": ["GET"],
      "credentials": ["u:$2y$04$FotA8HPTKu6L21YmzEYHzu7in8PB.RpeUjqFp5HXNQxoT4MgVKcBy"]}]})");
  VerifiedCache cache;
  EXPECT_TRUE(cache.keyed());
  const auto first = check(c, "GET", "h", "/", basic("u:wrong"), &cache);
  EXPECT_EQ(first.kind, Decision::Kind::InvalidCredentials);
  EXPECT_EQ(cache.size(), 0u) << "failures are not cached";
}

TEST(BasicAuthCheck, ChallengeQuotesTheRealmOnlyWhenNotAToken) {
  EXPECT_EQ(challenge("istio"), "Basic realm=istio");
  EXPECT_EQ(challenge("my \"realm\""), "Basic realm=\"my \\\"realm\\\"\"");
}

}  // namespace
}  // namespace basic_auth
