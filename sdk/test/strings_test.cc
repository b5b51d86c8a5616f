// The shared ASCII helpers: case folding touches only A-Z, ports are stripped outside IPv6
// literals only.
#include "proxy_wasm/sdk/strings.h"

#include <gtest/gtest.h>

namespace {

using namespace proxy_wasm::strings;

TEST(Strings, LowerCasingTouchesOnlyAsciiLetters) {
  EXPECT_EQ(lowerAscii("X-Request-ID"), "x-request-id");
  EXPECT_EQ(lowerAscii("\xc3\x84-@[`{"), "\xc3\x84-@[`{");  // UTF-8 and the neighbours of A-Z
  std::string s = "Content-Type";
  lowerAsciiInPlace(s);
  EXPECT_EQ(s, "content-type");
}

TEST(Strings, CaseInsensitiveComparisons) {
  EXPECT_TRUE(equalsIgnoreCaseAscii("Authorization", "authorization"));
  EXPECT_FALSE(equalsIgnoreCaseAscii("authorization", "authorizatio"));
  EXPECT_FALSE(equalsIgnoreCaseAscii("[", "{"));  // '[' is not 'Z' + 1 lower-cased
  EXPECT_TRUE(startsWithIgnoreCaseAscii("BEARER abc", "Bearer "));
  EXPECT_FALSE(startsWithIgnoreCaseAscii("Bear", "Bearer "));
  static_assert(equalsIgnoreCaseAscii("HOST", "host"));
}

TEST(Strings, StripPortKeepsIpv6Literals) {
  EXPECT_EQ(stripPort("example.com:8080"), "example.com");
  EXPECT_EQ(stripPort("example.com"), "example.com");
  EXPECT_EQ(stripPort("10.0.0.1:443"), "10.0.0.1");
  EXPECT_EQ(stripPort("[::1]:80"), "[::1]");
  EXPECT_EQ(stripPort("[::1]"), "[::1]");
  EXPECT_EQ(stripPort(""), "");
}

}  // namespace
