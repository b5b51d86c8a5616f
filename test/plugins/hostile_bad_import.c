/* Imports proxy_log with the wrong signature: linking must fail with a message naming it. */
#include <stdint.h>
__attribute__((import_module("env"), import_name("proxy_log"))) int32_t bad_log(int64_t level);
__attribute__((export_name("proxy_abi_version_0_2_1"))) void marker(void) {}
__attribute__((export_name("proxy_on_context_create"))) void on_context_create(int32_t id, int32_t p) {
  (void)p;
  bad_log(id);
}
