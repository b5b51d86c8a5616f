// Istio's WasmPlugin in wasm-proxy (--wasm-plugin) against a real OCI registry (Debian's
// docker-registry on loopback, its own storage), images pushed by scripts/release/oci_image.py:
// both image variants serve an extension, digests pin them, a wrong digest or an unreachable
// registry fails closed (403) or open (allowed) as the WasmPlugin says, and http:// and file://
// modules load with their sha256 checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_support.h"

namespace pwx_test {
namespace {

// docker-registry serving plain HTTP on a free loopback port, storage in a temp folder.
class Registry {
 public:
  Registry() : port_(freePort()), dir_(tempDir() + "/registry-" + std::to_string(port_)) {
    writeFile(dir_ + ".yml",
              "version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { "
              "rootdirectory: " +
                  dir_ + " } }\nhttp: { addr: 127.0.0.1:" + std::to_string(port_) + " }\n");
    process_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/bin/docker-registry", "serve", dir_ + ".yml"},
        dir_ + ".log");
    waitForPort(port_, std::chrono::seconds(10));
  }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  void stop() { process_.reset(); }
  // Pushes `plugin`.wasm as `repo:tag` in `variant`; returns the manifest digest.
  std::string push(const std::string& plugin, const std::string& repo, const std::string& tag,
                   const std::string& variant) {
    const std::string out = tempDir() + "/push-" + repo + tag + ".out";
    const std::string cmd = std::string("python3 ") + PWX_SOURCE_DIR +
                            "/scripts/release/oci_image.py push " + pluginDir() + "/" + plugin +
                            ".wasm " + host() + "/" + repo + ":" + tag + " --variant " + variant +
                            " --insecure > " + out + " 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << readFile(out);
    std::string digest = readFile(out);
    while (!digest.empty() && digest.back() == '\n') digest.pop_back();
    return digest;
  }

 private:
  uint16_t port_;
  std::string dir_;
  std::unique_ptr<Process> process_;
};

// A listener whose only route answers directly: what the plugins let through gets 200 "ok".
constexpr const char* kBootstrap = R"(
admin: { address: { socket_address: { address: 127.0.0.1, port_value: {{ADMIN_PORT}} } } }
static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: {{LISTEN_PORT}} } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: b
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: upstream } }] }] }
          http_filters:
          - name: envoy.filters.http.router
  clusters:
  - name: upstream
    load_assignment: { cluster_name: upstream, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{UPSTREAM_PORT}} } } } }] }] }
)";

std::string basicAuthPlugin(const std::string& url, const std::string& extra = "") {
  return R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: basic-auth, namespace: shop }
spec:
  selector: { matchLabels: { istio: ingressgateway } }
  url: )" +
         url + R"(
  phase: AUTHN
)" + extra +
         R"(
  pluginConfig:
    basic_auth_rules:
    - { prefix: /, request_methods: [GET], credentials: ["alice:wonderland"] }
)";
}

class WasmPluginTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("WASM_INSECURE_REGISTRIES", registry_.host().c_str(), 1); }
  std::unique_ptr<ProxyProcess> proxy(const std::string& manifest) {
    const std::string file = tempDir() + "/wasmplugin-" + std::to_string(++n_) + ".yaml";
    writeFile(file, manifest);
    return std::make_unique<ProxyProcess>(kBootstrap, upstream_.port(), 1,
                                          std::map<std::string, std::string>{},
                                          std::vector<std::string>{"--wasm-plugin", file});
  }
  // 401 without credentials and 200 with them: basic_auth is in the chain.
  void expectBasicAuth(ProxyProcess& p) {
    ASSERT_TRUE(p.ready()) << p.process().log();
    EXPECT_EQ(httpRequest(p.port(), "GET", "/").status, 401);
    EXPECT_EQ(
        httpRequest(p.port(), "GET", "/", {{"authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}})
            .status,
        200);
  }
  Registry registry_;
  EchoUpstream upstream_;
  int n_ = 0;
};

TEST_F(WasmPluginTest, BothImageVariantsServeAnExtensionPinnedByDigest) {
  for (const char* variant : {"compat", "oci"}) {
    SCOPED_TRACE(variant);
    const std::string digest = registry_.push("basic_auth", "basic_auth", variant, variant);
    ASSERT_EQ(digest.substr(0, 7), "sha256:");
    auto p = proxy(basicAuthPlugin("oci://" + registry_.host() + "/basic_auth:" + variant,
                                   "  sha256: " + digest.substr(7)));
    expectBasicAuth(*p);
    EXPECT_NE(p->process().log().find(digest), std::string::npos) << p->process().log();
  }
}

TEST_F(WasmPluginTest, AWrongDigestOrAnUnreachableRegistryFailsAsTheWasmPluginSays) {
  registry_.push("basic_auth", "basic_auth", "1.0", "compat");
  const std::string wrong(64, '0');
  auto closed =
      proxy(basicAuthPlugin("oci://" + registry_.host() + "/basic_auth:1.0", "  sha256: " + wrong));
  ASSERT_TRUE(closed->ready());
  Response denied = httpRequest(closed->port(), "GET", "/");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.body, "RBAC: access denied");
  EXPECT_NE(closed->process().log().find("sha256 asks for sha256:" + wrong), std::string::npos)
      << closed->process().log();

  const std::string nowhere = "oci://127.0.0.1:" + std::to_string(freePort()) + "/basic_auth:1.0";
  setenv("WASM_HTTP_REQUEST_MAX_RETRIES", "0", 1);
  auto fail_close = proxy(basicAuthPlugin(nowhere, "  failStrategy: FAIL_CLOSE"));
  ASSERT_TRUE(fail_close->ready());
  EXPECT_EQ(httpRequest(fail_close->port(), "GET", "/").status, 403);
  auto fail_open = proxy(basicAuthPlugin(nowhere, "  failStrategy: FAIL_OPEN"));
  ASSERT_TRUE(fail_open->ready());
  EXPECT_EQ(httpRequest(fail_open->port(), "GET", "/").status, 200) << "the plugin is left out";
  unsetenv("WASM_HTTP_REQUEST_MAX_RETRIES");

  // A plain-HTTP registry that WASM_INSECURE_REGISTRIES does not list is not used.
  unsetenv("WASM_INSECURE_REGISTRIES");
  auto https_only = proxy(basicAuthPlugin("oci://" + registry_.host() + "/basic_auth:1.0"));
  ASSERT_TRUE(https_only->ready());
  EXPECT_EQ(httpRequest(https_only->port(), "GET", "/").status, 403);
}

TEST_F(WasmPluginTest, HttpAndFileModulesAreCheckedAgainstTheirSha256) {
  const std::string dir = tempDir() + "/modules";
  std::system(("mkdir -p " + dir + " && cp " + pluginDir() + "/basic_auth.wasm " + dir).c_str());
  const std::string sum_file = dir + "/sum";
  std::system(("sha256sum " + dir + "/basic_auth.wasm | cut -c1-64 > " + sum_file).c_str());
  std::string sum = readFile(sum_file);
  sum.resize(64);
  EchoUpstream files(dir);
  auto http = proxy(
      basicAuthPlugin("http://127.0.0.1:" + std::to_string(files.port()) + "/files/basic_auth.wasm",
                      "  sha256: " + sum));
  expectBasicAuth(*http);
  auto file = proxy(basicAuthPlugin("file://" + dir + "/basic_auth.wasm", "  sha256: " + sum));
  expectBasicAuth(*file);
  auto bad = proxy(
      basicAuthPlugin("file://" + dir + "/basic_auth.wasm", "  sha256: " + std::string(64, 'f')));
  ASSERT_TRUE(bad->ready());
  EXPECT_EQ(httpRequest(bad->port(), "GET", "/").status, 403);
  EXPECT_NE(bad->process().log().find("the module has digest sha256:" + sum), std::string::npos);
}

// Envoy's own way: vm_config.code.remote in the bootstrap, checked against its sha256.
TEST_F(WasmPluginTest, RemoteCodeInTheBootstrapIsCheckedAgainstItsSha256) {
  const std::string dir = tempDir() + "/remote-modules";
  std::system(("mkdir -p " + dir + " && cp " + pluginDir() + "/basic_auth.wasm " + dir +
               " && sha256sum " + dir + "/basic_auth.wasm | cut -c1-64 > " + dir + "/sum")
                  .c_str());
  std::string sum = readFile(dir + "/sum");
  sum.resize(64);
  EchoUpstream files(dir);
  auto bootstrap = [&](const std::string& sha) {
    std::string b = kBootstrap;
    b.replace(b.find("          - name: envoy.filters.http.router"), 0,
              R"(          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                configuration: { "@type": type.googleapis.com/google.protobuf.StringValue, value: '{"basic_auth_rules": [{"prefix": "/", "request_methods": ["GET"], "credentials": ["alice:wonderland"]}]}' }
                vm_config:
                  code:
                    remote:
                      http_uri: { uri: "http://127.0.0.1:)" +
                  std::to_string(files.port()) +
                  R"(/files/basic_auth.wasm", cluster: upstream, timeout: 5s }
                      sha256: )" +
                  sha + R"(
                      retry_policy: { num_retries: 1, retry_back_off: { base_interval: 0.1s } }
)");
    return b;
  };
  ProxyProcess good(bootstrap(sum), upstream_.port(), 1);
  expectBasicAuth(good);
  auto [code, log] = runProxyExpectingExit(bootstrap(std::string(64, 'a')));
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("checksum mismatch: sha256 asks for " + std::string(64, 'a') +
                     ", the module at http://127.0.0.1:" + std::to_string(files.port()) +
                     "/files/basic_auth.wasm has " + sum),
            std::string::npos)
      << log;
}

TEST_F(WasmPluginTest, PluginsTakeTheirPlaceByPhaseThenPriority) {
  auto doc = [&](const std::string& name, const std::string& extra) {
    return "apiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: { name: " + name +
           ", namespace: ns }\nspec:\n  url: file://" + pluginDir() + "/scaffold.wasm\n" + extra +
           "---\n";
  };
  const std::string manifest = doc("unspecified", "") + doc("authz", "  phase: AUTHZ\n") +
                               doc("authn-low", "  phase: AUTHN\n  priority: 1\n") +
                               doc("authn-high", "  phase: AUTHN\n  priority: 10\n") +
                               doc("stats", "  phase: STATS\n");
  std::string bootstrap = kBootstrap;
  bootstrap.replace(bootstrap.find("          - name: envoy.filters.http.router"), 0,
                    R"(          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers: { p: { local_jwks: { inline_string: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' } } }
)");
  const std::string file = tempDir() + "/ordered.yaml";
  writeFile(file, manifest);
  ProxyProcess p(bootstrap, upstream_.port(), 1, {}, {"--wasm-plugin", file});
  ASSERT_TRUE(p.ready()) << p.process().log();
  const std::string dump = httpRequest(p.adminPort(), "GET", "/config_dump").body;
  std::vector<size_t> at;
  for (const char* name : {"ns.authn-high", "ns.authn-low", "envoy.filters.http.jwt_authn",
                           "ns.authz", "ns.stats", "ns.unspecified", "envoy.filters.http.router"}) {
    at.push_back(dump.find(name));
    ASSERT_NE(at.back(), std::string::npos) << name << " in " << dump;
  }
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << dump;
}

TEST_F(WasmPluginTest, PulledModulesAreCachedAndEnvironmentReachesTheVm) {
  registry_.push("conformance", "conformance", "2.0", "oci");
  const std::string cache =
      tempDir() + "/wasm-cache-" + std::to_string(registry_.host().size() + n_);
  auto manifest = [&](const std::string& policy, const std::string& env) {
    return R"(apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata: { name: conformance, namespace: t }
spec:
  url: oci://)" +
           registry_.host() + R"(/conformance:2.0
  imagePullPolicy: )" +
           policy + R"(
  failStrategy: FAIL_CLOSE
  vmConfig:
    env: [)" +
           env + R"(]
)";
  };
  auto start = [&](const std::string& policy, const std::string& env) {
    const std::string file = tempDir() + "/cached-" + policy + ".yaml";
    writeFile(file, manifest(policy, env));
    return std::make_unique<ProxyProcess>(
        kBootstrap, upstream_.port(), 1, std::map<std::string, std::string>{},
        std::vector<std::string>{"--wasm-plugin", file, "--wasm-cache-dir", cache});
  };
  {
    auto first = start("IfNotPresent", "{ name: PWX_TEST_ENV, value: inline-value }");
    ASSERT_TRUE(first->ready()) << first->process().log();
    Response r = httpRequest(first->port(), "GET", "/env");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("\"x-env\":\"inline-value\""), std::string::npos) << r.body;
  }
  registry_.stop();
  setenv("WASM_HTTP_REQUEST_MAX_RETRIES", "0", 1);
  setenv("PWX_TEST_ENV", "from-host", 1);
  auto cached = start("IfNotPresent", "{ name: PWX_TEST_ENV, valueFrom: HOST }");
  unsetenv("PWX_TEST_ENV");
  ASSERT_TRUE(cached->ready());  // the registry is gone: the cache serves
  Response r = httpRequest(cached->port(), "GET", "/env");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"x-env\":\"from-host\""), std::string::npos) << r.body;
  EXPECT_NE(cached->process().log().find(", cached)"), std::string::npos)
      << cached->process().log();
  auto always = start("Always", "");  // must pull, cannot: FAIL_CLOSE
  ASSERT_TRUE(always->ready());
  EXPECT_EQ(httpRequest(always->port(), "GET", "/env").status, 403);
  unsetenv("WASM_HTTP_REQUEST_MAX_RETRIES");
}

TEST_F(WasmPluginTest, FieldsWithoutAnImplementationAreRefusedByName) {
  const std::string file = tempDir() + "/refused.yaml";
  writeFile(file, basicAuthPlugin("file:///nowhere.wasm", "  imagePullSecret: pull-secret"));
  auto [code, log] = runProxyExpectingExit(kBootstrap, {"--wasm-plugin", file});
  EXPECT_NE(code, 0);
  EXPECT_NE(log.find("spec.imagePullSecret: not supported by wasm-proxy"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace pwx_test
