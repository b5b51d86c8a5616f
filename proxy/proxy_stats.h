// The proxy's own counters, with Envoy's names. They live in the process-wide metrics registry
// beside the plugins' metrics, so the admin endpoint renders both in one place.
#pragma once

#include "proxy_wasm/host/shared_state.h"

namespace wasm_proxy {

struct ProxyStats {
  static ProxyStats& instance();
  proxy_wasm::host::Metric* downstream_cx_total;
  proxy_wasm::host::Metric* downstream_cx_active;
  proxy_wasm::host::Metric* downstream_rq_total;
  proxy_wasm::host::Metric* downstream_rq_xx[6];  // index by status / 100
  proxy_wasm::host::Metric* upstream_cx_total;
  proxy_wasm::host::Metric* upstream_cx_connect_fail;
  proxy_wasm::host::Metric* upstream_rq_total;
  proxy_wasm::host::Metric* upstream_rq_timeout;
  proxy_wasm::host::Metric* downstream_rq_bad;      // malformed requests answered 4xx
  proxy_wasm::host::Metric* downstream_rq_timeout;  // request/idle/body timeouts (408/504)
};

}  // namespace wasm_proxy
