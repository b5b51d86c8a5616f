/* Calls a non-logging hostcall from a static constructor: the host must refuse to load it. */
#include "raw_abi.h"
IMPORT(proxy_set_tick_period_milliseconds) int32_t proxy_set_tick_period_milliseconds(int32_t);
__attribute__((constructor)) static void init(void) {
  log_info("static constructor: logging is allowed");
  proxy_set_tick_period_milliseconds(1000); /* not allowed during initialisation */
}
EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {
  (void)id; (void)parent;
}
