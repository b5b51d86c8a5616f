#include "proxy_wasm/abi/pairs.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace proxy_wasm::abi {
namespace {

using Owned = std::vector<std::pair<std::string, std::string>>;

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

// The spec's example for {a:"1", b:"22"}, with its decimal-for-hex typo corrected.
const std::string kSpecExample =
    bytes({0x02, 0,    0, 0, 0x01, 0,    0,    0,    0x01, 0,    0,    0,    0x01, 0,   0,
           0,    0x02, 0, 0, 0,    0x61, 0x00, 0x31, 0x00, 0x62, 0x00, 0x32, 0x32, 0x00});

TEST(Pairs, EncodesTheSpecExample) {
  Owned m{{"a", "1"}, {"b", "22"}};
  EXPECT_EQ(encodedPairsSize(m), kSpecExample.size());
  EXPECT_EQ(encodePairs(m), kSpecExample);
}

TEST(Pairs, DecodesTheSpecExample) {
  std::vector<PairView> out;
  ASSERT_TRUE(decodePairs(kSpecExample, out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0], PairView("a", "1"));
  EXPECT_EQ(out[1], PairView("b", "22"));
}

TEST(Pairs, RoundTripsPseudoHeadersDuplicatesEmptyValuesAndBinary) {
  Owned m{{":method", "GET"},
          {":path", "/x?y=1"},
          {"dup", "1"},
          {"dup", "2"},
          {"empty", ""},
          {"", "empty-key"},
          {"bin", std::string("\x00\xff\x01", 3)}};
  std::string enc = encodePairs(m);
  std::vector<PairView> out;
  ASSERT_TRUE(decodePairs(enc, out));
  ASSERT_EQ(out.size(), m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(out[i].first, m[i].first);
    EXPECT_EQ(out[i].second, m[i].second);
  }
}

TEST(Pairs, EmptyMapIsEmptyBufferAndZeroCountIsAccepted) {
  EXPECT_EQ(encodePairs(Owned{}), "");
  std::vector<PairView> out{{"stale", "x"}};
  EXPECT_TRUE(decodePairs("", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(decodePairs(bytes({0, 0, 0, 0}), out));
  EXPECT_TRUE(out.empty());
}

struct Malformed {
  const char* name;
  std::string input;
};

class PairsMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(PairsMalformed, GivesAnEmptyMap) {
  std::vector<PairView> out{{"stale", "x"}};
  EXPECT_FALSE(decodePairs(GetParam().input, out)) << GetParam().name;
  EXPECT_TRUE(out.empty()) << GetParam().name;
}

std::string withByte(std::string s, size_t i, char c) {
  s[i] = c;
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    All, PairsMalformed,
    ::testing::Values(Malformed{"short_header", bytes({1, 0, 0})},
                      Malformed{"truncated_lengths", kSpecExample.substr(0, 10)},
                      Malformed{"truncated_data", kSpecExample.substr(0, kSpecExample.size() - 1)},
                      Malformed{"trailing_garbage", kSpecExample + "x"},
                      Malformed{"missing_key_nul", withByte(kSpecExample, 21, 'x')},
                      Malformed{"missing_value_nul", withByte(kSpecExample, 23, 'x')},
                      Malformed{"count_too_large_for_buffer", withByte(kSpecExample, 0, 9)},
                      Malformed{"count_over_limit", bytes({0x01, 0x04, 0, 0})},  // 1025
                      Malformed{"huge_count", bytes({0xff, 0xff, 0xff, 0xff})},
                      Malformed{"length_overflow", bytes({1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                          0xff, 0xff, 0xff, 0, 0})}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Pairs, EnforcesTheSizeLimit) {
  Owned big{{"k", std::string(kMaxPairsBytes, 'v')}};
  std::string enc = encodePairs(big);
  std::vector<PairView> out;
  EXPECT_FALSE(decodePairs(enc, out));
  Owned ok{{"k", std::string(kMaxPairsBytes - 64, 'v')}};
  EXPECT_TRUE(decodePairs(encodePairs(ok), out));
  EXPECT_EQ(out.size(), 1u);
}

TEST(Pairs, AcceptsExactlyTheMaximumCount) {
  Owned m;
  for (size_t i = 0; i < kMaxPairs; ++i) m.emplace_back("k" + std::to_string(i), "v");
  std::vector<PairView> out;
  EXPECT_TRUE(decodePairs(encodePairs(m), out));
  EXPECT_EQ(out.size(), kMaxPairs);
  m.emplace_back("one", "more");
  EXPECT_FALSE(decodePairs(encodePairs(m), out));
}

}  // namespace
}  // namespace proxy_wasm::abi
