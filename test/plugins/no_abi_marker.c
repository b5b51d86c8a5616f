/* No proxy_abi_version_* export: not a proxy-wasm module. */
#include <stdint.h>
__attribute__((export_name("proxy_on_context_create"))) void on_context_create(int32_t id, int32_t p) {
  (void)id; (void)p;
}
