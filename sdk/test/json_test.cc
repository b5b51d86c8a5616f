#include "proxy_wasm/sdk/json.h"

#include <gtest/gtest.h>

namespace proxy_wasm::json {
namespace {

TEST(Json, ErrorsNameTheFieldPath) {
  auto doc = parseObject(R"({"basic_auth_rules":[{},{},{"credentials":["ok", 7]}]})");
  ASSERT_TRUE(doc);
  auto rules = doc->root().getArray("basic_auth_rules");
  ASSERT_TRUE(rules);
  auto creds = (*rules)[2].getStringList("credentials");
  ASSERT_FALSE(creds);
  EXPECT_EQ(creds.error().toString(),
            "basic_auth_rules[2].credentials[1]: expected string, got number");
}

TEST(Json, RejectsInvalidJsonAndNonObjects) {
  EXPECT_EQ(parseObject("{").error().toString(), "configuration is not valid JSON");
  EXPECT_EQ(parseObject("[1]").error().toString(),
            "configuration must be a JSON object, got array");
  EXPECT_FALSE(parseObject(""));
  EXPECT_TRUE(parseObject("  ", /*empty_is_object=*/true));
}

TEST(Json, IntegersAcceptNumbersAndDecimalStrings) {
  auto doc = parseObject(R"({"a":10,"b":"20","c":"x","d":true,"e":-1,"f":2.9})");
  auto root = doc->root();
  EXPECT_EQ(*root.getInt64("a"), 10);
  EXPECT_EQ(*root.getInt64("b"), 20);
  EXPECT_EQ(root.getInt64("c").error().toString(), "c: expected an integer, got string \"x\"");
  EXPECT_EQ(root.getInt64("d").error().toString(), "d: expected integer, got boolean");
  EXPECT_EQ(root.getUint64("e").error().toString(), "e: expected a non-negative integer");
  EXPECT_EQ(*root.getInt64("f"), 2);
  EXPECT_FALSE(root.getInt64("missing")->has_value());
}

TEST(Json, BoolsAcceptTrueFalseStrings) {
  auto root = parseObject(R"({"a":true,"b":"false","c":"yes"})")->root();
  EXPECT_EQ(*root.getBool("a"), true);
  EXPECT_EQ(*root.getBool("b"), false);
  EXPECT_FALSE(root.getBool("c"));
}

TEST(Json, RequireAndNestedPaths) {
  auto root = parseObject(R"({"outer":{"inner":{"x":"y"}}})")->root();
  auto inner = root.require("outer");
  ASSERT_TRUE(inner);
  auto missing = inner->require("nope");
  EXPECT_EQ(missing.error().toString(), "outer.nope: missing required field");
  auto obj = inner->require("inner")->asObject();
  ASSERT_TRUE(obj);
  EXPECT_EQ((*obj)[0].first, "x");
  EXPECT_EQ((*obj)[0].second.path(), "outer.inner.x");
}

TEST(Json, RequiredAndDefaultedMembersInOneCall) {
  auto root = parseObject(R"({"name":"x","n":"7","flag":true,"bad":[1]})")->root();
  EXPECT_EQ(*root.requireString("name"), "x");
  EXPECT_EQ(root.requireString("nope").error().toString(), "nope: missing required field");
  EXPECT_EQ(root.requireString("bad").error().path, "bad");
  EXPECT_EQ(*root.requireUint64("n"), 7u);
  EXPECT_EQ(*root.getString("absent", "fallback"), "fallback");
  EXPECT_EQ(*root.getString("name", "fallback"), "x");
  EXPECT_FALSE(root.getString("bad", "fallback")) << "the wrong type is an error, not the default";
  EXPECT_EQ(*root.getUint64("absent", 5), 5u);
  EXPECT_EQ(*root.getBool("flag", false), true);
  EXPECT_EQ(*root.getBool("absent", true), true);
}

}  // namespace
}  // namespace proxy_wasm::json
