// What is known about one downstream connection and one HTTP stream on it (Envoy's StreamInfo):
// the facts properties, access logs and stats read, filled in as the request goes through.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <string>

#include "config.h"
#include "message.h"

namespace wasm_proxy {

struct ConnectionInfo {
  std::string source_address, destination_address;
  uint16_t source_port = 0, destination_port = 0;
  uint64_t id = 0;
};

struct StreamInfo {
  const ConnectionInfo* connection = nullptr;
  uint64_t start_ns = 0;         // wall clock when the request head was read (request.time)
  const Route* route = nullptr;  // selected by the router; selected again after header changes
  std::string upstream_address;  // "ip:port" once an upstream connection was picked
  std::string response_code_details = "via_upstream";
  // Values filters share by name (proxy_set_property writes here), as Envoy's filter state.
  std::map<std::string, std::string, std::less<>> filter_state;
  // Envoy's dynamic metadata: filter_metadata[namespace], each a JSON object (protobuf Struct),
  // e.g. jwt_authn's {"payload": {...claims}}.
  std::map<std::string, nlohmann::json, std::less<>> dynamic_metadata;
};

// One request/response exchange as the filters see it.
struct HttpStream {
  Message request;
  Message response;
  StreamInfo info;
  bool response_started = false;  // the response head exists (encoding has begun)
};

}  // namespace wasm_proxy
