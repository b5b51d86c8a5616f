// Module-level exports every proxy-wasm plugin needs: the ABI marker and the allocator the host
// uses to hand data to the plugin. `malloc` itself is exported by the link options of
// add_proxy_wasm_plugin(); both names reach the same allocator.
#include <cstdlib>
#include <cstring>

#include "proxy_wasm/sdk/hostcalls.h"

extern "C" {

PROXY_WASM_EXPORT(proxy_abi_version_0_2_1) void proxy_abi_version_0_2_1() {}

PROXY_WASM_EXPORT(proxy_on_memory_allocate) void* proxy_on_memory_allocate(size_t size) {
  return std::malloc(size);
}

}  // extern "C"

#if defined(__wasm__)
// libc++ and libc++abi report fatal errors (assertions, pure virtual calls, allocation failure)
// through these two functions, whose defaults pull in vfprintf: about 11 KB of the smallest
// plugin. Ours log the raw format string through the host and trap, which fails the VM the same
// way abort() would.
extern "C" [[noreturn]] void abort_message(const char* format, ...) {
  proxy_log(static_cast<uint32_t>(proxy_wasm::abi::LogLevel::Critical), format,
            std::strlen(format));
  __builtin_trap();
}

#include <__verbose_abort>
void std::__libcpp_verbose_abort(const char* format, ...) {
  proxy_log(static_cast<uint32_t>(proxy_wasm::abi::LogLevel::Critical), format,
            std::strlen(format));
  __builtin_trap();
}
#endif
