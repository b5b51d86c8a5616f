// Host conformance: the conformance plugin (SDK) and a raw-ABI plugin on every engine.
#include <gtest/gtest.h>

#include "engine_test.h"
#include "proxy_wasm/abi/property.h"

namespace proxy_wasm::host::testing {
namespace {

class Conformance : public EngineTest {
 protected:
  std::unique_ptr<PluginHarness> load(std::string_view plugin, std::string configuration = "",
                                      std::string vm_configuration = "") {
    HarnessOptions o = options("conf_plugin", std::move(configuration));
    o.plugin.root_id = "conf_root";
    o.vm.vm_id = "conf_vm_" + engine();
    o.vm.configuration = std::move(vm_configuration);
    o.vm.environment = {{"PWX_TEST_ENV", "from-vm-config"}};
    auto h = EngineTest::load(plugin, std::move(o));
    EXPECT_TRUE(h) << error_;
    return h;
  }
  static std::string header(const FakeStream& s, std::string_view key) {
    return std::string(s.request_headers.get(key).value_or("<absent>"));
  }
};

TEST_P(Conformance, ScaffoldPassesTraffic) {
  auto h = load("scaffold");
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/"}, {":method", "GET"}}),
            FilterHeadersStatus::Continue);
  EXPECT_EQ(s->sendResponseHeaders({{":status", "200"}}), FilterHeadersStatus::Continue);
  s->end();
  EXPECT_FALSE(h->vm().failed());
}

TEST_P(Conformance, LifecycleStartConfigureAndStreamEndOrder) {
  auto h = load("conformance", "hello", "vm-config-bytes");
  EXPECT_TRUE(h->logged("on_vm_start vm_config=vm-config-bytes"));
  EXPECT_TRUE(h->logged("on_configure config=hello"));
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/none"}});
  h->clearLogs();
  s->end();
  ASSERT_EQ(h->logs.size(), 3u);
  EXPECT_NE(h->logs[0].second.find("on_log"), std::string::npos);
  EXPECT_NE(h->logs[1].second.find("on_done"), std::string::npos);
  EXPECT_NE(h->logs[2].second.find("on_delete"), std::string::npos);
}

TEST_P(Conformance, RejectedConfigurationIsAnError) {
  HarnessOptions o;
  o.runtime = GetParam();
  o.plugin.configuration = "reject";
  std::string error;
  EXPECT_FALSE(PluginHarness::create(pluginPath("conformance"), o, &error));
  EXPECT_NE(error.find("rejected its configuration"), std::string::npos) << error;
}

TEST_P(Conformance, HeaderMapOperations) {
  auto h = load("conformance");
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/headers"},
                                   {"A", "1"},
                                   {"b", "2"},
                                   {"x-replace", "old"},
                                   {"x-replace", "older"},
                                   {"x-remove", "gone"}}),
            FilterHeadersStatus::Continue);
  EXPECT_EQ(header(*s, "x-got-a"), "1");
  EXPECT_EQ(header(*s, "x-got-b"), "2") << "keys are case-insensitive";
  EXPECT_EQ(header(*s, "x-got-missing"), "not-found");
  EXPECT_EQ(header(*s, "x-added"), "1");
  EXPECT_EQ(header(*s, "x-replace"), "new");
  EXPECT_EQ(header(*s, "x-remove"), "<absent>");
  EXPECT_EQ(header(*s, "x-got-count"), "6");
  int replaced = 0;
  s->request_headers.forEach(
      [&](std::string_view k, std::string_view) { replaced += k == "x-replace"; });
  EXPECT_EQ(replaced, 1) << "replace removes other occurrences";
}

TEST_P(Conformance, SetHeaderMapPairsReplacesTheMap) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/set-pairs"}, {"a", "1"}});
  EXPECT_EQ(s->request_headers.entries(),
            (VectorHeaderMap::Entries{{":path", "/rewritten"}, {"only", "this"}}));
}

TEST_P(Conformance, LocalReplyIsDeferredAndForcesStop) {
  auto h = load("conformance");
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/local-reply"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 418u);
  EXPECT_EQ(s->local_reply->body, "teapot");
  EXPECT_EQ(s->local_reply->details, "my_details_here") << "whitespace replaced, as Envoy";
  EXPECT_EQ(s->local_reply->headers, (Headers{{"x-local", "1"}}));
  EXPECT_EQ(s->local_reply->grpc_status, -1);
}

TEST_P(Conformance, TickResumesAParkedStreamThroughTheEffectiveContext) {
  auto h = load("conformance", "tick:100");
  EXPECT_EQ(h->tickPeriodMs(), 100u);
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/pause-tick"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark)
      << "StopIteration on headers stops everything, as Envoy";
  h->advance(std::chrono::milliseconds(99));
  EXPECT_EQ(s->request_continued, 0);
  h->advance(std::chrono::milliseconds(1));
  EXPECT_EQ(s->request_continued, 1);
  EXPECT_EQ(header(*s, "x-resumed-by"), "tick");
  h->advance(std::chrono::milliseconds(250));
  EXPECT_TRUE(h->logged("tick 3"));
}

TEST_P(Conformance, HttpCalloutRoundTrip) {
  auto h = load("conformance");
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/callout"}}),
            FilterHeadersStatus::StopAllIterationAndWatermark);
  ASSERT_EQ(h->httpCalls().size(), 1u);
  const auto call = h->httpCalls()[0];
  EXPECT_EQ(call.token % 4, 0u);
  EXPECT_EQ(call.root, h->rootId());
  EXPECT_EQ(call.request.cluster, "auth_cluster");
  EXPECT_EQ(call.request.body, "payload");
  EXPECT_EQ(call.request.timeout_ms, 1000u);
  h->respondHttpCall(call.token, {{":status", "200"}, {"X-Reply", "r"}}, "ok-body");
  EXPECT_EQ(s->request_continued, 1);
  EXPECT_EQ(header(*s, "x-callout-status"), "200");
  EXPECT_EQ(header(*s, "x-callout-body"), "ok-body");
  EXPECT_EQ(header(*s, "x-callout-header"), "r");
}

TEST_P(Conformance, FailedCalloutAndUnknownCluster) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/callout"}});
  h->respondHttpCall(h->httpCalls()[0].token, {}, "");
  ASSERT_TRUE(s->local_reply);
  EXPECT_EQ(s->local_reply->status, 503u);

  h->unknown_clusters = {"auth_cluster"};
  auto s2 = h->newStream();
  s2->sendRequestHeaders({{":path", "/callout"}});
  ASSERT_TRUE(s2->local_reply);
  EXPECT_EQ(s2->local_reply->body, "http call failed: 2") << "BadArgument for an unknown cluster";
}

TEST_P(Conformance, CalloutAnsweredAfterTheStreamEndedIsHarmless) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/callout"}});
  uint32_t token = h->httpCalls()[0].token;
  s->end();
  h->respondHttpCall(token, {{":status", "200"}}, "late");
  EXPECT_EQ(s->request_continued, 0);
  EXPECT_FALSE(h->vm().failed());
  auto s2 = h->newStream();
  EXPECT_EQ(s2->sendRequestHeaders({{":path", "/none"}}), FilterHeadersStatus::Continue);
}

TEST_P(Conformance, GrpcCallRoundTrip) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/grpc"}});
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  auto& call = h->grpcCalls()[0];
  EXPECT_EQ(call.token % 4, 1u);
  EXPECT_EQ(call.request.service, "grpc_cluster");
  EXPECT_EQ(call.request.service_name, "pkg.Service");
  EXPECT_EQ(call.request.method, "Method");
  EXPECT_EQ(call.request.message, "request");
  EXPECT_EQ(call.request.initial_metadata, (Headers{{"md", "1"}}));
  h->respondGrpcCall(call.token, 0, "reply");
  EXPECT_EQ(header(*s, "x-grpc-status"), "0");
  EXPECT_EQ(header(*s, "x-grpc-message"), "reply");
  EXPECT_TRUE(h->grpcCalls().empty()) << "an answered unary call is forgotten";

  auto s2 = h->newStream();
  s2->sendRequestHeaders({{":path", "/grpc"}});
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  h->respondGrpcCall(h->grpcCalls()[0].token, 14, "unavailable");
  EXPECT_EQ(header(*s2, "x-grpc-status"), "14");
  EXPECT_EQ(header(*s2, "x-grpc-message"), "unavailable");
}

TEST_P(Conformance, Properties) {
  auto h = load("conformance");
  h->host_properties[abi::encodePropertyPath({"node", "id"})] = "node-7";
  auto s = h->newStream();
  s->properties[abi::encodePropertyPath({"source", "port"})] = abi::encodeInt64(4321);
  s->sendRequestHeaders({{":path", "/properties"}, {"a", "hv"}});
  EXPECT_EQ(header(*s, "x-plugin-name"), "conf_plugin");
  EXPECT_EQ(header(*s, "x-plugin-root-id"), "conf_root");
  EXPECT_EQ(header(*s, "x-plugin-vm-id"), "conf_vm_" + GetParam());
  EXPECT_EQ(header(*s, "x-node-id"), "node-7");
  EXPECT_EQ(header(*s, "x-source-port"), "4321");
  EXPECT_EQ(header(*s, "x-header-prop"), "hv");
  EXPECT_EQ(header(*s, "x-state"), "kept");
  EXPECT_EQ(header(*s, "x-missing-prop"), "not-found");
}

TEST_P(Conformance, SharedDataAcrossVmsOfOneVmId) {
  auto a = load("conformance");
  auto b = load("conformance");
  SharedDataStore::instance().clear("conf_vm_" + GetParam());
  for (int i = 1; i <= 3; ++i) {
    auto& h = i % 2 ? a : b;
    auto s = h->newStream();
    s->sendRequestHeaders({{":path", "/shared"}});
    EXPECT_EQ(header(*s, "x-counter"), std::to_string(i));
  }
}

TEST_P(Conformance, SharedQueueNotifiesTheRegistrantOnItsThread) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/queue"}});
  EXPECT_EQ(header(*s, "x-enqueue"), "ok");
  EXPECT_FALSE(h->logged("dequeued hello")) << "delivery is asynchronous";
  EXPECT_GE(h->runPosted(), 1u);
  EXPECT_TRUE(h->logged("dequeued hello"));
}

TEST_P(Conformance, WasiEnvironmentClockAndLogLevel) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/env"}});
  EXPECT_EQ(header(*s, "x-env"), "from-vm-config");
  auto t = h->newStream();
  t->sendRequestHeaders({{":path", "/time"}});
  EXPECT_EQ(header(*t, "x-time-ns"), std::to_string(h->realtimeNanos()));
  h->log_level = LogLevel::Warn;
  auto l = h->newStream();
  l->sendRequestHeaders({{":path", "/log-level"}});
  EXPECT_EQ(header(*l, "x-log-level"), "3");
}

TEST_P(Conformance, OutOfRangeEnumsAreBadArgument) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/bad-enum"}});
  EXPECT_EQ(header(*s, "x-bad-map"), "2");
  EXPECT_EQ(header(*s, "x-bad-buffer"), "2");
  EXPECT_EQ(header(*s, "x-bad-log"), "2");
}

TEST_P(Conformance, BufferedBodyIsReadAndReplaced) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/body"}}, false);
  EXPECT_EQ(s->sendRequestBody("hello ", false), FilterDataStatus::StopIterationAndBuffer);
  EXPECT_EQ(s->sendRequestBody("world", true), FilterDataStatus::Continue);
  EXPECT_EQ(s->request_body, "HELLO WORLD");
}

TEST_P(Conformance, MetricsWithTagsAreProcessWide) {
  auto before = PluginHarness::metric("path./headers.conformance.requests").value_or(0);
  auto h = load("conformance");
  auto h2 = load("conformance");
  for (auto* x : {h.get(), h2.get()}) {
    auto s = x->newStream();
    s->sendRequestHeaders({{":path", "/headers"}});
  }
  EXPECT_EQ(PluginHarness::metric("path./headers.conformance.requests"), before + 2);
  EXPECT_TRUE(PluginHarness::metric("conformance.last_header_count"));
  EXPECT_NE(
      MetricsRegistry::instance().renderPrometheus().find("path__headers_conformance_requests"),
      std::string::npos);
}

TEST_P(Conformance, RootShutdownCallsOnDone) {
  auto h = load("conformance");
  h->clearLogs();
  h->vm().stopPlugin(h->rootId());
  EXPECT_TRUE(h->logged("root on_done"));
}

TEST_P(Conformance, RawAbiPluginWithoutTheSdk) {
  auto h = load("raw_abi");
  EXPECT_TRUE(h->logged("raw plugin: vm started"));
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":path", "/"}}), FilterHeadersStatus::Continue);
  EXPECT_EQ(header(*s, "x-raw"), "yes");
  auto d = h->newStream();
  d->sendRequestHeaders({{":path", "/"}, {"x-deny", "1"}});
  ASSERT_TRUE(d->local_reply);
  EXPECT_EQ(d->local_reply->status, 403u);
  EXPECT_EQ(d->local_reply->details, "raw_denied");
}

// Every engine reads a parameter the host did not pass as 0 (wasm2c's trampolines read the
// arguments in place, so a short argument list takes its padded path).
TEST_P(Conformance, AnExportCalledWithTooFewArgumentsReadsZeros) {
  auto h = load("bench_raw");
  const int32_t add_one = h->vm().exportHandle("bench_noop");  // x + 1
  ASSERT_GE(add_one, 0);
  const CallOutcome passed = h->vm().callExportForTest(add_one, {41});
  ASSERT_TRUE(passed);
  EXPECT_EQ(*passed, 42u);
  const CallOutcome missing = h->vm().callExportForTest(add_one, {});
  ASSERT_TRUE(missing);
  EXPECT_EQ(*missing, 1u);
}

// The host reads and writes memory the plugin grew during the same call: a log from the new
// pages, then a 2 MiB header (more than the whole memory) copied into a block the plugin's
// allocator grew the memory for. The engine's view of the memory must be refreshed after wasm
// ran: when a hostcall is entered and when the nested allocator call returns.
TEST_P(Conformance, TheHostUsesMemoryGrownDuringTheCall) {
  auto h = load("raw_abi");
  auto s = h->newStream();
  std::string big(2 << 20, 'a');
  big.back() = 'z';
  s->request_headers.add("x-big", big);
  const int32_t fn = h->vm().exportHandle("raw_grow_then_use");
  ASSERT_GE(fn, 0);
  const CallOutcome got = h->vm().callExportForTest(fn, {4}, s->id());
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, big.size());
  EXPECT_TRUE(h->logged("logged from grown memory"));
}

// Where cpp-host and Envoy answer a plugin: header pairs in arrival order, the other direction's
// body readable as an empty buffer, and "the rest of the buffer from N" (length 0xffffffff)
// clamped to the buffer rather than refused.
TEST_P(Conformance, AnswersAsEnvoyDoesForOrderBuffersAndRanges) {
  auto h = load("conformance");
  auto s = h->newStream();
  s->sendRequestHeaders({{":path", "/fidelity"}, {"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}}, false);
  EXPECT_EQ(header(*s, "x-got-order"), "x-a=1;x-b=2;x-a=3;");
  EXPECT_EQ(header(*s, "x-got-other-body"), "ok:0");
  s->sendRequestBody("hello", true);
  EXPECT_TRUE(h->logged("rest=ello"));
  s->end();
}

PWX_INSTANTIATE_ON_ALL_ENGINES(Conformance);

}  // namespace
}  // namespace proxy_wasm::host::testing
