// basic_auth in the harness, on every engine: upstream's unit cases, the fixed upstream bugs,
// the new features and the security properties.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <random>

#include "engine_test.h"

namespace {

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;

// Upstream's unit-test configuration (plugin_test.cc).
const char* kUpstreamConfig = R"({
  "basic_auth_rules": [
    {"prefix": "/api", "request_methods": ["GET", "POST"],
     "credentials": ["ok:test", "admin:admin", "admin2:admin2", "YWRtaW4zOmFkbWluMw=="]},
    {"exact": "/api", "request_methods": ["GET", "POST"],
     "credentials": ["ok:test", "admin:admin", "admin2:admin2", "YWRtaW4zOmFkbWluMw=="]}
  ]})";

std::string basic(std::string_view user_pass) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < user_pass.size(); i += 3) {
    uint32_t v = (uint8_t(user_pass[i]) << 16) | (uint8_t(user_pass[i + 1]) << 8) |
                 uint8_t(user_pass[i + 2]);
    for (int s : {18, 12, 6, 0}) out += a[(v >> s) & 63];
  }
  if (i < user_pass.size()) {
    uint32_t v = uint8_t(user_pass[i]) << 16;
    if (i + 1 < user_pass.size()) v |= uint8_t(user_pass[i + 1]) << 8;
    out += a[(v >> 18) & 63];
    out += a[(v >> 12) & 63];
    out += i + 1 < user_pass.size() ? a[(v >> 6) & 63] : '=';
    out += '=';
  }
  return "Basic " + out;
}

class BasicAuth : public EngineTest {
 protected:
  // A bcrypt at cost 4 takes ~0.2 s in the interpreter, close to the default 250 ms deadline:
  // options() gives the interpreter more.
  std::unique_ptr<PluginHarness> load(const std::string& config,
                                      std::vector<std::pair<std::string, std::string>> env = {},
                                      std::string* error_out = nullptr) {
    HarnessOptions o = options("basic_auth", config);
    o.vm.environment = std::move(env);
    auto h = EngineTest::load("basic_auth", std::move(o));
    if (error_out != nullptr) *error_out = error_;
    return h;
  }
  // Sends a request; returns the local reply status, or 0 when it continued.
  uint32_t send(PluginHarness& h, const std::string& method, const std::string& path,
                std::optional<std::string> authorization = std::nullopt,
                const std::string& authority = "") {
    Headers headers = {{":method", method}, {":path", path}, {":authority", authority}};
    if (authorization) headers.emplace_back("authorization", *authorization);
    last_ = h.newStream();
    auto status = last_->sendRequestHeaders(headers);
    if (last_->local_reply) return last_->local_reply->status;
    EXPECT_EQ(status, FilterHeadersStatus::Continue);
    return 0;
  }
  std::string configError(const std::string& config) {
    std::string error;
    EXPECT_FALSE(load(config, {}, &error));
    return error;
  }
  std::unique_ptr<FakeStream> last_;
};

// ---- upstream unit cases (§2.6) ----

TEST_P(BasicAuth, UpstreamOnConfigure) {
  EXPECT_TRUE(load(kUpstreamConfig));
  EXPECT_TRUE(load("{}"));
  EXPECT_TRUE(load(""));
  EXPECT_FALSE(load(R"({"basic_auth_rules":[{"request_methods":["GET"],"credentials":["a:b"]}]})"));
  EXPECT_FALSE(load(
      R"({"basic_auth_rules":[{"prefix":"/a","exact":"/a","request_methods":["GET"],"credentials":["a:b"]}]})"));
  EXPECT_FALSE(
      load(R"({"basic_auth_rules":[{"prefix":"/a","request_methods":[],"credentials":["a:b"]}]})"));
  EXPECT_FALSE(load(
      R"({"basic_auth_rules":[{"prefix":"/a","request_methods":"GET","credentials":["a:b"]}]})"));
  EXPECT_FALSE(
      load(R"({"basic_auth_rules":[{"prefix":"/a","request_methods":["GET"],"credentials":[]}]})"));
}

TEST_P(BasicAuth, UpstreamPrefixAllowAndDeny) {
  auto h = load(R"({"basic_auth_rules":[{"prefix":"/api","request_methods":["GET","POST"],
      "credentials":["ok:test","admin:admin","admin2:admin2","YWRtaW4zOmFkbWluMw=="]}]})");
  ASSERT_TRUE(h);
  EXPECT_EQ(send(*h, "GET", "/api/test", basic("ok:test")), 0u);
  EXPECT_EQ(send(*h, "POST", "/api/config", basic("admin2:admin2")), 0u);
  EXPECT_EQ(send(*h, "POST", "/api/config", basic("admin3:admin3")), 0u);
  EXPECT_EQ(send(*h, "PUT", "/api/config"), 0u) << "method not configured";
  EXPECT_EQ(send(*h, "PUT", "/config"), 0u);
  EXPECT_EQ(send(*h, "GET", "/api/test", basic("wrong-cred")), 401u);
  EXPECT_EQ(last_->local_reply->headers, (Headers{{"WWW-Authenticate", "Basic realm=istio"}}));
  EXPECT_EQ(last_->local_reply->body, "");
  EXPECT_EQ(send(*h, "POST", "/api/config", "YWRtaW4yOmFkbWluMg=="), 401u) << "no Basic scheme";
  EXPECT_EQ(last_->local_reply->details,
            "Request_denied_by_Basic_Auth_check._No_Basic_Authentication_information_found.");
}

TEST_P(BasicAuth, UpstreamExactAndSuffix) {
  auto exact = load(
      R"({"basic_auth_rules":[{"exact":"/api","request_methods":["GET","POST"],"credentials":["ok:test"]}]})");
  EXPECT_EQ(send(*exact, "GET", "/api", basic("ok:test")), 0u);
  EXPECT_EQ(send(*exact, "something", "/api/config"), 0u);
  EXPECT_EQ(send(*exact, "GET", "/api", basic("ok:wrong")), 401u);
  EXPECT_EQ(send(*exact, "POST", "/api", "b2s6dGVzdA=="), 401u);
  EXPECT_EQ(send(*exact, "GET", "/api?x=1"), 0u) << "exact compares the raw :path";
  auto suffix = load(
      R"({"basic_auth_rules":[{"suffix":"/api","request_methods":["GET","POST"],"credentials":["ok:test"]}]})");
  EXPECT_EQ(send(*suffix, "GET", "/test/api", basic("ok:test")), 0u);
  EXPECT_EQ(send(*suffix, "something", "/test/api"), 0u);
  EXPECT_EQ(send(*suffix, "GET", "/test/api", basic("ok:wrong")), 401u);
  EXPECT_EQ(send(*suffix, "POST", "/test/api"), 401u);
}

TEST_P(BasicAuth, HostsWithWildcardsAndPortStripping) {
  auto h =
      load(R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["a:b"],
      "hosts":["bookinfo.com","*.suffix.com","host.prefix.*"]}]})");
  EXPECT_EQ(send(*h, "GET", "/", std::nullopt, "bookinfo.com:8080"), 401u);
  EXPECT_EQ(send(*h, "GET", "/", std::nullopt, "a.suffix.com"), 401u);
  EXPECT_EQ(send(*h, "GET", "/", std::nullopt, "host.prefix.org:443"), 401u);
  EXPECT_EQ(send(*h, "GET", "/", std::nullopt, "other.com"), 0u);
  auto v6 = load(
      R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["a:b"],"hosts":["[::1]"]}]})");
  EXPECT_EQ(send(*v6, "GET", "/", std::nullopt, "[::1]:80"), 401u);
  EXPECT_EQ(send(*v6, "GET", "/", std::nullopt, "[::1]"), 401u);
}

TEST_P(BasicAuth, RealmIsQuotedOnlyWhenNotAToken) {
  auto token = load(
      R"({"realm":"test","basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["a:b"]}]})");
  send(*token, "GET", "/");
  EXPECT_EQ(last_->local_reply->headers[0].second, "Basic realm=test");
  auto spaced = load(
      R"({"realm":"my \"app\"","basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["a:b"]}]})");
  send(*spaced, "GET", "/");
  EXPECT_EQ(last_->local_reply->headers[0].second, "Basic realm=\"my \\\"app\\\"\"");
}

// ---- upstream bugs fixed on purpose ----

// The configuration's fields and the pure check are tested natively (config_test.cc); here,
// that a refused configuration fails the load with its path.
TEST_P(BasicAuth, ARefusedConfigurationFailsTheLoadNamingTheField) {
  std::string e = configError(
      R"({"basic_auth_rules":[{"prefix":"","request_methods":["GET"],"credentials":["a:b"]}]})");
  EXPECT_NE(e.find("basic_auth_rules[0].prefix: must not be empty"), std::string::npos) << e;
}

TEST_P(BasicAuth, ReconfigurationReplacesRules) {
  auto h = load(
      R"({"basic_auth_rules":[{"prefix":"/old","request_methods":["GET"],"credentials":["a:b"]}]})");
  EXPECT_EQ(send(*h, "GET", "/old"), 401u);
  // A second plugin configuration on the same VM: a new root context, as Envoy reconfigures.
  auto plugin = std::make_shared<PluginConfig>();
  plugin->name = "basic_auth";
  plugin->configuration =
      R"({"basic_auth_rules":[{"prefix":"/new","request_methods":["GET"],"credentials":["a:b"]}]})";
  std::string error;
  auto root = h->vm().startPlugin(plugin, &error);
  ASSERT_TRUE(root) << error;
  FakeStream s(*h, h->vmPtr(), *root);
  s.sendRequestHeaders({{":method", "GET"}, {":path", "/old"}});
  EXPECT_FALSE(s.local_reply) << "the new configuration does not carry the old rules";
  FakeStream s2(*h, h->vmPtr(), *root);
  s2.sendRequestHeaders({{":method", "GET"}, {":path", "/new"}});
  ASSERT_TRUE(s2.local_reply);
  EXPECT_EQ(s2.local_reply->status, 401u);
}

TEST_P(BasicAuth, SchemeIsCaseInsensitiveAndPaddingIsIrrelevant) {
  auto h = load(
      R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["YWRtaW4zOmFkbWluMw"]}]})");
  ASSERT_TRUE(h);
  EXPECT_EQ(send(*h, "GET", "/", "basic YWRtaW4zOmFkbWluMw=="), 0u);
  EXPECT_EQ(send(*h, "GET", "/", "BASIC YWRtaW4zOmFkbWluMw=="), 0u);
}

// ---- beyond upstream ----

const char* kConsumers = R"({
  "consumers": [
    {"name": "alice", "credentials": ["alice:wonderland"]},
    {"name": "bob", "credentials": ["env:BOB_CREDENTIALS"]}
  ],
  "forward_username_header": "x-authenticated-user",
  "strip_authorization": true,
  "basic_auth_rules": [
    {"prefix": "/admin", "request_methods": ["GET"], "allow": ["alice"]},
    {"prefix": "/team", "request_methods": ["GET"], "allow": ["alice", "bob"]}
  ]})";

TEST_P(BasicAuth, ConsumersAllowListsAnd403) {
  auto h = load(kConsumers, {{"BOB_CREDENTIALS", "bob:builder"}});
  ASSERT_TRUE(h);
  EXPECT_EQ(send(*h, "GET", "/admin", basic("alice:wonderland")), 0u);
  EXPECT_EQ(last_->request_headers.get("x-authenticated-user"), "alice");
  EXPECT_FALSE(last_->request_headers.get("authorization")) << "stripped before the upstream";
  EXPECT_EQ(send(*h, "GET", "/admin", basic("bob:builder")), 403u) << "valid user, not allowed";
  EXPECT_EQ(send(*h, "GET", "/admin", basic("bob:wrong")), 401u);
  EXPECT_EQ(send(*h, "GET", "/admin"), 401u);
  EXPECT_EQ(send(*h, "GET", "/team", basic("bob:builder")), 0u) << "credentials from the VM env";
  EXPECT_EQ(last_->request_headers.get("x-authenticated-user"), "bob");
}

TEST_P(BasicAuth, MissingEnvironmentVariableIsAConfigError) {
  EXPECT_FALSE(load(kConsumers));
}

TEST_P(BasicAuth, CountersAllowedAndDenied) {
  auto before_ok = PluginHarness::metric("basic_auth.allowed").value_or(0);
  auto before_no = PluginHarness::metric("basic_auth.denied").value_or(0);
  auto h = load(kConsumers, {{"BOB_CREDENTIALS", "bob:builder"}});
  send(*h, "GET", "/admin", basic("alice:wonderland"));
  send(*h, "GET", "/admin", basic("bob:builder"));
  send(*h, "GET", "/admin");
  EXPECT_EQ(PluginHarness::metric("basic_auth.allowed"), before_ok + 1);
  EXPECT_EQ(PluginHarness::metric("basic_auth.denied"), before_no + 2);
}

// ---- hashed credentials (htpasswd formats) ----

// Generated once with apache2-utils' htpasswd: -s ({SHA}), -m ($apr1$), -B -C 4 (bcrypt).
const char* kHashed = R"({
  "consumers": [
    {"name": "alice", "credentials": ["alice:$2y$04$FotA8HPTKu6L21YmzEYHzu7in8PB.RpeUjqFp5HXNQxoT4MgVKcBy"]},
    {"name": "alice-2b", "credentials": ["alice2b:$2b$04$FotA8HPTKu6L21YmzEYHzu7in8PB.RpeUjqFp5HXNQxoT4MgVKcBy"]},
    {"name": "alice-2a", "credentials": ["alice2a:$2a$04$FotA8HPTKu6L21YmzEYHzu7in8PB.RpeUjqFp5HXNQxoT4MgVKcBy"]},
    {"name": "bob", "credentials": ["bob:$apr1$rxRAwFjr$t./MWUfOAQqMm4LiS/RGu1"]},
    {"name": "carol", "credentials": ["carol:{SHA}XyRLaTIb/WCdo8CuWc58gPVHl68="]},
    {"name": "dave", "credentials": ["dave:plain-text"]}
  ],
  "forward_username_header": "x-user",
  "basic_auth_rules": [
    {"prefix": "/", "request_methods": ["GET"],
     "allow": ["alice", "alice-2b", "alice-2a", "bob", "carol", "dave"]}
  ]})";

TEST_P(BasicAuth, HtpasswdHashesOfEveryFormat) {
  auto h = load(kHashed);
  ASSERT_TRUE(h);
  // bcrypt $2y$, and the same hash under the $2b$ and $2a$ prefixes (identical for ASCII).
  for (std::string user : {"alice", "alice2b", "alice2a"}) {
    EXPECT_EQ(send(*h, "GET", "/", basic(user + ":open sesame")), 0u) << user;
    EXPECT_EQ(last_->request_headers.get("x-user"), user);
    EXPECT_EQ(send(*h, "GET", "/", basic(user + ":open sesamE")), 401u) << user;
  }
  EXPECT_EQ(send(*h, "GET", "/", basic("bob:secret")), 0u);
  EXPECT_EQ(send(*h, "GET", "/", basic("bob:secreT")), 401u);
  EXPECT_EQ(send(*h, "GET", "/", basic("carol:pa:ss")), 0u) << "passwords may contain ':'";
  EXPECT_EQ(send(*h, "GET", "/", basic("carol:pa:sS")), 401u);
  EXPECT_EQ(send(*h, "GET", "/", basic("dave:plain-text")), 0u);
  EXPECT_EQ(send(*h, "GET", "/", basic("alice:secret")), 401u) << "bob's password, alice's hash";
  EXPECT_EQ(send(*h, "GET", "/", basic("nobody:open sesame")), 401u);
}

TEST_P(BasicAuth, AClientCannotForwardItsOwnUserName) {
  auto h = load(kHashed);
  ASSERT_TRUE(h);
  auto sendAs = [&](const std::string& method, std::optional<std::string> authorization) {
    Headers headers = {
        {":method", method}, {":path", "/"}, {":authority", ""}, {"X-User", "alice"}};
    if (authorization) headers.emplace_back("authorization", *authorization);
    last_ = h->newStream();
    last_->sendRequestHeaders(headers);
    return last_->local_reply ? last_->local_reply->status : 0u;
  };
  // No rule applies to POST: the request goes on, without the client's claim.
  EXPECT_EQ(sendAs("POST", std::nullopt), 0u);
  EXPECT_FALSE(last_->request_headers.get("x-user")) << "removed when nobody was authenticated";
  // Authenticated as bob: the header names bob, whatever the client said.
  EXPECT_EQ(sendAs("GET", basic("bob:secret")), 0u);
  EXPECT_EQ(last_->request_headers.get("x-user"), "bob");
  // Rules are case-sensitive about methods (RFC 9110): "get" is not "GET" and is not checked
  // here; wasm-proxy refuses lower-case standard methods with 400 before any plugin runs.
  EXPECT_EQ(sendAs("get", std::nullopt), 0u);
  EXPECT_FALSE(last_->request_headers.get("x-user"));
}

// Envoy's authentication_header: credentials from another header (here Proxy-Authorization, which
// Kong reads too); Authorization is then ignored, and strip_authorization removes that header.
TEST_P(BasicAuth, CredentialsFromAnotherHeader) {
  auto h = load(R"({"authentication_header": "Proxy-Authorization", "strip_authorization": true,
                    "basic_auth_rules": [{"prefix": "/", "request_methods": ["GET"],
                                          "credentials": ["alice:pw"]}]})");
  ASSERT_TRUE(h);
  auto sendWith = [&](Headers extra) {
    Headers headers = {{":method", "GET"}, {":path", "/"}, {":authority", ""}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    last_ = h->newStream();
    last_->sendRequestHeaders(headers);
    return last_->local_reply ? last_->local_reply->status : 0u;
  };
  EXPECT_EQ(sendWith({{"proxy-authorization", basic("alice:pw")}}), 0u);
  EXPECT_FALSE(last_->request_headers.get("proxy-authorization")) << "stripped";
  EXPECT_EQ(sendWith({{"authorization", basic("alice:pw")}}), 401u) << "not where it is read";
  EXPECT_EQ(sendWith({{"proxy-authorization", basic("alice:no")}}), 401u);
  EXPECT_NE(configError(R"({"authentication_header": ""})")
                .find("authentication_header: expected a header name"),
            std::string::npos);
}

// Kong's anonymous consumer: no or wrong credentials continue as the named consumer, marked with
// X-Anonymous-Consumer: true (a client's own copy never passes); a consumer outside an allow list
// is still refused (403).
TEST_P(BasicAuth, AnonymousConsumerInsteadOf401) {
  const auto anonymous = [] { return PluginHarness::metric("basic_auth.anonymous").value_or(0); };
  auto h = load(R"({"anonymous": "guest", "forward_username_header": "x-user",
                    "consumers": [{"name": "alice", "credentials": ["alice:pw"]},
                                  {"name": "bob", "credentials": ["bob:pw"]}],
                    "basic_auth_rules": [{"prefix": "/", "request_methods": ["GET"],
                                          "allow": ["alice"]}]})");
  ASSERT_TRUE(h);
  const auto before = anonymous();
  EXPECT_EQ(send(*h, "GET", "/"), 0u);
  EXPECT_EQ(last_->request_headers.get("x-user"), "guest");
  EXPECT_EQ(last_->request_headers.get("x-anonymous-consumer"), "true");
  EXPECT_EQ(send(*h, "GET", "/", basic("alice:wrong")), 0u);
  EXPECT_EQ(last_->request_headers.get("x-user"), "guest");
  EXPECT_EQ(send(*h, "GET", "/", basic("alice:pw")), 0u);
  EXPECT_EQ(last_->request_headers.get("x-user"), "alice");
  EXPECT_FALSE(last_->request_headers.get("x-anonymous-consumer"));
  EXPECT_EQ(send(*h, "GET", "/", basic("bob:pw")), 403u) << "authenticated, not allowed";
  EXPECT_EQ(anonymous(), before + 2);
  last_ = h->newStream();
  last_->sendRequestHeaders({{":method", "GET"},
                             {":path", "/"},
                             {":authority", ""},
                             {"authorization", basic("alice:pw")},
                             {"x-anonymous-consumer", "true"}});
  EXPECT_FALSE(last_->request_headers.get("x-anonymous-consumer")) << "the client's copy removed";
}

TEST_P(BasicAuth, WithoutRulesTheForwardedUserIsStillRemoved) {
  auto h = load(R"({"forward_username_header": "x-user", "basic_auth_rules": []})");
  if (!h) GTEST_SKIP() << "an empty rule list is refused";
  auto s = h->newStream();
  s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}, {"x-user", "mallory"}});
  EXPECT_FALSE(s->request_headers.get("x-user"));
}

// Runs `command` and returns its first line of output, without the newline.
std::string firstLine(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    std::array<char, 512> buf{};
    if (fgets(buf.data(), buf.size(), p) != nullptr) out = buf.data();
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

TEST_P(BasicAuth, HashesFromHtpasswdAndOpensslVerify) {
  // Fresh hashes of random passwords from two other implementations, every run.
  std::mt19937 rng(std::random_device{}());
  auto password = [&] {
    std::string p;
    for (int i = 0; i < 12; ++i) p += static_cast<char>('a' + rng() % 26);
    return p;
  };
  std::vector<std::pair<std::string, std::string>> users;  // user:hash line, password
  for (const char* flags : {"-nbs", "-nbm", "-nbB -C 4"}) {
    std::string user = "u" + std::to_string(users.size()), pw = password();
    std::string line = firstLine(std::string("htpasswd ") + flags + " " + user + " " + pw);
    ASSERT_EQ(line.rfind(user + ":", 0), 0u) << "htpasswd (apache2-utils) missing? " << line;
    users.emplace_back(line, pw);
  }
  std::string pw = password();
  std::string apr1 = firstLine("openssl passwd -apr1 " + pw);
  ASSERT_EQ(apr1.rfind("$apr1$", 0), 0u) << apr1;
  users.emplace_back("u3:" + apr1, pw);

  std::string config = R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],
      "credentials":[)";
  for (size_t i = 0; i < users.size(); ++i) config += (i ? ",\"" : "\"") + users[i].first + "\"";
  config += "]}]}";
  auto h = load(config);
  ASSERT_TRUE(h) << config;
  for (size_t i = 0; i < users.size(); ++i) {
    std::string user = "u" + std::to_string(i);
    EXPECT_EQ(send(*h, "GET", "/", basic(user + ":" + users[i].second)), 0u) << users[i].first;
    EXPECT_EQ(send(*h, "GET", "/", basic(user + ":" + users[i].second + "x")), 401u);
  }
}

// Microseconds of one request through the plugin.
double timeRequest(PluginHarness& h, const std::string& authorization) {
  auto s = h.newStream();
  auto start = std::chrono::steady_clock::now();
  s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}, {"authorization", authorization}});
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

double median(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

TEST_P(BasicAuth, RepeatedBcryptChecksAreCachedAndFailuresAreNot) {
  auto h = load(kHashed);
  ASSERT_TRUE(h);
  double first = timeRequest(*h, basic("alice:open sesame"));
  std::vector<double> cached, wrong;
  for (int i = 0; i < 9; ++i) {
    cached.push_back(timeRequest(*h, basic("alice:open sesame")));
    wrong.push_back(timeRequest(*h, basic("alice:open sesamE")));
  }
  std::printf("[ bcrypt  ] %s: first %.0f us, cached %.1f us, wrong password %.0f us\n",
              GetParam().c_str(), first, median(cached), median(wrong));
  // A bcrypt at cost 4 is 16 key expansions; a cache hit is one SHA-256. A wrong password is
  // never cached, so it always pays the full price.
  EXPECT_GT(first, 4 * median(cached));
  EXPECT_GT(median(wrong), 4 * median(cached));
  // The cache is keyed by the credentials, not by the user.
  EXPECT_EQ(send(*h, "GET", "/", basic("alice:open sesamE")), 401u);
}

TEST_P(BasicAuth, HashedCheckTimeDoesNotRevealUsers) {
  // Every slow credential has the same cost, so an unknown user (checked against the slowest one,
  // result ignored) costs what a known user with a wrong password costs.
  auto h = load(kHashed);
  ASSERT_TRUE(h);
  const std::vector<std::string> variants = {basic("alice:wrong-password"),
                                             basic("zelda:wrong-password")};
  std::vector<std::vector<double>> samples(variants.size());
  const int rounds = GetParam() == "wabt" ? 7 : 21;  // a bcrypt is ~0.2 s in the interpreter
  for (int i = 0; i < rounds; ++i) {
    for (size_t v = 0; v < variants.size(); ++v) samples[v].push_back(timeRequest(*h, variants[v]));
  }
  // The fastest of each: other load on the machine only ever adds time, and it comes in bursts
  // that a median over a few dozen milliseconds does not average out.
  double known = *std::min_element(samples[0].begin(), samples[0].end());
  double unknown = *std::min_element(samples[1].begin(), samples[1].end());
  EXPECT_LT(std::abs(unknown - known) / known, 0.25) << "known " << known << " unknown " << unknown;
}

// ---- regex paths ----

TEST_P(BasicAuth, RegexMatchesTheWholePathWithoutTheQuery) {
  auto h = load(R"({"basic_auth_rules":[{"regex":"/api/v[0-9]+/(users|groups)(/.*)?",
      "request_methods":["GET"],"credentials":["a:b"]}]})");
  ASSERT_TRUE(h);
  EXPECT_EQ(send(*h, "GET", "/api/v1/users"), 401u);
  EXPECT_EQ(send(*h, "GET", "/api/v12/groups/7?verbose=1"), 401u) << "the query is not matched";
  EXPECT_EQ(send(*h, "GET", "/api/v1/users", basic("a:b")), 0u);
  EXPECT_EQ(send(*h, "GET", "/api/v1/usersX"), 0u) << "anchored at the end";
  EXPECT_EQ(send(*h, "GET", "/x/api/v1/users"), 0u) << "anchored at the start";
  EXPECT_EQ(send(*h, "GET", "/api/vX/users"), 0u);
}

TEST_P(BasicAuth, PathologicalRegexHitsItsLimitsAndFailsClosed) {
  // Catastrophic backtracking: without limits this runs for ages (and the VM's CPU deadline
  // would kill it). PCRE2's match limit stops it; the rule then applies.
  // "/(a|aa)*" against "/aaa…a!" tries every split of the a's into ones and twos (fib(60)).
  auto h = load(R"({"basic_auth_rules":[{"regex":"/(a|aa)*",
      "request_methods":["GET"],"credentials":["a:b"]}]})");
  ASSERT_TRUE(h);
  const std::string evil = "/" + std::string(60, 'a') + "!";
  EXPECT_EQ(send(*h, "GET", evil), 401u);
  EXPECT_EQ(send(*h, "GET", evil, basic("a:b")), 0u);
  EXPECT_EQ(send(*h, "GET", "/aaaa"), 401u);
  EXPECT_EQ(send(*h, "GET", "/other"), 0u);
}

// ---- security ----

TEST_P(BasicAuth, OversizedAndInvalidAuthorizationGet401) {
  auto h = load(kUpstreamConfig);
  EXPECT_EQ(send(*h, "GET", "/api", "Basic " + std::string(9000, 'A')), 401u);
  EXPECT_EQ(last_->local_reply->details,
            "Request_denied_by_Basic_Auth_check._Invalid_username_and/or_password");
  EXPECT_EQ(send(*h, "GET", "/api", "Basic !!!not-base64!!!"), 401u);
  EXPECT_EQ(send(*h, "GET", "/api", "Basic"), 401u);
}

TEST_P(BasicAuth, CheckTimeDoesNotRevealUsersOrPasswordPrefixes) {
  // 200 consumers; compare known-user-wrong-password, unknown-user, and right-prefix requests.
  std::string consumers = R"({"consumers":[)";
  for (int i = 0; i < 200; ++i) {
    consumers += std::string(i ? "," : "") + R"({"name":"u)" + std::to_string(i) +
                 R"(","credentials":["user)" + std::to_string(i) + R"(:secret-password-)" +
                 std::to_string(i) + R"("]})";
  }
  consumers += R"(],"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"allow":["u0"]}]})";
  auto h = load(consumers);
  ASSERT_TRUE(h);
  // Same lengths, so only contents differ. The variants are measured interleaved, so that any
  // background load falls on all of them alike.
  const std::vector<std::string> variants = {
      basic("user7:secret-password-X"),   // known user, wrong password
      basic("userX:secret-password-X"),   // unknown user
      basic("user7:secret-password-7"),   // right password, user not allowed
      basic("user7:Xecret-password-7")};  // known user, password wrong from the first byte
  std::vector<std::vector<double>> samples(variants.size());
  for (int i = 0; i < 61; ++i) {
    for (size_t v = 0; v < variants.size(); ++v) {
      auto s = h->newStream();
      auto start = std::chrono::steady_clock::now();
      s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}, {"authorization", variants[v]}});
      samples[v].push_back(
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count());
    }
  }
  // Each variant against the known user's request of the same round (measured next to it, so
  // the machine's load, which moves within milliseconds, falls on both alike): the median of
  // those ratios within 25% of 1, so no early exit on users or password prefixes.
  for (size_t v = 1; v < variants.size(); ++v) {
    std::vector<double> ratios;
    for (size_t i = 0; i < samples[v].size(); ++i) ratios.push_back(samples[v][i] / samples[0][i]);
    std::sort(ratios.begin(), ratios.end());
    const double ratio = ratios[ratios.size() / 2];
    EXPECT_LT(std::abs(ratio - 1), 0.25) << "variant " << v << " takes " << ratio
                                         << " times as long as a known user's wrong password";
  }
}

PWX_INSTANTIATE_ON_ALL_ENGINES(BasicAuth);

}  // namespace
