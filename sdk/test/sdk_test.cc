// The SDK compiled natively against the FakeHost: dispatch, helpers, callouts and liveness.
#include <gtest/gtest.h>

#include "fake_host.h"
#include "proxy_wasm/sdk.h"

namespace proxy_wasm {
namespace {

using testing::FakeHost;

// A plugin that exercises the SDK: config echo, headers, a callout per request, metrics, ticks.
class TestRoot : public RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override {
    configuration_ = std::string(configuration);
    if (configuration == "reject") return false;
    setTickPeriod(std::chrono::milliseconds(100));
    return true;
  }
  void onTick() override { ++ticks_; }
  std::string configuration_;
  int ticks_ = 0;
  Counter requests_{"requests", {"route"}};
};

class TestStream : public HttpContext {
 public:
  using HttpContext::HttpContext;
  FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    auto& root = rootAs<TestRoot>();
    root.requests_.increment(1, {requestHeader(":path").value_or("none")});
    if (requestHeader("x-deny")) {
      sendLocalResponse(403, "denied", {{"x-why", "x-deny"}}, "test_denied");
      return FilterHeadersStatus::StopIteration;
    }
    if (requestHeader("x-callout")) {
      auto token = httpCall("authz", {{":method", "GET"}, {":path", "/check"}, {":authority", "a"}},
                            "", {}, std::chrono::milliseconds(500),
                            [](HttpContext& self, const HttpCallResponse& r) {
                              if (r.status() == 200) {
                                (void)self.addRequestHeader("x-checked", r.body());
                                self.continueRequest();
                              } else {
                                sendLocalResponse(503, "callout failed");
                              }
                            });
      return token ? FilterHeadersStatus::StopAllIterationAndWatermark
                   : FilterHeadersStatus::Continue;
    }
    if (requestHeader("x-typed-callout")) {
      // The callback takes this class: no cast from HttpContext&.
      auto token =
          httpCall("authz", {{":method", "GET"}, {":path", "/check"}, {":authority", "a"}}, "", {},
                   std::chrono::milliseconds(500), [](TestStream& self, const HttpCallResponse& r) {
                     ++self.typed_answers_;
                     (void)self.addRequestHeader("x-typed", std::to_string(r.status()));
                     self.continueRequest();
                   });
      return token ? FilterHeadersStatus::StopAllIterationAndWatermark
                   : FilterHeadersStatus::Continue;
    }
    (void)replaceRequestHeader("x-seen", "1");
    return FilterHeadersStatus::Continue;
  }
  int typed_answers_ = 0;
};

static RegisterContextFactory register_test(rootFactory<TestRoot>(), streamFactory<TestStream>(),
                                            "sdk_test");

FakeHost& host() {
  return FakeHost::instance();
}

TEST(Sdk, LogLinesNameWasmResults) {
  EXPECT_EQ(proxy_wasm::strCat("write: ", proxy_wasm::WasmResult::CasMismatch, " after ", 3),
            "write: CasMismatch after 3");
}

TEST(Sdk, ConfigurationReachesOnConfigureAndFalseRejects) {
  auto root = host().startPlugin("{\"a\":1}", "sdk_test");
  ASSERT_TRUE(root);
  EXPECT_EQ(static_cast<TestRoot*>(getRootContext(*root))->configuration_, "{\"a\":1}");
  EXPECT_FALSE(host().startPlugin("reject", "sdk_test"));
}

TEST(Sdk, UnknownRootIdFallsBackToTheDefaultOrFailsLoudly) {
  // Nothing is registered under "" in this binary, so an unknown root_id refuses configuration.
  EXPECT_FALSE(host().startPlugin("{}", "no_such_root"));
  EXPECT_TRUE(host().logged("no root context registered for root_id 'no_such_root'"));
  EXPECT_TRUE(host().logged("'sdk_test'"));
}

TEST(Sdk, HeaderHelpersAndMetricsWithTags) {
  auto root = host().startPlugin("{}", "sdk_test");
  ASSERT_TRUE(root);
  uint32_t s = host().createStream(*root);
  EXPECT_EQ(host().sendRequestHeaders(s, {{":path", "/a"}, {"Host", "h"}}, true),
            FilterHeadersStatus::Continue);
  EXPECT_EQ(host().stream(s).request_headers.back(),
            (std::pair<std::string, std::string>("x-seen", "1")));
  host().completeStream(s);
  EXPECT_EQ(host().metric("route./a.requests"), 1u);
  EXPECT_EQ(getHttpContext(s), nullptr) << "on_delete destroys the context";
}

TEST(Sdk, LocalResponseCarriesBodyHeadersAndDetails) {
  auto root = host().startPlugin("{}", "sdk_test");
  uint32_t s = host().createStream(*root);
  host().sendRequestHeaders(s, {{":path", "/"}, {"x-deny", "1"}}, true);
  auto& reply = host().stream(s).local_reply;
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 403u);
  EXPECT_EQ(reply->body, "denied");
  EXPECT_EQ(reply->details, "test_denied");
  EXPECT_EQ(reply->headers, (HeaderList{{"x-why", "x-deny"}}));
  EXPECT_EQ(reply->grpc_status, -1);
  host().completeStream(s);
}

TEST(Sdk, CalloutResumesTheStreamWithTheEffectiveContextSet) {
  auto root = host().startPlugin("{}", "sdk_test");
  uint32_t s = host().createStream(*root);
  EXPECT_EQ(host().sendRequestHeaders(s, {{":path", "/"}, {"x-callout", "1"}}, true),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  ASSERT_FALSE(host().httpCalls().empty());
  const auto& call = host().httpCalls().back();
  EXPECT_EQ(call.cluster, "authz");
  EXPECT_EQ(call.timeout_ms, 500u);
  EXPECT_EQ(call.token % 4, 0u);
  host().respondHttpCall(call.token, {{":status", "200"}}, "alice");
  EXPECT_TRUE(host().stream(s).request_continued);
  EXPECT_EQ(host().stream(s).request_headers.back(),
            (std::pair<std::string, std::string>("x-checked", "alice")));
  host().completeStream(s);
}

TEST(Sdk, CalloutCallbackCanTakeTheAuthorsStreamType) {
  auto root = host().startPlugin("{}", "sdk_test");
  uint32_t s = host().createStream(*root);
  host().sendRequestHeaders(s, {{":path", "/"}, {"x-typed-callout", "1"}}, true);
  ASSERT_FALSE(host().httpCalls().empty());
  host().respondHttpCall(host().httpCalls().back().token, {{":status", "204"}}, "");
  EXPECT_TRUE(host().stream(s).request_continued);
  EXPECT_EQ(host().stream(s).request_headers.back(),
            (std::pair<std::string, std::string>("x-typed", "204")));
  host().completeStream(s);
}

TEST(Sdk, CalloutAnsweredAfterTheStreamEndedNeverTouchesIt) {
  auto root = host().startPlugin("{}", "sdk_test");
  uint32_t s = host().createStream(*root);
  host().sendRequestHeaders(s, {{":path", "/"}, {"x-callout", "1"}}, true);
  uint32_t token = host().httpCalls().back().token;
  host().completeStream(s);  // client went away
  host().clearLogs();
  host().respondHttpCall(token, {{":status", "200"}}, "late");
  EXPECT_FALSE(host().stream(s).request_continued);
  EXPECT_TRUE(host().logged("ended before its HTTP call answered"));
  EXPECT_EQ(getRootContext(*root)->pendingCalls(), 0u);
}

TEST(Sdk, FailedCalloutIsReported) {
  auto root = host().startPlugin("{}", "sdk_test");
  uint32_t s = host().createStream(*root);
  host().sendRequestHeaders(s, {{":path", "/"}, {"x-callout", "1"}}, true);
  host().respondHttpCall(host().httpCalls().back().token, {}, "");
  ASSERT_TRUE(host().stream(s).local_reply);
  EXPECT_EQ(host().stream(s).local_reply->status, 503u);
  host().completeStream(s);
}

TEST(Sdk, TicksFollowTheConfiguredPeriod) {
  auto root = host().startPlugin("{}", "sdk_test");
  auto* r = static_cast<TestRoot*>(getRootContext(*root));
  host().advanceTime(350'000'000);  // 350 ms at 100 ms
  EXPECT_EQ(r->ticks_, 3);
  host().stopPlugin(*root);
}

TEST(Sdk, SharedDataCompareAndSwap) {
  EXPECT_EQ(getSharedData("k").error(), WasmResult::NotFound);
  ASSERT_EQ(setSharedData("k", "v1"), WasmResult::Ok);
  auto first = getSharedData("k");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->value.view(), "v1");
  EXPECT_EQ(setSharedData("k", "v2", first->cas), WasmResult::Ok);
  EXPECT_EQ(setSharedData("k", "v3", first->cas), WasmResult::CasMismatch);
  EXPECT_EQ(getSharedData("k")->value.view(), "v2");
}

TEST(Sdk, SharedQueues) {
  auto q = registerSharedQueue("q");
  ASSERT_TRUE(q);
  EXPECT_EQ(resolveSharedQueue("", "q").value_or(0), *q);
  EXPECT_EQ(dequeueSharedQueue(*q).error(), WasmResult::Empty);
  EXPECT_EQ(enqueueSharedQueue(*q, "item"), WasmResult::Ok);
  EXPECT_EQ(dequeueSharedQueue(*q)->view(), "item");
  EXPECT_EQ(enqueueSharedQueue(9999, "x"), WasmResult::NotFound);
}

TEST(Sdk, TypedProperties) {
  host().properties()[abi::encodePropertyPath({"response", "code"})] = abi::encodeInt64(200);
  host().properties()[abi::encodePropertyPath({"connection", "mtls"})] = abi::encodeBool(true);
  host().properties()[abi::encodePropertyPath({"node", "id"})] = "node-1";
  EXPECT_EQ(getPropertyInt64({"response", "code"}), 200);
  EXPECT_EQ(getPropertyBool({"connection", "mtls"}), true);
  EXPECT_EQ(getPropertyString({"node", "id"}), "node-1");
  EXPECT_FALSE(getPropertyString({"no", "such"}));
}

TEST(Sdk, StrCatFormatsMixedArguments) {
  EXPECT_EQ(strCat("a", 1, '-', true, std::string_view("z"), -5, 18446744073709551615ull),
            "a1-truez-518446744073709551615");
}

}  // namespace
}  // namespace proxy_wasm
