// Blocking HTTP(S) GETs for what the proxy fetches while a configuration loads (remote plugin
// code, modules of Istio WasmPlugins), with libcurl: redirects followed, a size bound, retries of
// transport errors and 5xx answers with a doubling back-off. Not for the data path.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "proxy_wasm/host/module_info.h"

namespace wasm_proxy {

struct FetchResponse {
  long status = 0;  // HTTP status of the last attempt (0: none)
  std::string body;
  std::string error;  // transport error of the last attempt, "" when it got an answer
  // "cannot fetch URL: ERROR" or "URL answered HTTP N", for messages.
  std::string describe(const std::string& url) const;
};

struct FetchOptions {
  std::chrono::milliseconds timeout{15000};  // per attempt
  int retries = 0;
  std::chrono::milliseconds back_off{100};  // before the first retry, doubling
  std::string accept;                       // Accept header, "" for none
  size_t max_bytes = 260u << 20;            // a larger body fails the attempt
};

FetchResponse httpGet(const std::string& url, const FetchOptions& options);

// Lower-case hex SHA-256 (the host's, shared with module checks and wasm2c artefacts).
using proxy_wasm::host::sha256Hex;

}  // namespace wasm_proxy
