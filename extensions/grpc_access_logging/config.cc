// grpc_access_logging's configuration: JSON, every error naming its field.
#include "config.h"

#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/json.h"
#include "wire.h"

namespace grpc_access_logging {

using proxy_wasm::Expected;
using proxy_wasm::unexpected;
namespace json = proxy_wasm::json;

namespace {

template <std::optional<ServiceTarget> Config::* member>
std::optional<std::string> readService(const json::Value& v, Config& c) {
  auto target = v.asString();
  if (!target) return target.error().toString();
  if (target->empty()) return v.path() + ": must not be empty";
  c.*member = ServiceTarget{*target, encodeGrpcService(*target)};
  return std::nullopt;
}

std::optional<std::string> checkTogether(const json::Value&, Config& c) {
  if (!c.logging_service && !c.otlp_service) {
    return std::string("logging_service or otlp_service: at least one is required");
  }
  if (c.max_buffered_entries < c.max_batch_entries) {
    return "max_buffered_entries: must be at least max_batch_entries (" +
           std::to_string(c.max_batch_entries) + ")";
  }
  return std::nullopt;
}

constexpr uint32_t kHour = 3'600'000;

const auto kSchema =
    proxy_wasm::config::Schema<Config>()
        .field("logging_service", readService<&Config::logging_service>)
        .field("otlp_service", readService<&Config::otlp_service>)
        .integer("flush_interval_ms", &Config::flush_interval_ms, {1, kHour})
        .integer("max_batch_entries", &Config::max_batch_entries, {1, 100'000})
        .integer("max_batch_bytes", &Config::max_batch_bytes, {1, 4u << 20})
        .integer("max_buffered_entries", &Config::max_buffered_entries, {1, 10'000'000})
        .integer("timeout_ms", &Config::timeout_ms, {1, kHour})
        .check(checkTogether);

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  return kSchema.parse(text, /*empty_is_object=*/true);
}

std::string encodeGrpcService(std::string_view target) {
  // envoy.config.core.v3.GrpcService: envoy_grpc = 1 {cluster_name = 1}, google_grpc = 2
  // {target_uri = 1, stat_prefix = 4}. A "host:port" is a target, anything else a cluster.
  std::string inner;
  const bool is_target = target.find(':') != std::string_view::npos;
  appendField(inner, 1, target);
  if (is_target) appendField(inner, 4, "grpc_access_logging");
  std::string service;
  appendField(service, is_target ? 2 : 1, inner);
  return service;
}

}  // namespace grpc_access_logging
