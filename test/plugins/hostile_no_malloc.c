/* Exports no allocator: the host must refuse it with a clear message. */
#include <stdint.h>
__attribute__((export_name("proxy_abi_version_0_2_1"))) void marker(void) {}
__attribute__((export_name("proxy_on_context_create"))) void on_context_create(int32_t id, int32_t p) {
  (void)id; (void)p;
}
