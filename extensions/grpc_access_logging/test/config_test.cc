// grpc_access_logging's configuration and its protobuf wire basics, natively under ASan and
// UBSan: what each field becomes, every refused value refused with its JSON path.
#include <gtest/gtest.h>

#include "config.h"
#include "testing/config_expectations.h"
#include "wire.h"

namespace grpc_access_logging {
namespace {

using pwx::testing::expectRefused;

TEST(GrpcAccessLoggingConfig, ServicesAndLimits) {
  auto c = parseConfig(R"({"logging_service": "collector:9001", "otlp_service": "otel",
                           "flush_interval_ms": 200, "max_batch_entries": 10,
                           "max_batch_bytes": 4096, "max_buffered_entries": 100,
                           "timeout_ms": 750})");
  ASSERT_TRUE(c) << c.error();
  ASSERT_TRUE(c->logging_service);
  EXPECT_EQ(c->logging_service->configured, "collector:9001");
  ASSERT_TRUE(c->otlp_service);
  EXPECT_EQ(c->otlp_service->configured, "otel");
  EXPECT_EQ(c->flush_interval_ms, 200u);
  EXPECT_EQ(c->max_batch_entries, 10u);
  EXPECT_EQ(c->max_batch_bytes, 4096u);
  EXPECT_EQ(c->max_buffered_entries, 100u);
  EXPECT_EQ(c->timeout_ms, 750u);
  auto defaults = parseConfig(R"({"otlp_service": "otel"})");
  ASSERT_TRUE(defaults) << defaults.error();
  EXPECT_FALSE(defaults->logging_service);
  EXPECT_EQ(defaults->flush_interval_ms, 1000u);
  EXPECT_EQ(defaults->max_batch_entries, 500u);
}

// envoy.config.core.v3.GrpcService: google_grpc (2) {target_uri (1), stat_prefix (4)} for a
// "host:port", envoy_grpc (1) {cluster_name (1)} for a cluster.
TEST(GrpcAccessLoggingConfig, ServicesBecomeEnvoysGrpcService) {
  EXPECT_EQ(encodeGrpcService("logs"), std::string("\x0a\x06\x0a\x04logs", 8));
  const std::string target = "collector:9001";
  const std::string prefix = "grpc_access_logging";
  const std::string inner = "\x0a\x0e" + target + "\x22\x13" + prefix;
  EXPECT_EQ(encodeGrpcService(target), "\x12" + std::string(1, char(inner.size())) + inner);
  auto c = parseConfig(R"({"logging_service": "collector:9001"})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->logging_service->grpc_service, encodeGrpcService(target));
}

TEST(GrpcAccessLoggingConfig, RefusedValuesNameTheirPath) {
  expectRefused(
      parseConfig,
      {
          {"{}", "logging_service or otlp_service: at least one is required"},
          {R"({"logging_service": ""})", "logging_service: must not be empty"},
          {R"({"logging_service": 5})", "logging_service: expected string"},
          {R"({"logging_service": "a:1", "flush_interval": 5})", "flush_interval: unknown field"},
          {R"({"logging_service": "a:1", "max_batch_entries": 0})",
           "max_batch_entries: must be at least 1"},
          {R"({"logging_service": "a:1", "max_batch_entries": 100001})",
           "max_batch_entries: must be at most 100000"},
          {R"({"logging_service": "a:1", "max_batch_entries": 50, "max_buffered_entries": 10})",
           "max_buffered_entries: must be at least max_batch_entries (50)"},
          {R"({"logging_service": "a:1", "timeout_ms": 3600001})", "timeout_ms: must be at most"},
      });
}

TEST(GrpcAccessLoggingWire, LengthDelimitedFieldsAndVarints) {
  std::string out;
  appendField(out, 2, "hi");
  EXPECT_EQ(out, "\x12\x02hi");
  std::string big;
  appendField(big, 1, std::string(300, 'x'));
  EXPECT_EQ(big.substr(0, 3), "\x0a\xac\x02") << "300 as a two-byte varint";
  EXPECT_EQ(big.size(), 3u + 300u);
  EXPECT_EQ(fieldFraming(300), 3u);
  EXPECT_EQ(varintSize(0), 1u);
  EXPECT_EQ(varintSize(127), 1u);
  EXPECT_EQ(varintSize(128), 2u);
  EXPECT_EQ(varintSize(UINT64_MAX), 10u);
  std::string high;
  appendField(high, 20, "");
  EXPECT_EQ(high, std::string("\xa2\x01\x00", 3)) << "a field above 15 takes a two-byte tag";
}

}  // namespace
}  // namespace grpc_access_logging
