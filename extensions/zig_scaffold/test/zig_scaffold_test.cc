// zig_scaffold: a Zig plugin on the raw ABI, in the harness on every engine and through wasm-proxy.
#include <gtest/gtest.h>

#include "engine_test.h"
#include "test_support.h"

namespace {

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;

class ZigScaffold : public EngineTest {};

TEST_P(ZigScaffold, BehavesAsUpstreamsDemo) {
  HarnessOptions o = options("zig_scaffold", "hello from config");
  o.vm.vm_id = "zig";
  auto h = load("zig_scaffold", std::move(o));
  ASSERT_TRUE(h) << error_;
  EXPECT_TRUE(h->logged("zig_scaffold: vm started"));
  EXPECT_TRUE(h->logged("zig_scaffold: configured with 'hello from config'"));
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}, {"x-a", "1"}}),
            FilterHeadersStatus::Continue);
  EXPECT_EQ(s->request_headers.get("wasm-test"), "wasm-value");
  h->clearLogs();
  s->end();
  EXPECT_TRUE(h->logged("header wasm-test=wasm-value"));
  EXPECT_TRUE(h->logged("property request.headers.wasm-test=wasm-value"));
  EXPECT_TRUE(h->logged("4 request headers"));
  EXPECT_TRUE(h->logged("zig_scaffold:   x-a: 1"));
  EXPECT_FALSE(h->vm().failed());
}

PWX_INSTANTIATE_ON_ALL_ENGINES(ZigScaffold);

TEST(ZigScaffoldProxy, UpstreamSeesTheHeader) {
  pwx_test::EchoUpstream upstream;
  pwx_test::ProxyProcess proxy(pwx_test::singlePluginConfig("zig_scaffold", "{}"), upstream.port());
  ASSERT_TRUE(proxy.ready());
  auto r = pwx_test::httpRequest(proxy.port(), "GET", "/zig");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("\"wasm-test\":\"wasm-value\""), std::string::npos) << r.body;
}

}  // namespace
