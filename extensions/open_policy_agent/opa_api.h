// OPA's REST Data API as this plugin speaks it: the JSON strings of the input document it writes,
// and the decision it reads from OPA's answer. Pure (no hostcall).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy_wasm/sdk/api.h"
#include "proxy_wasm/sdk/expected.h"

namespace open_policy_agent {

// What OPA decided: a bool result, or an object with allow and optional status/headers/body.
struct Decision {
  bool allow = false;
  uint32_t status = 403;
  proxy_wasm::HeaderList headers;  // added upstream when allowed
  std::string body;                // body of the denial
};

// Reads OPA's {"result": ...}: a bool, or an object with "allow" (bool) and optionally "status",
// "headers" (object of strings) and "body".
proxy_wasm::Expected<Decision, std::string> parseResult(std::string_view body);

// Appends `s` as a JSON string; invalid UTF-8 bytes become U+FFFD (nlohmann's "replace").
void appendJsonString(std::string& out, std::string_view s);

}  // namespace open_policy_agent
