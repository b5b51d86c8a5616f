// gRPC callouts (proxy_grpc_call) through a real wasm-proxy to a real gRPC server (libgrpc++ over
// HTTP/2, test/support/grpc_server.cc), on every engine: the answer, metadata, a failing status,
// the deadline, the upstream named by a serialized GrpcService, and an unknown cluster.
#include <gtest/gtest.h>

#include "proxy_fixtures.h"
#include "test_support.h"

namespace pwx_test {
namespace {

class GrpcServer {
 public:
  GrpcServer()
      : port_(freePort()),
        process_({PWX_GRPC_SERVER_BIN, "--port", std::to_string(port_)},
                 tempDir() + "/grpc-" + std::to_string(port_) + ".log") {
    waitForPort(port_, std::chrono::seconds(10));
  }
  uint16_t port() const { return port_; }
  std::string log() const { return process_.log(); }

 private:
  uint16_t port_;
  Process process_;
};

class GrpcCallout : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<ProxyProcess> start() {
    std::string c = config("conformance");
    c.replace(c.find("runtime: envoy.wasm.runtime.v8"), 30,
              "runtime: envoy.wasm.runtime." + GetParam());
    c.replace(c.find("  clusters:\n") + 12, 0, R"(  - name: grpc_cluster
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment:
      cluster_name: grpc_cluster
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: {{GRPC_PORT}} } } } }] }]
)");
    return std::make_unique<ProxyProcess>(
        c, upstream_.port(), 1,
        std::map<std::string, std::string>{{"GRPC_PORT", std::to_string(grpc_.port())}});
  }
  Response call(ProxyProcess& p, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return httpRequest(p.port(), "GET", "/grpc", headers);
  }
  EchoUpstream upstream_;
  GrpcServer grpc_;
};

TEST_P(GrpcCallout, AUnaryCallReachesARealGrpcServerAndItsAnswerThePlugin) {
  auto p = start();
  ASSERT_TRUE(p->ready()) << p->process().log();
  Response ok = call(*p);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("\"x-grpc-status\":\"0\""), std::string::npos) << ok.body;
  EXPECT_NE(ok.body.find("\"x-grpc-message\":\"reply:request;md=1\""), std::string::npos)
      << ok.body;
  EXPECT_NE(grpc_.log().find("served /pkg.Service/Method"), std::string::npos);

  Response failed = call(*p, {{"x-grpc-method", "Fail"}});
  EXPECT_NE(failed.body.find("\"x-grpc-status\":\"14\""), std::string::npos) << failed.body;
  EXPECT_NE(failed.body.find("\"x-grpc-message\":\"failing on purpose\""), std::string::npos);

  Response unknown = call(*p, {{"x-grpc-method", "Nope"}});
  EXPECT_NE(unknown.body.find("\"x-grpc-status\":\"12\""), std::string::npos) << unknown.body;

  // The plugin's 1 s deadline against a 2 s method: DEADLINE_EXCEEDED (4).
  Response slow = call(*p, {{"x-grpc-method", "Slow"}});
  EXPECT_NE(slow.body.find("\"x-grpc-status\":\"4\""), std::string::npos) << slow.body;

  // The upstream as Envoy also takes it: a serialized GrpcService naming the cluster.
  Response proto = call(*p, {{"x-grpc-upstream", "proto"}});
  EXPECT_NE(proto.body.find("\"x-grpc-message\":\"reply:request;md=1\""), std::string::npos)
      << proto.body;
}

TEST_P(GrpcCallout, ABidiStreamSendsReceivesMetadataAndCloses) {
  auto p = start();
  ASSERT_TRUE(p->ready()) << p->process().log();
  Response r = httpRequest(p->port(), "GET", "/grpc-stream");
  ASSERT_EQ(r.status, 200) << r.body;
  // Initial metadata, both answers in order, trailing metadata, then the close with OK.
  EXPECT_NE(r.body.find("\"x-grpc-stream\":\"md:server-md=hello;msg:echo:a;msg:echo:b;"
                        "trailer:server-trailer=bye;close:0\""),
            std::string::npos)
      << r.body;
  EXPECT_NE(grpc_.log().find("served /pkg.Service/Chat"), std::string::npos);
}

TEST_P(GrpcCallout, AnUnknownClusterIsAParseFailure) {
  std::string c = config("conformance");
  c.replace(c.find("runtime: envoy.wasm.runtime.v8"), 30,
            "runtime: envoy.wasm.runtime." + GetParam());
  ProxyProcess p(c, upstream_.port(), 1);  // no grpc_cluster
  ASSERT_TRUE(p.ready());
  Response r = call(p);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"x-grpc-call-result\":\"4\""), std::string::npos)
      << r.body;  // ParseFailure
}

INSTANTIATE_TEST_SUITE_P(Engines, GrpcCallout, ::testing::Values("v8", "wabt", "wasm2c"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace pwx_test
