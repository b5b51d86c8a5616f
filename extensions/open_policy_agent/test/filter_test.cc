// open_policy_agent in the harness, on every engine, with a fake OPA peer and a fake clock.
#include <gtest/gtest.h>

#include "engine_test.h"
#include "proxy_wasm/abi/property.h"

namespace {

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;

class Opa : public EngineTest {
 protected:
  std::unique_ptr<PluginHarness> load(const std::string& config) {
    HarnessOptions o = options("opa", config);
    o.vm.vm_id = "opa_vm";
    o.host_properties[proxy_wasm::abi::encodePropertyPath({"node", "metadata", "WORKLOAD_NAME"})] =
        "echo-server";
    return EngineTest::load("open_policy_agent", std::move(o));
  }
  std::unique_ptr<FakeStream> request(PluginHarness& h, const std::string& method,
                                      const std::string& path) {
    auto s = h.newStream();
    s->properties[proxy_wasm::abi::encodePropertyPath({"request", "method"})] = method;
    s->properties[proxy_wasm::abi::encodePropertyPath({"request", "url_path"})] =
        path.substr(0, path.find('?'));
    s->properties[proxy_wasm::abi::encodePropertyPath({"connection", "uri_san_peer_certificate"})] =
        "spiffe://cluster.local/ns/default/sa/client";
    status_ = s->sendRequestHeaders({{":method", method}, {":path", path}, {"x-tenant", "t1"}});
    return s;
  }
  int64_t hits() {
    return PluginHarness::metric("wasm_filter.opa_filter.cache.hit.policy_cache_count").value_or(0);
  }
  int64_t misses() {
    return PluginHarness::metric("wasm_filter.opa_filter.cache.miss.policy_cache_count")
        .value_or(0);
  }
  void answer(PluginHarness& h, const std::string& body, const std::string& status = "200") {
    ASSERT_FALSE(h.httpCalls().empty());
    h.respondHttpCall(h.httpCalls().back().token, {{":status", status}}, body);
  }
  FilterHeadersStatus status_{};
};

const char* kConfig =
    R"({"opa_cluster_name": "opa_policy_server", "opa_service_host": "localhost:8181",
                          "check_result_cache_valid_sec": 10})";

TEST_P(Opa, CalloutCarriesTheUpstreamInputDocument) {
  auto h = load(kConfig);
  ASSERT_TRUE(h) << error_;
  auto s = request(*h, "GET", "/echo?x=1");
  EXPECT_EQ(status_, FilterHeadersStatus::StopAllIterationAndWatermark);
  ASSERT_EQ(h->httpCalls().size(), 1u);
  const auto& call = h->httpCalls()[0];
  EXPECT_EQ(call.request.cluster, "opa_policy_server");
  EXPECT_EQ(call.request.timeout_ms, 5000u);
  EXPECT_EQ(
      call.request.body,
      R"({"input":{"destination_workload":"echo-server","request_method":"GET",)"
      R"("request_url_path":"/echo","source_principal":"spiffe://cluster.local/ns/default/sa/client"}})");
  Headers expected = {{":method", "POST"},
                      {":path", "/v1/data/test/allow"},
                      {":authority", "localhost:8181"},
                      {"content-type", "application/json"}};
  EXPECT_EQ(call.request.headers, expected);
}

// ext_authz's allowed_headers / disallowed_headers choose what input.headers carries.
TEST_P(Opa, AllowedAndDisallowedHeadersChooseTheInputHeaders) {
  auto h = load(R"({"opa_cluster_name": "c", "opa_service_host": "h", "input_headers": ["x-b"],
                    "allowed_headers": {"patterns": [{"prefix": "X-Tenant"}, {"exact": "x-a"}]},
                    "disallowed_headers": {"patterns": [{"suffix": "-secret"}]}})");
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  s->sendRequestHeaders({{":method", "GET"},
                         {":path", "/"},
                         {"x-tenant-id", "t1"},
                         {"x-tenant-secret", "s"},
                         {"x-a", "1"},
                         {"x-a", "2"},
                         {"x-b", "b"},
                         {"x-other", "o"}});
  ASSERT_EQ(h->httpCalls().size(), 1u);
  EXPECT_NE(h->httpCalls()[0].request.body.find(
                R"("headers":{"x-a":"1,2","x-b":"b","x-tenant-id":"t1"})"),
            std::string::npos)
      << h->httpCalls()[0].request.body;
  EXPECT_FALSE(load(R"({"opa_cluster_name": "c", "opa_service_host": "h",
                        "allowed_headers": {"patterns": [{"safe_regex": {"regex": "x-.*"}}]}})"));
  EXPECT_NE(error_.find("allowed_headers.patterns[0].safe_regex: unknown field (regular"),
            std::string::npos)
      << error_;
  EXPECT_FALSE(load(R"({"opa_cluster_name": "c", "opa_service_host": "h",
                        "disallowed_headers": {"patterns": [{"exact": "a", "prefix": "b"}]}})"));
  EXPECT_NE(error_.find("disallowed_headers.patterns[0]: exactly one of"), std::string::npos)
      << error_;
}

TEST_P(Opa, AllowAndDenyWithUpstreamsCacheCounts) {
  auto h = load(kConfig);
  auto hit0 = hits(), miss0 = misses();
  for (int i = 0; i < 10; ++i) {
    auto s = request(*h, "GET", "/echo");
    if (i == 0) {
      answer(*h, R"({"result": true})");
      EXPECT_EQ(s->request_continued, 1);
    } else {
      EXPECT_EQ(status_, FilterHeadersStatus::Continue) << "cache hit";
    }
    EXPECT_FALSE(s->local_reply);
  }
  EXPECT_EQ(hits() - hit0, 9);
  EXPECT_EQ(misses() - miss0, 1);
  for (int i = 0; i < 10; ++i) {
    auto s = request(*h, "POST", "/echo");
    if (i == 0) answer(*h, R"({"result": false})");
    ASSERT_TRUE(s->local_reply);
    EXPECT_EQ(s->local_reply->status, 403u);
    EXPECT_EQ(s->local_reply->details, "OPA_policy_check_denied");
  }
  EXPECT_EQ(hits() - hit0, 18);
  EXPECT_EQ(misses() - miss0, 2);
}

TEST_P(Opa, CacheExpiresAfterItsTtl) {
  auto h = load(kConfig);
  auto hit0 = hits(), miss0 = misses();
  for (int i = 0; i < 4; ++i) {
    auto s = request(*h, "POST", "/echo");
    if (!s->local_reply) answer(*h, R"({"result": false})");
    EXPECT_EQ(s->local_reply->status, 403u);
    h->advance(std::chrono::seconds(4));
  }
  EXPECT_EQ(hits() - hit0, 2);     // t=4, t=8
  EXPECT_EQ(misses() - miss0, 2);  // t=0, t=12
}

TEST_P(Opa, InputIsValidJsonWhateverTheBytes) {
  auto h =
      load(R"({"opa_cluster_name": "c", "opa_service_host": "h", "input_headers": ["x-odd"]})");
  auto s = h->newStream();
  s->properties[proxy_wasm::abi::encodePropertyPath({"request", "url_path"})] =
      std::string("/a\"b\\c\n\xff\xc3\xa9", 10);
  s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}, {"x-odd", "\x01"}});
  ASSERT_EQ(h->httpCalls().size(), 1u);
  EXPECT_EQ(h->httpCalls()[0].request.body,
            "{\"input\":{\"destination_workload\":\"echo-server\",\"headers\":{\"x-odd\":"
            "\"\\u0001\"},\"request_method\":\"\",\"request_url_path\":"
            "\"/a\\\"b\\\\c\\n\xef\xbf\xbd\xc3\xa9\",\"source_principal\":\"\"}}");
}

TEST_P(Opa, SwappedFieldsNeverCollide) {
  auto h = load(kConfig);
  auto a = request(*h, "GET", "/POST");  // method GET, path /POST
  answer(*h, R"({"result": true})");
  auto b = request(*h, "POST", "/GET");  // the same values swapped: a different input
  EXPECT_EQ(h->httpCalls().size(), 1u) << "a miss: a new callout, not upstream's colliding hash";
  answer(*h, R"({"result": false})");
  ASSERT_TRUE(b->local_reply);
  EXPECT_EQ(b->local_reply->status, 403u);
}

TEST_P(Opa, ErrorsAreNeverCachedAndTheHttpStatusIsHonoured) {
  auto h = load(kConfig);
  auto s1 = request(*h, "GET", "/echo");
  answer(*h, R"({"result": true})", "500");
  ASSERT_TRUE(s1->local_reply);
  EXPECT_EQ(s1->local_reply->status, 500u) << "a non-200 answer is an error even with a result";
  auto s2 = request(*h, "GET", "/echo");
  EXPECT_EQ(h->httpCalls().size(), 1u) << "not cached: asked again";
  answer(*h, "not json");
  EXPECT_EQ(s2->local_reply->status, 500u);
  auto s3 = request(*h, "GET", "/echo");
  answer(*h, "{}");
  EXPECT_EQ(s3->local_reply->status, 500u) << "undefined document";
  auto s4 = request(*h, "GET", "/echo");
  h->respondHttpCall(h->httpCalls().back().token, {}, "");  // reset
  EXPECT_EQ(s4->local_reply->status, 500u);
}

TEST_P(Opa, FailureModeAllowStatusOnErrorTimeoutAndPolicyPath) {
  auto h =
      load(R"({"opa_cluster_name": "c", "opa_service_host": "h", "policy_path": "authz/decision",
                    "timeout_ms": 200, "failure_mode_allow": true, "input_headers": ["X-Tenant"]})");
  ASSERT_TRUE(h) << error_;
  auto before = PluginHarness::metric("opa.timeout").value_or(0);
  auto s = request(*h, "GET", "/echo");
  const auto& call = h->httpCalls().back();
  EXPECT_EQ(call.request.timeout_ms, 200u);
  EXPECT_EQ(call.request.headers[1].second, "/v1/data/authz/decision");
  EXPECT_NE(call.request.body.find(R"("headers":{"x-tenant":"t1"})"), std::string::npos)
      << call.request.body;
  h->respondHttpCall(call.token, {{":status", "504"}}, "upstream request timeout");
  EXPECT_FALSE(s->local_reply) << "failure_mode_allow";
  EXPECT_EQ(s->request_continued, 1);
  EXPECT_EQ(PluginHarness::metric("opa.timeout"), before + 1);

  auto e = load(R"({"opa_cluster_name": "c", "opa_service_host": "h", "status_on_error": 503})");
  auto s2 = request(*e, "GET", "/echo");
  answer(*e, "garbage");
  EXPECT_EQ(s2->local_reply->status, 503u);
}

// ext_authz's failure_mode_allow_header_add: a request let through on an error carries
// x-envoy-auth-failure-mode-allowed: true, and a client's own copy never passes.
TEST_P(Opa, FailureModeAllowHeaderAdd) {
  auto h = load(R"({"opa_cluster_name": "c", "opa_service_host": "h", "failure_mode_allow": true,
                    "failure_mode_allow_header_add": true, "check_result_cache_valid_sec": 10})");
  ASSERT_TRUE(h) << error_;
  auto s = request(*h, "GET", "/echo");
  h->respondHttpCall(h->httpCalls().back().token, {}, "");  // the callout failed
  EXPECT_EQ(s->request_continued, 1);
  EXPECT_EQ(s->request_headers.get("x-envoy-auth-failure-mode-allowed"), "true");
  auto forged = h->newStream();
  forged->sendRequestHeaders(
      {{":method", "GET"}, {":path", "/echo"}, {"x-envoy-auth-failure-mode-allowed", "true"}});
  answer(*h, R"({"result": true})");
  EXPECT_EQ(forged->request_continued, 1);
  EXPECT_FALSE(forged->request_headers.get("x-envoy-auth-failure-mode-allowed"))
      << "a real decision: no marker, and not the client's";
}

TEST_P(Opa, ObjectResultsAddHeadersOrShapeTheDenial) {
  auto h = load(kConfig);
  auto s = request(*h, "GET", "/echo");
  answer(*h, R"({"result": {"allow": true, "headers": {"x-user-tier": "gold"}}})");
  EXPECT_EQ(s->request_headers.get("x-user-tier"), "gold");
  auto d = request(*h, "POST", "/echo");
  answer(*h, R"({"result": {"allow": false, "status": 401, "body": "login first"}})");
  ASSERT_TRUE(d->local_reply);
  EXPECT_EQ(d->local_reply->status, 401u);
  EXPECT_EQ(d->local_reply->body, "login first");
}

TEST_P(Opa, ClientGoneBeforeOpaAnswers) {
  auto h = load(kConfig);
  auto s = request(*h, "GET", "/echo");
  uint32_t token = h->httpCalls().back().token;
  s.reset();  // the stream ends (on_log, on_done, on_delete) while the callout is pending
  h->respondHttpCall(token, {{":status", "200"}}, R"({"result": true})");
  EXPECT_FALSE(h->vm().failed());
  EXPECT_EQ(s, nullptr);
  auto again = request(*h, "GET", "/echo");
  EXPECT_EQ(h->httpCalls().size(), 1u)
      << "a new request asks again; nothing touched the dead stream";
  answer(*h, R"({"result": true})");
  EXPECT_EQ(again->request_continued, 1);
}

TEST_P(Opa, LruEvictsTheLeastRecentlyUsedEntry) {
  auto h =
      load(R"({"opa_cluster_name": "c", "opa_service_host": "h", "check_result_cache_valid_sec": 60,
                    "cache_max_entries": 2})");
  for (const char* p : {"/a", "/b"}) {
    auto s = request(*h, "GET", p);
    answer(*h, R"({"result": true})");
  }
  request(*h, "GET", "/a");  // /a is now the most recently used
  auto c = request(*h, "GET", "/c");
  answer(*h, R"({"result": true})");  // evicts /b
  size_t calls = h->httpCalls().size();
  request(*h, "GET", "/a");
  EXPECT_EQ(h->httpCalls().size(), calls) << "/a still cached";
  request(*h, "GET", "/b");
  EXPECT_EQ(h->httpCalls().size(), calls + 1) << "/b was evicted";
}

// ext_authz's filter_enabled: outside the fraction a request passes unasked (counted as
// opa.disabled); 0% asks nothing, 100% asks for every request.
TEST_P(Opa, FilterEnabledFraction) {
  const int64_t before = PluginHarness::metric("opa.disabled").value_or(0);
  auto none = load(R"({"opa_cluster_name": "c", "opa_service_host": "h",
                       "filter_enabled": {"default_value": {"numerator": 0}}})");
  ASSERT_TRUE(none) << error_;
  for (int i = 0; i < 20; ++i) {
    auto s = request(*none, "GET", "/echo");
    EXPECT_EQ(status_, FilterHeadersStatus::Continue);
  }
  EXPECT_TRUE(none->httpCalls().empty());
  EXPECT_EQ(PluginHarness::metric("opa.disabled").value_or(0) - before, 20);
  auto half = load(R"({"opa_cluster_name": "c", "opa_service_host": "h",
                       "filter_enabled": {"default_value": {"numerator": 5000,
                                                            "denominator": "TEN_THOUSAND"}}})");
  ASSERT_TRUE(half) << error_;
  int asked = 0;
  for (int i = 0; i < 400; ++i) {
    auto s = request(*half, "GET", "/echo");
    if (status_ != FilterHeadersStatus::Continue) {
      ++asked;
      answer(*half, R"({"result": true})");
    }
  }
  EXPECT_GT(asked, 120);  // 200 expected; 7 standard deviations either way
  EXPECT_LT(asked, 280);
}

// The configuration's fields are tested natively (config_test.cc); here, that a refused one
// fails the load with its path.
TEST_P(Opa, ARefusedConfigurationFailsTheLoadNamingTheField) {
  EXPECT_FALSE(load(R"({"opa_service_host": "h"})"));
  EXPECT_NE(error_.find("opa_cluster_name: missing required field"), std::string::npos) << error_;
}

PWX_INSTANTIATE_ON_ALL_ENGINES(Opa);

}  // namespace
