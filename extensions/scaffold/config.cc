// scaffold's configuration read through the SDK's schema (config.h).
#include "config.h"

#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/json.h"

namespace scaffold {
namespace {

// A field the schema's built-in kinds do not cover gets a reader: {"name": "value", ...}.
std::optional<std::string> readHeaders(const proxy_wasm::json::Value& v, Config& c) {
  auto members = v.asObject();
  if (!members) return members.error().toString();
  for (const auto& [name, value] : *members) {
    auto text = value.asString();
    if (!text) return text.error().toString();
    if (name.empty() || name.front() == ':') return value.path() + ": not a header name";
    c.response_headers_to_add.emplace_back(name, *text);
  }
  return std::nullopt;
}

const auto kSchema =
    proxy_wasm::config::Schema<Config>().field("response_headers_to_add", readHeaders);

}  // namespace

proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view json) {
  return kSchema.parse(json, /*empty_is_object=*/true);
}

}  // namespace scaffold
