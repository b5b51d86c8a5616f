/* A plugin that misbehaves on request, selected by the request header x-hostile:
 *   oob-log       proxy_log with a pointer past the end of memory (host must refuse, not crash)
 *   oob-slot      proxy_get_header_map_value writing its result to an out-of-bounds slot
 *   huge-alloc    allocate 2 GiB (must fail against the memory cap, plugin survives)
 *   grow-loop     allocate until memory runs out, then trap
 *   loop          spin forever (the deadline must stop it)
 *   hostcall-loop spin forever calling a hostcall (the deadline must stop it there too)
 *   slow-hostcall log "slow hostcall" (a test's host makes that log wait), then spin a little:
 *                 the wait is not CPU time, so the deadline must not stop the call
 *   recurse       recurse without end (the engine's stack limit must trap, not crash)
 *   trap          unreachable
 *   pause         stop iteration and never resume
 * and traps in other callbacks when configured so: configuration "trap-configure",
 * "trap-tick", "trap-log". */
#include <stdlib.h>
#include <string.h>
#include "raw_abi.h"

IMPORT(proxy_set_tick_period_milliseconds) int32_t proxy_set_tick_period_milliseconds(int32_t);
IMPORT(proxy_get_buffer_bytes)
int32_t proxy_get_buffer_bytes(int32_t type, int32_t start, int32_t max, char** p, size_t* s);

static char config[64];
static volatile uint32_t spins;

/* Each frame keeps a little stack of its own, so the recursion cannot become a loop; the
 * volatile `deeper` keeps the compiler from proving it endless. */
static volatile int deeper = 1;
static uint32_t recurse(uint32_t depth) {
  volatile char frame[64];
  frame[depth % 64] = (char)depth;
  if (!deeper) return frame[0];
  return recurse(depth + 1) + frame[depth % 64];
}

EXPORT(proxy_on_context_create) void on_context_create(int32_t id, int32_t parent) {
  (void)id; (void)parent;
}
EXPORT(proxy_on_vm_start) int32_t on_vm_start(int32_t id, int32_t size) {
  (void)id; (void)size;
  return 1;
}
EXPORT(proxy_on_configure) int32_t on_configure(int32_t id, int32_t size) {
  (void)id;
  char* p = 0;
  size_t n = 0;
  if (size > 0 && proxy_get_buffer_bytes(7, 0, size, &p, &n) == 0 && n < sizeof config) {
    memcpy(config, p, n);
    config[n] = 0;
    free(p);
  }
  if (strcmp(config, "trap-configure") == 0) __builtin_trap();
  if (strcmp(config, "trap-tick") == 0) proxy_set_tick_period_milliseconds(10);
  return 1;
}
EXPORT(proxy_on_tick) void on_tick(int32_t id) {
  (void)id;
  if (strcmp(config, "trap-tick") == 0) __builtin_trap();
}
EXPORT(proxy_on_log) void on_log(int32_t id) {
  (void)id;
  if (strcmp(config, "trap-log") == 0) __builtin_trap();
}
EXPORT(proxy_on_request_headers) int32_t on_request_headers(int32_t id, int32_t n, int32_t eos) {
  (void)id; (void)n; (void)eos;
  char* v = 0;
  size_t s = 0;
  char what[32] = {0};
  if (proxy_get_header_map_value(0, "x-hostile", 9, &v, &s) == 0 && s < sizeof what) {
    memcpy(what, v, s);
    free(v);
  }
  if (strcmp(what, "oob-log") == 0) {
    int32_t r = proxy_log(2, (const char*)0xfffffff0u, 64);
    return r == 6 ? 0 : 1; /* InvalidMemoryAccess expected: continue */
  }
  if (strcmp(what, "oob-slot") == 0) {
    int32_t r = proxy_get_header_map_value(0, "x-hostile", 9, (char**)0xfffffff0u, (size_t*)0xfffffff8u);
    return r == 6 ? 0 : 1;
  }
  if (strcmp(what, "huge-alloc") == 0) {
    char* volatile p = malloc(2000000000u); /* volatile: keep the compiler from eliding it */
    if (p == 0) return 0;                    /* must fail under the memory cap */
    p[1999999999u] = 1;
    return 1;
  }
  if (strcmp(what, "grow-loop") == 0) {
    for (;;) {
      char* p = malloc(1 << 20);
      if (p == 0) __builtin_trap();
      p[0] = 1;
    }
  }
  if (strcmp(what, "loop") == 0) {
    for (;;) ++spins;
  }
  if (strcmp(what, "hostcall-loop") == 0) {
    for (;;) proxy_log(0, "spin", 4); /* trace: below the harness's level, so cheap */
  }
  if (strcmp(what, "slow-hostcall") == 0) {
    proxy_log(3, "slow hostcall", 13);
    for (uint32_t i = 0; i < 200000; ++i) ++spins; /* many interpreter slices, ~1 ms natively */
    return 0;
  }
  if (strcmp(what, "recurse") == 0) return (int32_t)recurse(0);
  if (strcmp(what, "trap") == 0) __builtin_trap();
  if (strcmp(what, "pause") == 0) return 1; /* StopIteration: waits for a resume */
  return 0;
}
