// scaffold on every engine: without configuration it passes every stream unchanged; configured,
// it adds response headers; a refused configuration fails the load. A new extension copied from
// this folder starts with these tests (README.md).
#include <gtest/gtest.h>

#include "engine_test.h"

namespace {

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;

class Scaffold : public EngineTest {};

TEST_P(Scaffold, ARefusedConfigurationFailsTheLoadNamingTheField) {
  EXPECT_FALSE(load("scaffold", options("scaffold", R"({"response_headers_to_add": []})")));
  EXPECT_NE(error_.find("rejected its configuration"), std::string::npos) << error_;
}

TEST_P(Scaffold, AddsTheConfiguredResponseHeaders) {
  auto h = load("scaffold", options("scaffold", R"({"response_headers_to_add": {"x-a": "1"}})"));
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}}),
            FilterHeadersStatus::Continue);
  EXPECT_EQ(s->sendResponseHeaders({{":status", "200"}}), FilterHeadersStatus::Continue);
  EXPECT_EQ(s->response_headers.get("x-a"), "1");
  EXPECT_TRUE(h->logged("scaffold configured: 1 response header(s) to add"));
}

TEST_P(Scaffold, PassesRequestsAndResponsesUnchanged) {
  auto h = load("scaffold", options("scaffold"));
  ASSERT_TRUE(h) << error_;
  const Headers request = {{":method", "POST"},
                           {":path", "/items?x=1"},
                           {":authority", "a.test"},
                           {"content-type", "application/json"},
                           {"x-a", "1"},
                           {"x-a", "2"}};
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders(request, false), FilterHeadersStatus::Continue);
  EXPECT_EQ(s->sendRequestBody(R"({"id": 7})", true), FilterDataStatus::Continue);
  EXPECT_EQ(s->request_headers.entries(), VectorHeaderMap(request).entries());
  const Headers response = {{":status", "201"}, {"content-length", "2"}};
  EXPECT_EQ(s->sendResponseHeaders(response, false), FilterHeadersStatus::Continue);
  EXPECT_EQ(s->sendResponseBody("ok", true), FilterDataStatus::Continue);
  EXPECT_EQ(s->response_headers.entries(), VectorHeaderMap(response).entries());
  EXPECT_FALSE(s->local_reply);
  s->end();
  EXPECT_FALSE(h->vm().failed());
}

TEST_P(Scaffold, ManyStreamsLeaveNoContextsBehind) {
  auto h = load("scaffold", options("scaffold"));
  ASSERT_TRUE(h) << error_;
  const uint64_t memory_after_one = [&] {
    auto s = h->newStream();
    s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}});
    s->end();
    return h->vm().memoryBytes();
  }();
  for (int i = 0; i < 5000; ++i) {
    auto s = h->newStream();
    ASSERT_EQ(s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}}),
              FilterHeadersStatus::Continue);
    s->end();
  }
  EXPECT_EQ(h->vm().memoryBytes(), memory_after_one) << "stream contexts leak plugin memory";
}

PWX_INSTANTIATE_ON_ALL_ENGINES(Scaffold);

}  // namespace
