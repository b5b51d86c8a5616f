// The proxy-wasm C++ SDK: include this one header.
//
//   api.h      typed wrappers over every ABI 0.2.1 hostcall, logging, properties
//   context.h  RootContext / HttpContext, callouts with liveness tracking, registration
//   metrics.h  Counter / Gauge / Histogram with tags
//   base64.h   strict base64
// JSON configuration helpers live in proxy_wasm/sdk/json.h (include it when you need it).
#pragma once

#include "proxy_wasm/sdk/api.h"
#include "proxy_wasm/sdk/base64.h"
#include "proxy_wasm/sdk/context.h"
#include "proxy_wasm/sdk/metrics.h"
