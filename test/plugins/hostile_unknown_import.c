/* Imports a hostcall that does not exist: linking must fail with a message naming it. */
#include <stdint.h>
__attribute__((import_module("env"), import_name("proxy_make_coffee"))) int32_t coffee(int32_t);
__attribute__((export_name("proxy_abi_version_0_2_1"))) void marker(void) {}
__attribute__((export_name("proxy_on_context_create"))) void on_context_create(int32_t id, int32_t p) {
  (void)p;
  coffee(id);
}
