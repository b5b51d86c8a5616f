/* The runtime of a wasm2c artefact: what wasm2c's generated C needs (wasm-rt.h's functions) and
 * the C interface the host loads the artefact through (pwx_w2c_get). It is compiled into every
 * artefact together with the generated module and its shim (wasm2c_build.cc writes both), so an
 * artefact is self-contained: no symbol is resolved against the host, and the host never needs
 * the module-specific instance layout.
 *
 * Invariants:
 *  - No global state is written after pwx_w2c_get()->init, which the host calls once per loaded
 *    artefact under a lock; everything a call changes is in the instance, and an instance is used
 *    by one thread at a time (the host's engines are bound to their thread).
 *  - Traps never return: they go to the host (pwx_host.trap), which unwinds to the call's frame.
 *  - `state.in_wasm` is 1 exactly while the thread runs the plugin's own code: 0 inside a
 *    hostcall and inside this runtime's allocations, so a deadline signal unwinds only code that
 *    holds no lock and owns nothing (see wasm2c_engine.cc).
 *
 * Compiled with the shim's -D flags: WASM_RT_MEMCHECK_SIGNAL_HANDLER=0 (explicit bounds checks: no
 * SIGSEGV handler, no 8 GiB reservations), WASM_RT_USE_STACK_DEPTH_COUNT=1 with the counter kept
 * per instance (wasm_rt_call_stack_depth is redefined by the shim before the generated code).
 * This file is C, included by the shim after the generated module; it is embedded in the host. */

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h> /* mremap: the shim is compiled with -D_GNU_SOURCE */

#define PWX_EXPORT __attribute__((visibility("default")))
#define PWX_W2C_INTERFACE 2

/* Trap codes beyond wasm_rt_trap_t's. */
enum { PWX_TRAP_HOST_ABORT = 100, PWX_TRAP_TIMEOUT = 101 };

typedef _Bool (*pwx_host_function)(void* user, const uint64_t* args, uint64_t* results);

/* What the host gives the artefact once. */
struct pwx_w2c_host {
  void (*trap)(int code) __attribute__((noreturn)); /* unwinds to the current call's frame */
  /* 1: entering runtime code that allocates; 0: back (may unwind there for a deadline). */
  void (*outside_wasm)(int outside);
};

struct pwx_w2c_binding {
  pwx_host_function fn;
  void* user;
};

/* Per-instance state the host reads and writes directly. */
struct pwx_w2c_state {
  volatile int in_wasm;
  volatile int pending_timeout;
  uint32_t depth;
  wasm_rt_memory_t* memory; /* the first exported memory, or NULL */
};

struct pwx_w2c_export {
  const char* name;
  /* Reads args[0 .. num_params - 1] and writes results[0] when the function returns a value. */
  void (*call)(void* instance, const uint64_t* args, uint64_t* results);
  uint32_t num_params;
};

struct pwx_w2c_api {
  int interface_version;
  const char* stamp; /* what the artefact was made from and with (wasm2c_build.cc) */
  void (*init)(const struct pwx_w2c_host* host);
  /* Allocates an instance (not yet instantiated) and binds its imports. */
  void* (*create)(const struct pwx_w2c_binding* bindings, uint32_t num_bindings);
  /* Runs the module's initialisers; traps like a call. */
  void (*instantiate)(void* instance);
  void (*destroy)(void* instance, int instantiated);
  struct pwx_w2c_state* (*state)(void* instance);
  uint32_t num_exports;
  const struct pwx_w2c_export* exports;
};

static struct pwx_w2c_host pwx_host;

WASM_RT_NO_RETURN void wasm_rt_trap(wasm_rt_trap_t code) {
  pwx_host.trap((int)code);
}

bool wasm_rt_is_initialized(void) {
  return true;
}
void wasm_rt_init(void) {}
void wasm_rt_free(void) {}

/* ---- function types (registered once, by init_module under the host's lock) ---- */

struct pwx_func_type {
  uint32_t params, results;
  wasm_rt_type_t types[16];
  int overflow; /* more than 16 value types: compared by count and the first 16 */
};
static struct pwx_func_type* pwx_types;
static uint32_t pwx_num_types;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...) {
  struct pwx_func_type t;
  memset(&t, 0, sizeof t);
  t.params = params;
  t.results = results;
  va_list ap;
  va_start(ap, results);
  for (uint32_t i = 0; i < params + results; ++i) {
    wasm_rt_type_t v = (wasm_rt_type_t)va_arg(ap, int);
    if (i < 16) t.types[i] = v;
  }
  va_end(ap);
  t.overflow = params + results > 16;
  for (uint32_t i = 0; i < pwx_num_types; ++i) {
    if (memcmp(&pwx_types[i], &t, sizeof t) == 0) return i + 1;
  }
  struct pwx_func_type* grown = realloc(pwx_types, (pwx_num_types + 1) * sizeof t);
  if (!grown) abort(); /* at load time, before any plugin code runs */
  pwx_types = grown;
  pwx_types[pwx_num_types++] = t;
  return pwx_num_types;
}

/* ---- memories: anonymous mappings; tables: heap blocks; explicit bounds checks in the generated
 * code ---- */

/* A memory is its own mapping, not a heap block: only the pages the plugin touches become
 * resident (a heap block may come from reused, already resident memory, and calloc then zeroes it
 * all), growing is mremap (new pages arrive zeroed, nothing is copied when the mapping can
 * extend), and freeing returns the pages to the system. Zero pages still map one system page, so
 * the base is never NULL. */

#define PWX_PAGE 65536u

static size_t pwx_mapping_bytes(uint32_t pages) {
  return pages != 0 ? (size_t)pages * PWX_PAGE : 4096;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t* m, uint32_t initial, uint32_t max) {
  if (initial > 65535) wasm_rt_trap(WASM_RT_TRAP_OOB);
  pwx_host.outside_wasm(1);
  void* p = mmap(NULL, pwx_mapping_bytes(initial), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  m->data = p == MAP_FAILED ? NULL : (uint8_t*)p;
  m->pages = initial;
  m->max_pages = max;
  m->size = m->data ? initial * PWX_PAGE : 0;
  pwx_host.outside_wasm(0);
  if (!m->data) wasm_rt_trap(WASM_RT_TRAP_OOB);
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t* m, uint32_t delta) {
  uint32_t old = m->pages;
  uint64_t wanted = (uint64_t)old + delta;
  /* 65,536 pages (4 GiB) would not fit the 32-bit size: at most 65,535. */
  if (wanted > m->max_pages || wanted > 65535) return (uint32_t)-1;
  if (delta == 0) return old;
  pwx_host.outside_wasm(1);
  void* p = mremap(m->data, pwx_mapping_bytes(old), (size_t)wanted * PWX_PAGE, MREMAP_MAYMOVE);
  if (p != MAP_FAILED) {
    m->data = (uint8_t*)p;
    m->pages = (uint32_t)wanted;
    m->size = (uint32_t)(wanted * PWX_PAGE);
  }
  pwx_host.outside_wasm(0); /* last: a deadline noticed here unwinds a consistent memory */
  return p != MAP_FAILED ? old : (uint32_t)-1;
}

void wasm_rt_free_memory(wasm_rt_memory_t* m) {
  if (m->data) munmap(m->data, pwx_mapping_bytes(m->pages));
  m->data = NULL;
}

#define PWX_TABLE_FUNCTIONS(kind, elem_t, null_value)                                            \
  void wasm_rt_allocate_##kind##_table(wasm_rt_##kind##_table_t* t, uint32_t n, uint32_t max) { \
    pwx_host.outside_wasm(1);                                                                    \
    t->data = calloc((size_t)n + 1, sizeof(elem_t));                                             \
    t->size = t->data ? n : 0;                                                                   \
    t->max_size = max;                                                                           \
    pwx_host.outside_wasm(0);                                                                    \
    if (!t->data) wasm_rt_trap(WASM_RT_TRAP_OOB);                                                \
    for (uint32_t i = 0; i < n; ++i) t->data[i] = null_value;                                    \
  }                                                                                              \
  void wasm_rt_free_##kind##_table(wasm_rt_##kind##_table_t* t) {                                \
    free(t->data);                                                                               \
    t->data = NULL;                                                                              \
  }                                                                                              \
  uint32_t wasm_rt_grow_##kind##_table(wasm_rt_##kind##_table_t* t, uint32_t delta,             \
                                       elem_t init) {                                            \
    uint32_t old = t->size;                                                                      \
    uint64_t wanted = (uint64_t)old + delta;                                                     \
    if (wanted > t->max_size || wanted > (1u << 24)) return (uint32_t)-1;                        \
    pwx_host.outside_wasm(1);                                                                    \
    elem_t* data = realloc(t->data, ((size_t)wanted + 1) * sizeof(elem_t));                      \
    if (data) {                                                                                  \
      for (uint32_t i = old; i < wanted; ++i) data[i] = init;                                    \
      t->data = data;                                                                            \
      t->size = (uint32_t)wanted;                                                                \
    }                                                                                            \
    pwx_host.outside_wasm(0);                                                                    \
    return data ? old : (uint32_t)-1;                                                            \
  }

PWX_TABLE_FUNCTIONS(funcref, wasm_rt_funcref_t, wasm_rt_funcref_null_value)
PWX_TABLE_FUNCTIONS(externref, wasm_rt_externref_t, wasm_rt_externref_null_value)

/* ---- exceptions: not enabled in the plugins' target; a throw traps ---- */

static uint32_t pwx_tags;
uint32_t wasm_rt_register_tag(uint32_t size) {
  (void)size;
  return pwx_tags++;
}
void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void* values) {
  (void)tag;
  (void)size;
  (void)values;
}
WASM_RT_NO_RETURN void wasm_rt_throw(void) {
  wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}

/* ---- one hostcall: the only way out of plugin code besides returning ---- */

static inline void pwx_hostcall(struct pwx_w2c_state* s, const struct pwx_w2c_binding* b,
                                const uint64_t* args, uint64_t* results) {
  s->in_wasm = 0;
  _Bool ok = b->fn(b->user, args, results);
  s->in_wasm = 1;
  if (!ok) pwx_host.trap(PWX_TRAP_HOST_ABORT);
  if (s->pending_timeout) {
    s->in_wasm = 0;
    pwx_host.trap(PWX_TRAP_TIMEOUT);
  }
}
