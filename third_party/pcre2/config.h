/* PCRE2's configure results for wasm32-wasi (clang-19, wasi-libc), 8-bit library only, the
   interpreter (no JIT), no Unicode. Limits are PCRE2's defaults; callers set tighter ones per
   match through a match context. */
#ifndef PWX_PCRE2_CONFIG_H
#define PWX_PCRE2_CONFIG_H
#define HAVE_INTTYPES_H 1
#define HAVE_LIMITS_H 1
#define HAVE_MEMMOVE 1
#define HAVE_STDINT_H 1
#define HAVE_STDLIB_H 1
#define HAVE_STRING_H 1
#define HAVE_ATTRIBUTE_UNINITIALIZED 1
#define HEAP_LIMIT 20000000
#define LINK_SIZE 2
#define MATCH_LIMIT 10000000
#define MATCH_LIMIT_DEPTH MATCH_LIMIT
#define MAX_NAME_COUNT 10000
#define MAX_NAME_SIZE 32
#define NEWLINE_DEFAULT 2
#define PARENS_NEST_LIMIT 250
#define SUPPORT_PCRE2_8 1
#endif
