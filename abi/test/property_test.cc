#include "proxy_wasm/abi/property.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace proxy_wasm::abi {
namespace {

std::vector<std::string> split(std::string_view path) {
  std::vector<std::string> out;
  splitPropertyPath(path, [&](std::string_view s) { out.emplace_back(s); });
  return out;
}

TEST(PropertyPath, JoinsWithNulAndSplitsBothStyles) {
  std::string p = encodePropertyPath({"request", "headers", "x-id"});
  EXPECT_EQ(p, std::string("request\0headers\0x-id", 20));
  EXPECT_EQ(split(p), (std::vector<std::string>{"request", "headers", "x-id"}));
  // The C++ SDK style with a trailing NUL names the same property.
  EXPECT_EQ(split(p + '\0'), split(p));
  EXPECT_EQ(split("plugin_root_id"), (std::vector<std::string>{"plugin_root_id"}));
}

TEST(PropertyValue, IntegersAreEightByteLittleEndian) {
  EXPECT_EQ(encodeInt64(1), std::string("\x01\0\0\0\0\0\0\0", 8));
  EXPECT_EQ(decodeInt64(encodeInt64(-2)), -2);
  EXPECT_EQ(decodeInt64(encodeInt64(INT64_MAX)), INT64_MAX);
  EXPECT_FALSE(decodeInt64("1234567").has_value());
}

TEST(PropertyValue, BoolsAreOneByte) {
  EXPECT_EQ(decodeBool(encodeBool(true)), true);
  EXPECT_EQ(decodeBool(encodeBool(false)), false);
  EXPECT_FALSE(decodeBool("").has_value());
}

}  // namespace
}  // namespace proxy_wasm::abi
