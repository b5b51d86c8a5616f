// grpc_access_logging's configuration: JSON, every error naming its field.
#include "plugin.h"
#include "proxy_wasm/sdk/json.h"

namespace grpc_access_logging {

using proxy_wasm::Expected;
using proxy_wasm::unexpected;
namespace json = proxy_wasm::json;

namespace {

Expected<std::optional<ServiceTarget>, std::string> service(const json::Value& root,
                                                            std::string_view key) {
  auto v = root.getString(key);
  if (!v) return unexpected(v.error().toString());
  if (!*v) return std::optional<ServiceTarget>();
  if ((*v)->empty()) return unexpected(std::string(key) + ": must not be empty");
  return std::optional<ServiceTarget>(ServiceTarget{**v, encodeGrpcService(**v)});
}

// A positive integer no larger than `max`, or the default when absent.
std::optional<std::string> bounded(const json::Value& root, std::string_view key, uint32_t max,
                                   uint32_t* out) {
  auto v = root.getUint64(key);
  if (!v) return v.error().toString();
  if (!*v) return std::nullopt;
  if (**v == 0 || **v > max) {
    return std::string(key) + ": must be between 1 and " + std::to_string(max);
  }
  *out = static_cast<uint32_t>(**v);
  return std::nullopt;
}

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  auto doc = json::parseObject(text, true);
  if (!doc) return unexpected("cannot parse plugin configuration: " + doc.error().toString());
  const json::Value root = doc->root();
  if (auto bad = root.unknownField({"logging_service", "otlp_service", "flush_interval_ms",
                                    "max_batch_entries", "max_batch_bytes", "max_buffered_entries",
                                    "timeout_ms"})) {
    return unexpected(bad->toString());
  }
  Config c;
  auto logging = service(root, "logging_service");
  if (!logging) return unexpected(logging.error());
  auto otlp = service(root, "otlp_service");
  if (!otlp) return unexpected(otlp.error());
  c.logging_service = std::move(*logging);
  c.otlp_service = std::move(*otlp);
  if (!c.logging_service && !c.otlp_service) {
    return unexpected(std::string("logging_service or otlp_service: at least one is required"));
  }
  constexpr uint32_t kHour = 3'600'000;
  const std::pair<std::string_view, std::pair<uint32_t, uint32_t*>> limits[] = {
      {"flush_interval_ms", {kHour, &c.flush_interval_ms}},
      {"max_batch_entries", {100'000, &c.max_batch_entries}},
      {"max_batch_bytes", {4u << 20, &c.max_batch_bytes}},
      {"max_buffered_entries", {10'000'000, &c.max_buffered_entries}},
      {"timeout_ms", {kHour, &c.timeout_ms}},
  };
  for (const auto& [key, limit] : limits) {
    if (auto e = bounded(root, key, limit.first, limit.second)) return unexpected(*e);
  }
  if (c.max_buffered_entries < c.max_batch_entries) {
    return unexpected("max_buffered_entries: must be at least max_batch_entries (" +
                      std::to_string(c.max_batch_entries) + ")");
  }
  return c;
}

}  // namespace grpc_access_logging
