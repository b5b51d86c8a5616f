// basic_auth through a real wasm-proxy with an Envoy-style config: upstream's integration cases.
#include <gtest/gtest.h>

#include "test_support.h"

namespace {

using namespace pwx_test;

std::string config(const std::string& hosts, const std::string& realm) {
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
          stat_prefix: inbound
          route_config:
            virtual_hosts: [{ name: all, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: upstream } }] }]
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/udpa.type.v1.TypedStruct
              type_url: type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              value:
                config:
                  name: basic_auth
                  vm_config:
                    vm_id: basic_auth
                    runtime: envoy.wasm.runtime.v8
                    code: { local: { filename: "{{PLUGIN_DIR}}/basic_auth.wasm" } }
                  configuration:
                    "@type": type.googleapis.com/google.protobuf.StringValue
                    value: |
                      {"basic_auth_rules": [
                        {"prefix": "/api", "request_methods": ["GET", "POST"], )" +
         hosts + R"(
                         "credentials": ["ok:test", "admin:admin", "admin2:admin2", "YWRtaW4zOmFkbWluMw=="]},
                        {"exact": "/api", "request_methods": ["GET", "POST"], )" +
         hosts + R"(
                         "credentials": ["ok:test", "admin:admin", "admin2:admin2", "YWRtaW4zOmFkbWluMw=="]}],
                       "realm": ")" +
         realm + R"("}
          - name: envoy.filters.http.router
  clusters:
  - name: upstream
    connect_timeout: 1s
    load_assignment:
      cluster_name: upstream
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{UPSTREAM_PORT}} } } } }] }]
)";
}

struct Case {
  const char* name;
  const char* method;
  const char* path;
  const char* hosts;  // JSON member or ""
  const char* realm;
  const char* authorization;  // "" = none
  int status;
  const char* www_authenticate;  // "" = not asserted
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class BasicAuthIntegration : public ::testing::TestWithParam<Case> {};

TEST_P(BasicAuthIntegration, UpstreamCase) {
  const Case& c = GetParam();
  EchoUpstream upstream;
  ProxyProcess proxy(config(c.hosts, c.realm), upstream.port());
  ASSERT_TRUE(proxy.ready());
  std::vector<std::pair<std::string, std::string>> headers = {
      {"host", "127.0.0.1:" + std::to_string(proxy.port())}};
  if (*c.authorization) headers.emplace_back("authorization", c.authorization);
  auto r = httpRequest(proxy.port(), c.method, c.path, headers);
  EXPECT_EQ(r.status, c.status) << r.error << r.body;
  if (*c.www_authenticate) {
    EXPECT_EQ(r.header("www-authenticate"), c.www_authenticate);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Upstream, BasicAuthIntegration,
    ::testing::Values(
        Case{"CorrectCredentials", "GET", "/api", "", "istio", "Basic b2s6dGVzdA==", 200, ""},
        Case{"IncorrectCredentials", "POST", "/api/reviews/pay", "", "istio",
             "Basic AtRtaW46YWRtaW4=", 401, "Basic realm=istio"},
        Case{"Base64Credentials", "POST", "/api/reviews/pay", "", "istio",
             "Basic YWRtaW4zOmFkbWluMw==", 200, ""},
        Case{"MissingCredentials", "GET", "/api/reviews/pay", "", "istio", "", 401,
             "Basic realm=istio"},
        Case{"NoPathMatch", "GET", "/secret", "", "istio", "", 200, ""},
        Case{"NoMethodMatch", "DELETE", "/api/reviews/pay", "", "istio", "", 200, ""},
        Case{"NoConfigurationCredentialsProvided", "POST", "/api/reviews/pay", "", "istio", "", 401,
             "Basic realm=istio"},
        Case{"Realm", "POST", "/api/reviews/pay", "", "test", "", 401, "Basic realm=test"},
        Case{"HostMismatch", "POST", "/api/reviews/pay", R"("hosts": ["127.0.0.2", "random"],)",
             "istio", "", 200, ""},
        Case{"HostExactMatch", "POST", "/api/reviews/pay", R"("hosts": ["random", "127.0.0.1"],)",
             "istio", "", 401, ""},
        Case{"HostPrefixMatch", "POST", "/api/reviews/pay", R"("hosts": ["random", "127.0.0*"],)",
             "istio", "", 401, ""},
        Case{"HostSuffixMatch", "POST", "/api/reviews/pay", R"("hosts": ["random", "*.0.0.1"],)",
             "istio", "", 401, ""}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(BasicAuthMetrics, CountersInPrometheus) {
  EchoUpstream upstream;
  ProxyProcess proxy(config("", "istio"), upstream.port());
  ASSERT_TRUE(proxy.ready());
  httpRequest(proxy.port(), "GET", "/api", {{"authorization", "Basic b2s6dGVzdA=="}});
  httpRequest(proxy.port(), "GET", "/api");
  auto prom = httpRequest(proxy.adminPort(), "GET", "/stats/prometheus");
  EXPECT_NE(prom.body.find("basic_auth_allowed 1\n"), std::string::npos) << prom.body;
  EXPECT_NE(prom.body.find("basic_auth_denied 1\n"), std::string::npos);
}

TEST(BasicAuthProxy, HashedConsumersRegexAndForwardedUser) {
  // bcrypt and $apr1$ consumers (htpasswd -B -C 4 / -m), a regex rule with an allow list.
  EchoUpstream upstream;
  ProxyProcess proxy(singlePluginConfig("basic_auth", R"({
    "consumers": [
      {"name": "alice", "credentials": ["alice:$2y$04$FotA8HPTKu6L21YmzEYHzu7in8PB.RpeUjqFp5HXNQxoT4MgVKcBy"]},
      {"name": "bob", "credentials": ["bob:$apr1$rxRAwFjr$t./MWUfOAQqMm4LiS/RGu1"]}
    ],
    "forward_username_header": "x-user",
    "strip_authorization": true,
    "basic_auth_rules": [
      {"regex": "/admin(/.*)?", "request_methods": ["GET"], "allow": ["alice"]},
      {"prefix": "/team", "request_methods": ["GET"], "allow": ["alice", "bob"]}
    ]})"),
                     upstream.port());
  ASSERT_TRUE(proxy.ready());
  const std::string alice = "Basic YWxpY2U6b3BlbiBzZXNhbWU=";  // alice:open sesame
  const std::string bob = "Basic Ym9iOnNlY3JldA==";            // bob:secret
  for (int i = 0; i < 3; ++i) {  // the second and third hit the verified-credentials cache
    auto r = httpRequest(proxy.port(), "GET", "/admin/users?page=2", {{"authorization", alice}});
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"("x-user":"alice")"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find("authorization"), std::string::npos) << "stripped: " << r.body;
  }
  EXPECT_EQ(httpRequest(proxy.port(), "GET", "/admin", {{"authorization", bob}}).status, 403);
  EXPECT_EQ(httpRequest(proxy.port(), "GET", "/team/x", {{"authorization", bob}}).status, 200);
  auto denied = httpRequest(proxy.port(), "GET", "/admin", {{"authorization", "Basic Ym9iOng="}});
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.header("www-authenticate"), "Basic realm=istio");
  EXPECT_EQ(httpRequest(proxy.port(), "GET", "/administrator").status, 200) << "regex is anchored";
}

// Kong's anonymous consumer and credentials from Proxy-Authorization, through wasm-proxy: the
// upstream sees who the request runs as, and never the client's own claims.
TEST(BasicAuthProxy, AnonymousConsumerAndProxyAuthorization) {
  EchoUpstream upstream;
  ProxyProcess proxy(singlePluginConfig("basic_auth", R"({
    "authentication_header": "proxy-authorization", "strip_authorization": true,
    "anonymous": "guest", "forward_username_header": "x-user",
    "basic_auth_rules": [{"prefix": "/", "request_methods": ["GET"], "credentials": ["ok:test"]}]})"),
                     upstream.port());
  ASSERT_TRUE(proxy.ready());
  auto as_user =
      httpRequest(proxy.port(), "GET", "/a", {{"proxy-authorization", "Basic b2s6dGVzdA=="}});
  EXPECT_EQ(as_user.status, 200);
  EXPECT_NE(as_user.body.find(R"("x-user":"ok")"), std::string::npos) << as_user.body;
  EXPECT_EQ(as_user.body.find("proxy-authorization"), std::string::npos) << as_user.body;
  auto anonymous = httpRequest(proxy.port(), "GET", "/a",
                               {{"authorization", "Basic b2s6dGVzdA=="}, {"x-user", "admin"}});
  EXPECT_EQ(anonymous.status, 200);
  EXPECT_NE(anonymous.body.find(R"("x-user":"guest")"), std::string::npos) << anonymous.body;
  EXPECT_NE(anonymous.body.find(R"("x-anonymous-consumer":"true")"), std::string::npos);
  auto forged = httpRequest(
      proxy.port(), "GET", "/a",
      {{"proxy-authorization", "Basic b2s6dGVzdA=="}, {"x-anonymous-consumer", "true"}});
  EXPECT_EQ(forged.body.find("x-anonymous-consumer"), std::string::npos) << forged.body;
}

}  // namespace
