/* Micro-benchmark exports on the raw ABI: an empty export, a loop over a near-empty hostcall and a
 * loop over a small-string hostcall (get one request header), so per-call costs can be measured
 * without the cost of entering the VM each time. */
#include <stdlib.h>
#include "raw_abi.h"

IMPORT(proxy_get_current_time_nanoseconds) int32_t proxy_get_current_time_nanoseconds(uint64_t*);

EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {
  (void)id; (void)parent;
}
EXPORT(bench_noop) int32_t bench_noop(int32_t x) { return x + 1; }
EXPORT(bench_time) int32_t bench_time(int32_t n) {
  uint64_t t = 0, sum = 0;
  for (int32_t i = 0; i < n; ++i) {
    proxy_get_current_time_nanoseconds(&t);
    sum += t;
  }
  return (int32_t)sum;
}
EXPORT(bench_get_header) int32_t bench_get_header(int32_t n) {
  int32_t total = 0;
  for (int32_t i = 0; i < n; ++i) {
    char* v = 0;
    size_t s = 0;
    if (proxy_get_header_map_value(0, "user-agent", 10, &v, &s) == 0) {
      total += (int32_t)s;
      free(v);
    }
  }
  return total;
}
