/* nettle's configure results for wasm32-wasi (clang-19, wasi-libc): ILP32, little endian, no
   assembly. Only what the files listed in ../CMakeLists.txt read. */
#ifndef PWX_NETTLE_CONFIG_H
#define PWX_NETTLE_CONFIG_H
#define HAVE_INTTYPES_H 1
#define HAVE_STDINT_H 1
#define HAVE_GCC_ATTRIBUTE 1
#define SIZEOF_LONG 4
#define SIZEOF_SIZE_T 4
#define HAVE_NATIVE_64_BIT 0
#define UNUSED __attribute__((__unused__))
#define NORETURN __attribute__((__noreturn__))
#define PRINTF_STYLE(f, a) __attribute__((__format__(__printf__, f, a)))
#endif
