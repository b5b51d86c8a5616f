// local_rate_limit's configuration, natively under ASan and UBSan: what each field becomes, and
// that every refused value is refused with its JSON path.
#include <gtest/gtest.h>

#include "config.h"
#include "testing/config_expectations.h"

namespace local_rate_limit {
namespace {

using pwx::testing::expectRefused;

TEST(LocalRateLimitConfig, EnvoysTokenBucket) {
  auto c = parseConfig(R"({"max_tokens": 5, "tokens_per_refill": 2, "fill_interval": "1.5s",
                           "status": 503, "body": "slow down", "rate_limit_headers": true,
                           "shadow_mode": true, "max_keys": 7,
                           "response_headers_to_add": [{"header": {"key": "x-a", "value": "1"}}],
                           "filter_enabled": {"default_value": {"numerator": 50,
                                                                "denominator": "HUNDRED"}}})");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->windows.size(), 1u);
  EXPECT_EQ(c->windows[0].max_tokens, 5u);
  EXPECT_EQ(c->windows[0].tokens_per_refill, 2u);
  EXPECT_EQ(c->windows[0].interval_ns, 1'500'000'000u);
  EXPECT_EQ(c->status, 503u);
  EXPECT_EQ(c->body, "slow down");
  EXPECT_TRUE(c->rate_limit_headers);
  EXPECT_TRUE(c->shadow_mode);
  EXPECT_EQ(c->max_keys, 7u);
  EXPECT_EQ(c->response_headers_to_add, (proxy_wasm::HeaderList{{"x-a", "1"}}));
  EXPECT_EQ(c->enabled_per_million, 500'000u);
  EXPECT_EQ(c->enforced_per_million, 1'000'000u);
}

TEST(LocalRateLimitConfig, NumericStringsAndUpstreamsSecondsAreAccepted) {
  auto c =
      parseConfig(R"({"max_tokens": "5", "tokens_per_refill": "1", "refill_interval_sec": "2"})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->windows[0].interval_ns, 2'000'000'000u);
}

TEST(LocalRateLimitConfig, HigressWindowsAlongsideTheBucket) {
  auto c = parseConfig(R"({"query_per_second": 10, "query_per_day": 1000})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->windows.size(), 2u);
}

TEST(LocalRateLimitConfig, KeySourcesInOrderWithHeaderNamesLowerCased) {
  auto c = parseConfig(R"({"query_per_second": 1,
                           "key": [{"header": "X-Api-Key"}, {"cookie": "session"},
                                   {"masked_remote_address": {"v4_prefix_mask_len": 24}},
                                   {"xff_hop": 2}, {"path": true}],
                           "local_rate_limit_per_downstream_connection": true})");
  ASSERT_TRUE(c) << c.error();
  ASSERT_EQ(c->key.size(), 6u);
  EXPECT_EQ(c->key[0].kind, KeyPart::Kind::Header);
  EXPECT_EQ(c->key[0].name, "x-api-key");
  EXPECT_EQ(c->key[1].kind, KeyPart::Kind::Cookie);
  EXPECT_EQ(c->key[2].kind, KeyPart::Kind::MaskedAddress);
  EXPECT_EQ(c->key[2].v4_prefix, 24);
  EXPECT_EQ(c->key[2].v6_prefix, 128);
  EXPECT_EQ(c->key[3].hop, 2);
  EXPECT_EQ(c->key[4].kind, KeyPart::Kind::Path);
  EXPECT_EQ(c->key[5].kind, KeyPart::Kind::Connection);
}

TEST(LocalRateLimitConfig, DescriptorsWithTheirOwnWindows) {
  auto c = parseConfig(R"({"descriptors": [
      {"entries": [{"source": {"header": "x-tier"}, "value": "gold"}], "query_per_minute": 5},
      {"entries": [{"source": {"header": "x-tenant"}}],
       "max_tokens": 2, "tokens_per_refill": 2, "fill_interval": "60s"}]})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_TRUE(c->windows.empty()) << "no top-level limit: other requests pass";
  ASSERT_EQ(c->descriptors.size(), 2u);
  EXPECT_EQ(c->descriptors[0].entries[0].value, "gold");
  EXPECT_FALSE(c->descriptors[1].entries[0].value);
  EXPECT_EQ(c->descriptors[1].windows[0].interval_ns, 60'000'000'000u);
}

TEST(LocalRateLimitConfig, RefusedValuesNameTheirPath) {
  expectRefused(
      parseConfig,
      {
          {R"({"max_tokens": 5, "tokens_per_refill": 1, "refill_interval_sec": 0})",
           "refill_interval_sec: must be at least 1"},
          {R"({"tokens_per_refill": 1, "refill_interval_sec": 1})",
           "max_tokens: missing required field"},
          {R"({"max_tokens": 5, "tokens_per_refill": 1, "fill_interval": "10ms"})",
           "fill_interval: must be at least 50ms"},
          {R"({"max_tokens": 5, "tokens_per_refill": 1, "refill_interval_sec": 1, "key": {"body": "x"}})",
           "key.body: unknown key source"},
          {R"({"query_per_minute": 0})", "query_per_minute: must be at least 1"},
          {R"({"query_per_day": "many"})", "query_per_day"},
          {R"({"max_tokens": 5, "query_per_second": 1})",
           "tokens_per_refill: missing required field"},
          {R"({"query_per_second": 1, "requests_per_second": 5})",
           "requests_per_second: unknown field"},
          {R"({"status": 429})", "query_per_second/minute/hour/day"},
          {R"({"query_per_second": 1, "status": 200})", "status: must be at least 400"},
          {R"({"query_per_second": 1, "key": [{"xff_hop": 0}]})", "key[0].xff_hop: expected a hop"},
          {R"({"query_per_second": 1, "key": [{"masked_remote_address": {"v4_prefix_mask_len": 33}}]})",
           "key[0].masked_remote_address.v4_prefix_mask_len: expected 0 to 32"},
          {R"({"query_per_second": 1, "enable_x_ratelimit_headers": "ON"})",
           "enable_x_ratelimit_headers: expected OFF or DRAFT_VERSION_03"},
          {R"({"descriptors": [{"query_per_minute": 5}]})",
           "descriptors[0].entries: missing required"},
          {R"({"descriptors": [{"entries": [], "query_per_minute": 5}]})",
           "descriptors[0].entries: at least one entry is required"},
      });
  EXPECT_FALSE(parseConfig("")) << "a limit is required";
}

}  // namespace
}  // namespace local_rate_limit
