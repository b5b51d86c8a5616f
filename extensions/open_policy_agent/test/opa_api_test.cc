// OPA's REST Data API as the plugin speaks it (opa_api.h), natively under ASan and UBSan.
#include <gtest/gtest.h>

#include "opa_api.h"

namespace open_policy_agent {
namespace {

TEST(OpaApi, BoolAndObjectResults) {
  auto allow = parseResult(R"({"result": true})");
  ASSERT_TRUE(allow) << allow.error();
  EXPECT_TRUE(allow->allow);
  auto shaped = parseResult(R"({"result": {"allow": false, "status": 401, "body": "login first",
                                 "headers": {"x-reason": "expired"}}})");
  ASSERT_TRUE(shaped) << shaped.error();
  EXPECT_FALSE(shaped->allow);
  EXPECT_EQ(shaped->status, 401u);
  EXPECT_EQ(shaped->body, "login first");
  EXPECT_EQ(shaped->headers, (proxy_wasm::HeaderList{{"x-reason", "expired"}}));
  EXPECT_EQ(parseResult(R"({"result": {"allow": false}})")->status, 403u) << "the default";
}

TEST(OpaApi, AnswersThatAreNotADecisionAreErrors) {
  EXPECT_FALSE(parseResult("<html>"));
  EXPECT_NE(parseResult("{}").error().find("no result"), std::string::npos);
  EXPECT_NE(parseResult(R"({"result": {"status": 200}})").error().find("allow"), std::string::npos);
  EXPECT_FALSE(parseResult(R"({"result": "yes"})"));
  EXPECT_FALSE(parseResult(R"({"result": {"allow": true, "headers": {"x": 1}}})"));
}

TEST(OpaApi, JsonStringsAreValidWhateverTheBytes) {
  std::string out;
  appendJsonString(out, std::string("/a\"b\\c\n\x01\xff\xc3\xa9\xe2\x82", 13));
  // Quotes and backslashes escaped, controls as JSON escapes, valid UTF-8 kept, the rest U+FFFD.
  EXPECT_EQ(out, "\"/a\\\"b\\\\c\\n\\u0001\xef\xbf\xbd\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace open_policy_agent
