// VectorHeaderMap and lowerAscii: keys are stored lower-cased, ASCII letters only.
#include <gtest/gtest.h>

#include <string>

#include "proxy_wasm/host/embedder.h"

namespace proxy_wasm::host {
namespace {

std::string lowerBytewise(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return s;
}

// Every byte value at every position of strings up to 40 bytes long (the word-at-a-time part and
// the tail), with neighbours that sit on the edges of 'A'..'Z' and of the top bit.
TEST(LowerAscii, ChangesOnlyAsciiUpperCaseLetters) {
  const std::string fill = "@Z[`az{\x7F\x80\xC1\xDA\xFF";
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t pos = 0; pos < len; ++pos) {
      for (int b = 0; b < 256; ++b) {
        std::string s(len, ' ');
        for (size_t i = 0; i < len; ++i) s[i] = fill[(i + len) % fill.size()];
        s[pos] = static_cast<char>(b);
        ASSERT_EQ(lowerAscii(s), lowerBytewise(s))
            << "len " << len << " pos " << pos << " byte " << b;
      }
    }
  }
  EXPECT_EQ(lowerAscii(""), "");
}

TEST(VectorHeaderMap, StoresKeysLowerCasedAndFindsThemInAnyCase) {
  VectorHeaderMap m;
  m.add("X-Request-ID-Of-A-Long-Header-Name", "Value-Kept");
  m.add("HOST", "Example.COM");
  EXPECT_EQ(m.entries()[0].first, "x-request-id-of-a-long-header-name");
  EXPECT_EQ(m.entries()[0].second, "Value-Kept");
  EXPECT_EQ(m.entries()[1].first, "host");
  EXPECT_EQ(m.get("Host").value_or(""), "Example.COM");
  EXPECT_EQ(m.get("x-REQUEST-id-of-a-long-header-name").value_or(""), "Value-Kept");
}

}  // namespace
}  // namespace proxy_wasm::host
