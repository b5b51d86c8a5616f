/* The few proxy-wasm hostcalls the raw (SDK-free) test plugins use, declared by hand. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#define IMPORT(n) __attribute__((import_module("env"), import_name(#n)))
#define EXPORT(n) __attribute__((export_name(#n)))
IMPORT(proxy_log) int32_t proxy_log(int32_t level, const char* msg, size_t size);
IMPORT(proxy_add_header_map_value)
int32_t proxy_add_header_map_value(int32_t type, const char* k, size_t ks, const char* v,
                                   size_t vs);
IMPORT(proxy_get_header_map_value)
int32_t proxy_get_header_map_value(int32_t type, const char* k, size_t ks, char** v, size_t* vs);
IMPORT(proxy_get_property)
int32_t proxy_get_property(const char* path, size_t ps, char** v, size_t* vs);
IMPORT(proxy_send_local_response)
int32_t proxy_send_local_response(int32_t status, const char* d, size_t ds, const char* b,
                                  size_t bs, const char* h, size_t hs, int32_t grpc);
EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1(void) {}
static inline size_t cstrlen(const char* s) {
  size_t n = 0;
  while (s[n]) ++n;
  return n;
}
static inline void log_info(const char* s) {
  proxy_log(2, s, cstrlen(s));
}
