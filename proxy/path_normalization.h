// The HTTP connection manager's path handling before filters and routing (Envoy's
// normalize_path and merge_slashes), so that "/public/../admin" and "//admin" are routed, matched
// by plugins and sent upstream as "/admin".
#pragma once

#include <string>
#include <string_view>

namespace wasm_proxy {

// The path of `target` (before '?') with dot segments removed (RFC 3986 §5.2.4, after decoding
// percent-encoded dots) when `dots`, and runs of '/' merged when `merge`; the query is kept as
// it is.
std::string normalizePath(std::string_view target, bool dots, bool merge);

}  // namespace wasm_proxy
