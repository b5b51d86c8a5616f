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
/* Memory grown while a call runs is the host's to read and write in the same call: grows the
 * memory by `pages` and logs from the new pages, then reads header x-big, whose copy the
 * allocator must grow the memory again for. Returns the value's size, or -1 if it is not whole. */
EXPORT(raw_grow_then_use) int32_t raw_grow_then_use(int32_t pages) {
  int32_t old_pages = (int32_t)__builtin_wasm_memory_grow(0, (size_t)pages);
  if (old_pages < 0) return -1;
  char* fresh = (char*)((uintptr_t)old_pages * 65536u);
  const char text[] = "logged from grown memory";
  for (size_t i = 0; i < sizeof(text) - 1; ++i) fresh[i] = text[i];
  proxy_log(2, fresh, sizeof(text) - 1);
  char* value = 0;
  size_t size = 0;
  if (proxy_get_header_map_value(0, "x-big", 5, &value, &size) != 0) return -1;
  int32_t whole = size > 0 && value[0] == 'a' && value[size - 1] == 'z';
  free(value);
  return whole ? (int32_t)size : -1;
}
