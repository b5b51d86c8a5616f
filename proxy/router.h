// Route selection: virtual host by :authority (exact, "*.suffix", "prefix*", "*"), then the first
// route whose path match (prefix / exact path / full regex on the path without query) and header
// matchers all hold.
#pragma once

#include <string_view>

#include "config.h"
#include "proxy_wasm/host/embedder.h"

namespace wasm_proxy {

const VirtualHost* selectVirtualHost(const RouteConfig& routes, std::string_view authority);
const Route* selectRoute(const VirtualHost& vh, std::string_view path,
                         const proxy_wasm::host::HeaderMap& headers);

}  // namespace wasm_proxy
