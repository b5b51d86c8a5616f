#include "proxy_wasm/sdk/base64.h"

#include <gtest/gtest.h>

namespace proxy_wasm::base64 {
namespace {

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(encode(""), "");
  EXPECT_EQ(encode("f"), "Zg==");
  EXPECT_EQ(encode("fo"), "Zm8=");
  EXPECT_EQ(encode("foo"), "Zm9v");
  EXPECT_EQ(encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(encode("admin:admin"), "YWRtaW46YWRtaW4=");
}

TEST(Base64, DecodesPaddedAndUnpadded) {
  EXPECT_EQ(decode("Zg=="), "f");
  EXPECT_EQ(decode("Zg"), "f");
  EXPECT_EQ(decode("Zm8="), "fo");
  EXPECT_EQ(decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode("YWRtaW46YWRtaW4="), "admin:admin");
  EXPECT_EQ(decode(""), "") << "empty is a valid encoding, distinct from failure";
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  EXPECT_EQ(decode(encode(all)), all);
}

TEST(Base64, RejectsAnythingNotCanonical) {
  for (const char* bad : {"Z", "Zg=", "Zg===", "Z===", "====", "Zh==", "Zm9=", "Zm 9v", "Zm9v\n",
                          "Zm-v", "Zm_v", "Zg==Zg==", "=Zm9", "Zm9v=", "\xff\xff\xff\xff"}) {
    EXPECT_FALSE(decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace proxy_wasm::base64
