/* A plugin on the raw ABI, without our SDK: proves the host does not depend on it. */
#include <stdlib.h>
#include "raw_abi.h"

EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {
  (void)id; (void)parent;
}
EXPORT(proxy_on_vm_start) int32_t on_vm_start(int32_t id, int32_t size) {
  (void)id; (void)size;
  log_info("raw plugin: vm started");
  return 1;
}
EXPORT(proxy_on_configure) int32_t on_configure(int32_t id, int32_t size) {
  (void)id;
  return size < 1000;
}
EXPORT(proxy_on_request_headers) int32_t on_request_headers(int32_t id, int32_t n, int32_t eos) {
  (void)id; (void)n; (void)eos;
  char* value = 0;
  size_t size = 0;
  if (proxy_get_header_map_value(0, "x-deny", 6, &value, &size) == 0) {
    free(value);
    proxy_send_local_response(403, "raw_denied", 10, "denied by raw", 13, 0, 0, -1);
    return 1;
  }
  proxy_add_header_map_value(0, "x-raw", 5, "yes", 3);
  return 0;
}
