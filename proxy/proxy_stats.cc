#include "proxy_stats.h"

#include <string>

namespace wasm_proxy {

using proxy_wasm::host::MetricsRegistry;
using proxy_wasm::host::MetricType;

ProxyStats& ProxyStats::instance() {
  static ProxyStats* s = [] {
    auto* st = new ProxyStats();
    auto& r = MetricsRegistry::instance();
    st->downstream_cx_total = r.define(MetricType::Counter, "http.downstream_cx_total");
    st->downstream_cx_active = r.define(MetricType::Gauge, "http.downstream_cx_active");
    st->downstream_rq_total = r.define(MetricType::Counter, "http.downstream_rq_total");
    for (int i = 1; i <= 5; ++i) {
      st->downstream_rq_xx[i] =
          r.define(MetricType::Counter, "http.downstream_rq_" + std::to_string(i) + "xx");
    }
    st->downstream_rq_xx[0] = st->downstream_rq_xx[5];
    st->upstream_cx_total = r.define(MetricType::Counter, "cluster.upstream_cx_total");
    st->upstream_cx_connect_fail =
        r.define(MetricType::Counter, "cluster.upstream_cx_connect_fail");
    st->upstream_rq_total = r.define(MetricType::Counter, "cluster.upstream_rq_total");
    st->upstream_rq_timeout = r.define(MetricType::Counter, "cluster.upstream_rq_timeout");
    st->downstream_rq_bad = r.define(MetricType::Counter, "http.downstream_rq_rejected_malformed");
    st->downstream_rq_timeout = r.define(MetricType::Counter, "http.downstream_rq_timeout");
    return st;
  }();
  return *s;
}

}  // namespace wasm_proxy
