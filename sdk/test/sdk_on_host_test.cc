// The SDK on the real host, on every engine: sdk_test_plugin.wasm (test/plugin/) exercises
// dispatch, helpers, callouts and liveness; these tests drive it through PluginHarness and check
// what it did. (The SDK's pure helpers are tested natively in the other files of this folder.)
#include <gtest/gtest.h>

#include "engine_test.h"
#include "proxy_wasm/abi/property.h"

namespace proxy_wasm::host::testing {
namespace {

class SdkOnHost : public EngineTest {
 protected:
  std::unique_ptr<PluginHarness> start(std::string configuration = "{}") {
    HarnessOptions o = options("sdk_test", std::move(configuration));
    o.plugin.root_id = "sdk_test";
    return load("sdk_test_plugin", std::move(o));
  }
  static std::string header(const FakeStream& s, std::string_view key) {
    return std::string(s.request_headers.get(key).value_or("<absent>"));
  }
};

TEST_P(SdkOnHost, ConfigurationReachesOnConfigureAndFalseRejects) {
  auto h = start(R"({"a":1})");
  ASSERT_TRUE(h) << error_;
  EXPECT_TRUE(h->logged(R"(sdk_test: configured with '{"a":1}')"));
  EXPECT_FALSE(start("reject"));
  EXPECT_NE(error_.find("rejected its configuration"), std::string::npos) << error_;
}

TEST_P(SdkOnHost, UnknownRootIdFailsLoudlyNamingTheRegisteredOnes) {
  HarnessOptions o = options("sdk_test", "{}");
  o.plugin.root_id = "no_such_root";
  EXPECT_FALSE(load("sdk_test_plugin", std::move(o)));
  // Nothing is registered under "" in this plugin, so there is no default to fall back to.
  EXPECT_NE(error_.find("rejected its configuration"), std::string::npos) << error_;
}

TEST_P(SdkOnHost, HeaderHelpersMetricsWithTagsAndContextLifetime) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  EXPECT_EQ(h->metricDelta("sdk_test.live_streams"), 1);
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/a"}, {"host", "h"}}), FilterHeadersStatus::Continue);
  EXPECT_EQ(s->request_headers.entries().back(),
            (std::pair<std::string, std::string>("x-seen", "1")));
  s->end();
  EXPECT_EQ(h->metricDelta("route./a.sdk_test.requests"), 1);
  EXPECT_EQ(h->metricDelta("sdk_test.live_streams"), 0) << "on_delete destroys the context";
}

// The SDK remembers the context it looked up last; deleting that context must forget it. A host
// that calls back for a deleted id (a host bug) gets the unknown-context answer, not a call into
// freed memory.
TEST_P(SdkOnHost, ACallbackForADeletedContextFindsNoContext) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  const uint32_t id = s->id();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/a"}}), FilterHeadersStatus::Continue);
  s->end();
  const int32_t fn = h->vm().exportHandle("proxy_on_request_headers");
  auto r = h->vm().callExportForTest(fn, {id, 0, 1}, id);
  ASSERT_TRUE(r) << h->vm().failureMessage();
  EXPECT_EQ(*r, 0u);
  EXPECT_EQ(h->metricDelta("route.none.sdk_test.requests"), 0);
}

// The SDK keeps the memory of ended stream contexts for the next streams. Interleaved streams of
// three classes (two sizes, one alignas(64)), more at once than it keeps, never share memory and
// get the alignment their class asks for.
TEST_P(SdkOnHost, ReusedStreamMemoryIsNeverSharedAndKeepsExtendedAlignment) {
  HarnessOptions o = options("sdk_test_blocks", "{}");
  o.plugin.root_id = "sdk_test_blocks";
  auto h = load("sdk_test_plugin", std::move(o));
  ASSERT_TRUE(h) << error_;
  std::vector<std::unique_ptr<FakeStream>> live;
  int opened = 0;
  for (int round = 0; round < 4; ++round) {
    for (; live.size() < 40; ++opened) live.push_back(h->newStream());
    std::vector<std::unique_ptr<FakeStream>> kept;
    for (size_t i = 0; i < live.size(); ++i) {
      if (i % 2 == static_cast<size_t>(round % 2)) {
        live[i]->end();
      } else {
        kept.push_back(std::move(live[i]));
      }
    }
    live = std::move(kept);
  }
  for (auto& s : live) s->end();
  EXPECT_EQ(h->metricDelta("sdk_test.blocks.created"), opened);
  EXPECT_EQ(h->metricDelta("sdk_test.blocks.overlapping"), 0);
  EXPECT_EQ(h->metricDelta("sdk_test.blocks.overwritten"), 0);
  EXPECT_EQ(h->metricDelta("sdk_test.blocks.misaligned"), 0);
}

TEST_P(SdkOnHost, LocalResponseCarriesBodyHeadersAndDetails) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  // The host turns the plugin's StopIteration into a full stop, as Envoy does after a local reply.
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/"}, {"x-deny", "1"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 403u);
  EXPECT_EQ(s->local_reply->body, "denied");
  EXPECT_EQ(s->local_reply->details, "test_denied");
  EXPECT_EQ(s->local_reply->headers, (Headers{{"x-why", "x-deny"}}));
  EXPECT_EQ(s->local_reply->grpc_status, -1);
}

TEST_P(SdkOnHost, CalloutResumesTheStreamWithTheEffectiveContextSet) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/"}, {"x-callout", "1"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  ASSERT_EQ(h->httpCalls().size(), 1u);
  const auto& call = h->httpCalls().back();
  EXPECT_EQ(call.request.cluster, "authz");
  EXPECT_EQ(call.request.timeout_ms, 500u);
  h->respondHttpCall(call.token, {{":status", "200"}}, "alice");
  EXPECT_EQ(s->request_continued, 1);
  EXPECT_EQ(header(*s, "x-checked"), "alice");
}

TEST_P(SdkOnHost, CalloutCallbackCanTakeTheAuthorsStreamType) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/"}, {"x-typed-callout", "1"}});
  ASSERT_EQ(h->httpCalls().size(), 1u);
  h->respondHttpCall(h->httpCalls().back().token, {{":status", "204"}}, "");
  EXPECT_EQ(s->request_continued, 1);
  EXPECT_EQ(header(*s, "x-typed"), "204");
}

TEST_P(SdkOnHost, CalloutAnsweredAfterTheStreamEndedNeverTouchesIt) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/"}, {"x-callout", "1"}});
  ASSERT_EQ(h->httpCalls().size(), 1u);
  uint32_t token = h->httpCalls().back().token;
  s->end();  // the client went away
  h->respondHttpCall(token, {{":status", "200"}}, "late");
  EXPECT_EQ(s->request_continued, 0);
  EXPECT_TRUE(h->logged("ended before its HTTP call answered"));
  auto next = h->newStream();
  next->sendRequestHeaders({{":path", "/"}});
  EXPECT_EQ(header(*next, "x-pending-calls"), "0") << "the root forgot the call";
  EXPECT_FALSE(h->vm().failed());
}

TEST_P(SdkOnHost, FailedCalloutIsReported) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/"}, {"x-callout", "1"}});
  ASSERT_EQ(h->httpCalls().size(), 1u);
  h->respondHttpCall(h->httpCalls().back().token, {}, "");
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 503u);
}

TEST_P(SdkOnHost, TicksFollowTheConfiguredPeriod) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(h->tickPeriodMs(), 100u);
  h->advance(std::chrono::milliseconds(350));
  EXPECT_EQ(h->metricDelta("sdk_test.ticks"), 3);
}

TEST_P(SdkOnHost, SharedDataCompareAndSwap) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  // Shared data outlives the VM: each engine's run uses its own key.
  s->sendRequestHeaders({{":path", "/"}, {"x-shared-data", "key-" + engine()}});
  // get (absent), set, get, set with the read CAS, set again with the now stale CAS, get.
  EXPECT_EQ(header(*s, "x-result"), "NotFound,Ok,v1,Ok,CasMismatch,v2");
}

TEST_P(SdkOnHost, SharedQueues) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/"}, {"x-shared-queue", "queue-" + engine()}});
  // resolve, dequeue (empty), enqueue, dequeue, enqueue to an unknown queue.
  EXPECT_EQ(header(*s, "x-result"), "resolved,Empty,Ok,item,NotFound");
}

TEST_P(SdkOnHost, TypedProperties) {
  auto h = start();
  ASSERT_TRUE(h) << error_;
  h->host_properties[abi::encodePropertyPath({"node", "id"})] = "node-1";
  auto s = h->newStream();
  s->properties[abi::encodePropertyPath({"response", "code"})] = abi::encodeInt64(200);
  s->properties[abi::encodePropertyPath({"connection", "mtls"})] = abi::encodeBool(true);
  s->sendRequestHeaders({{":path", "/"}, {"x-properties", "1"}});
  EXPECT_EQ(header(*s, "x-result"), "200,true,node-1,not-found");
}

PWX_INSTANTIATE_ON_ALL_ENGINES(SdkOnHost);

}  // namespace
}  // namespace proxy_wasm::host::testing
