// The stream-level properties a plugin reads with proxy_get_property (Envoy's attributes, from
// extensions/common/wasm/context.cc): one table of path -> getter. An attribute the stream does
// not have (no Referer header, no response yet, no upstream picked) is NotFound, never an empty
// value, as in Envoy. Node-level properties (node.*, xds.node.*) are the worker's.
#pragma once

#include <string>
#include <string_view>

#include "proxy_wasm/abi/enums.h"
#include "stream_info.h"

namespace wasm_proxy {

// `path` is NUL-separated segments; `details` is the response code details to report.
proxy_wasm::abi::WasmResult streamProperty(const HttpStream& stream, const Route* route,
                                           std::string_view path, std::string* value);

}  // namespace wasm_proxy
