// scaffold's configuration: one optional field, to show how a configuration is declared, read
// and tested. Pure (no hostcall): test/config_test.cc runs it natively under ASan and UBSan.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy_wasm/sdk/expected.h"

namespace scaffold {

struct Config {
  // Headers added to every response, by name (none by default: traffic passes unchanged).
  std::vector<std::pair<std::string, std::string>> response_headers_to_add;
};

// Parses the plugin configuration: JSON, or nothing (the defaults). An error names the field's
// JSON path; an unknown field is refused, never ignored.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view json);

}  // namespace scaffold
