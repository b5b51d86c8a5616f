// WASI preview 1 as plugins built with wasi-libc need it (stdout/stderr to the plugin's log,
// clocks, random bytes, environment from the VM configuration; no files, sockets or processes), and
// two Emscripten helpers the reference host accepts. These are not part of the proxy-wasm ABI
// table.
#include <openssl/rand.h>

#include <cstring>

#include "../hostcall_env.h"

namespace proxy_wasm::host {
namespace {

namespace errno_ = abi::wasi_errno;
using WasiImpl = uint32_t (*)(HostcallEnv&, const uint64_t*);

uint32_t u32(uint64_t v) {
  return static_cast<uint32_t>(v);
}

// WASI functions may run during module initialisation and inside the allocator.
template <WasiImpl F>
bool wasi(void* user, const uint64_t* a, uint64_t* r) {
  HostcallEnv env(*static_cast<Vm*>(user));
  r[0] = F(env, a);
  return !env.aborted();
}

FuncType sig(const char* s) {
  FuncType t;
  bool results = false;
  for (const char* p = s; *p != '\0'; ++p) {
    if (*p == '_') {
      results = true;
      continue;
    }
    ValType v = *p == 'I' ? ValType::I64 : ValType::I32;
    (results ? t.results : t.params).push_back(v);
  }
  return t;
}

constexpr uint32_t kSpipe = 70;

// ---- WASI ----

uint32_t fdWrite(HostcallEnv& env, const uint64_t* a) {
  const uint32_t fd = u32(a[0]);
  if (fd != 1 && fd != 2) return errno_::kBadf;
  std::string text;
  for (uint32_t i = 0; i < u32(a[2]); ++i) {
    std::string_view iov, chunk;
    if (!env.read(u32(a[1]) + 8 * i, 8, &iov)) return errno_::kFault;
    uint32_t ptr, len;
    std::memcpy(&ptr, iov.data(), 4);
    std::memcpy(&len, iov.data() + 4, 4);
    if (!env.read(ptr, len, &chunk)) return errno_::kFault;
    text.append(chunk);
  }
  const size_t written = text.size();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  env.log(fd == 1 ? LogLevel::Info : LogLevel::Error, text);
  return env.writeU32(u32(a[3]), static_cast<uint32_t>(written)) ? errno_::kSuccess
                                                                 : errno_::kFault;
}
uint32_t fdPwrite(HostcallEnv& env, const uint64_t* a) {
  const uint64_t b[4] = {a[0], a[1], a[2], a[4]};  // offset ignored
  return fdWrite(env, b);
}
uint32_t fdFdstatGet(HostcallEnv& env, const uint64_t* a) {
  const uint32_t fd = u32(a[0]);
  if (fd > 2) return errno_::kBadf;
  MemoryView m = env.memory();
  if (uint64_t{u32(a[1])} + 24 > m.size) return errno_::kFault;
  std::memset(m.data + u32(a[1]), 0, 24);
  m.data[u32(a[1])] = 2;                        // character device
  if (fd != 0) m.data[u32(a[1]) + 8] = 1 << 6;  // rights: fd_write
  return errno_::kSuccess;
}
uint32_t environSizesGet(HostcallEnv& env, const uint64_t* a) {
  uint32_t bytes = 0;
  for (auto& [k, v] : env.config().environment) bytes += k.size() + 1 + v.size() + 1;
  return env.writeU32(u32(a[0]), static_cast<uint32_t>(env.config().environment.size())) &&
                 env.writeU32(u32(a[1]), bytes)
             ? errno_::kSuccess
             : errno_::kFault;
}
uint32_t environGet(HostcallEnv& env, const uint64_t* a) {
  uint32_t ptrs = u32(a[0]), buf = u32(a[1]);
  for (auto& [k, v] : env.config().environment) {
    std::string entry = k + "=" + v;
    entry.push_back('\0');
    MemoryView m = env.memory();
    if (uint64_t{buf} + entry.size() > m.size || !env.writeU32(ptrs, buf)) return errno_::kFault;
    std::memcpy(m.data + buf, entry.data(), entry.size());
    ptrs += 4;
    buf += static_cast<uint32_t>(entry.size());
  }
  return errno_::kSuccess;
}
uint32_t argsSizesGet(HostcallEnv& env, const uint64_t* a) {
  return env.writeU32(u32(a[0]), 0) && env.writeU32(u32(a[1]), 0) ? errno_::kSuccess
                                                                  : errno_::kFault;
}
uint32_t success(HostcallEnv&, const uint64_t*) {
  return errno_::kSuccess;
}
uint32_t clockTimeGet(HostcallEnv& env, const uint64_t* a) {
  uint64_t t;
  switch (u32(a[0])) {
    case 0:
      t = env.host().realtimeNanos();
      break;
    case 1:
      t = env.host().monotonicNanos();
      break;
    default:
      return errno_::kNotsup;
  }
  return env.writeU64(u32(a[2]), t) ? errno_::kSuccess : errno_::kFault;
}
uint32_t clockResGet(HostcallEnv& env, const uint64_t* a) {
  if (u32(a[0]) > 1) return errno_::kNotsup;
  return env.writeU64(u32(a[1]), 1) ? errno_::kSuccess : errno_::kFault;
}
uint32_t randomGet(HostcallEnv& env, const uint64_t* a) {
  const uint32_t len = u32(a[1]);
  if (len > 64 * 1024) return errno_::kInval;
  std::string bytes(len, '\0');
  if (len > 0 &&
      RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(len)) != 1) {
    return errno_::kInval;
  }
  MemoryView m = env.memory();
  if (uint64_t{u32(a[0])} + len > m.size) return errno_::kFault;
  std::memcpy(m.data + u32(a[0]), bytes.data(), len);
  return errno_::kSuccess;
}
uint32_t pollOneoff(HostcallEnv& env, const uint64_t* a) {
  return env.writeU32(u32(a[3]), 0) ? errno_::kSuccess : errno_::kFault;
}
bool procExit(void* user, const uint64_t* a, uint64_t*) {
  HostcallEnv env(*static_cast<Vm*>(user));
  env.abort("proc_exit(" + std::to_string(u32(a[0])) + ") called");
  return false;
}
template <uint32_t Errno>
uint32_t stub(HostcallEnv&, const uint64_t*) {
  return Errno;
}

// Emscripten helpers accepted by the reference host.
bool notifyMemoryGrowth(void*, const uint64_t*, uint64_t*) {
  return true;
}
bool pthreadEqual(void*, const uint64_t* a, uint64_t* r) {
  r[0] = u32(a[0]) == u32(a[1]) ? 1 : 0;
  return true;
}

}  // namespace

std::vector<HostcallDef> wasiHostcalls() {
  return {
      // Emscripten compatibility
      {"env", "emscripten_notify_memory_growth", sig("i"), &notifyMemoryGrowth},
      {"env", "pthread_equal", sig("ii_i"), &pthreadEqual},
      // WASI preview 1
      {"wasi", "fd_write", sig("iiii_i"), &wasi<&fdWrite>},
      {"wasi", "fd_pwrite", sig("iiiIi_i"), &wasi<&fdPwrite>},
      {"wasi", "fd_read", sig("iiii_i"), &wasi<&stub<errno_::kNosys>>},
      {"wasi", "fd_pread", sig("iiiIi_i"), &wasi<&stub<errno_::kNosys>>},
      {"wasi", "fd_close", sig("i_i"), &wasi<&success>},
      {"wasi", "fd_seek", sig("iIii_i"), &wasi<&stub<kSpipe>>},
      {"wasi", "fd_tell", sig("ii_i"), &wasi<&stub<kSpipe>>},
      {"wasi", "fd_sync", sig("i_i"), &wasi<&success>},
      {"wasi", "fd_datasync", sig("i_i"), &wasi<&success>},
      {"wasi", "fd_advise", sig("iIIi_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "fd_allocate", sig("iII_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "fd_fdstat_get", sig("ii_i"), &wasi<&fdFdstatGet>},
      {"wasi", "fd_fdstat_set_flags", sig("ii_i"), &wasi<&stub<errno_::kNosys>>},
      {"wasi", "fd_fdstat_set_rights", sig("iII_i"), &wasi<&stub<errno_::kNosys>>},
      {"wasi", "fd_filestat_get", sig("ii_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "fd_filestat_set_size", sig("iI_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "fd_filestat_set_times", sig("iIIi_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "fd_prestat_get", sig("ii_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "fd_prestat_dir_name", sig("iii_i"), &wasi<&stub<errno_::kNosys>>},
      {"wasi", "fd_readdir", sig("iiiIi_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "fd_renumber", sig("ii_i"), &wasi<&stub<errno_::kBadf>>},
      {"wasi", "path_open", sig("iiiiiIIii_i"), &wasi<&stub<errno_::kNoent>>},
      {"wasi", "path_create_directory", sig("iii_i"), &wasi<&stub<errno_::kNotcapable>>},
      {"wasi", "path_filestat_get", sig("iiiii_i"), &wasi<&stub<errno_::kNoent>>},
      {"wasi", "path_filestat_set_times", sig("iiiiIIi_i"), &wasi<&stub<errno_::kNotcapable>>},
      {"wasi", "path_link", sig("iiiiiii_i"), &wasi<&stub<errno_::kNotcapable>>},
      {"wasi", "path_readlink", sig("iiiiii_i"), &wasi<&stub<errno_::kNoent>>},
      {"wasi", "path_remove_directory", sig("iii_i"), &wasi<&stub<errno_::kNotcapable>>},
      {"wasi", "path_rename", sig("iiiiii_i"), &wasi<&stub<errno_::kNotcapable>>},
      {"wasi", "path_symlink", sig("iiiii_i"), &wasi<&stub<errno_::kNotcapable>>},
      {"wasi", "path_unlink_file", sig("iii_i"), &wasi<&stub<errno_::kNotcapable>>},
      {"wasi", "environ_get", sig("ii_i"), &wasi<&environGet>},
      {"wasi", "environ_sizes_get", sig("ii_i"), &wasi<&environSizesGet>},
      {"wasi", "args_get", sig("ii_i"), &wasi<&success>},
      {"wasi", "args_sizes_get", sig("ii_i"), &wasi<&argsSizesGet>},
      {"wasi", "clock_time_get", sig("iIi_i"), &wasi<&clockTimeGet>},
      {"wasi", "clock_res_get", sig("ii_i"), &wasi<&clockResGet>},
      {"wasi", "random_get", sig("ii_i"), &wasi<&randomGet>},
      {"wasi", "poll_oneoff", sig("iiii_i"), &wasi<&pollOneoff>},
      {"wasi", "sched_yield", sig("_i"), &wasi<&success>},
      {"wasi", "proc_exit", sig("i"), &procExit},
      {"wasi", "proc_raise", sig("i_i"), &wasi<&stub<errno_::kNosys>>},
      {"wasi", "sock_accept", sig("iii_i"), &wasi<&stub<errno_::kNotsup>>},
      {"wasi", "sock_recv", sig("iiiiii_i"), &wasi<&stub<errno_::kNotsup>>},
      {"wasi", "sock_send", sig("iiiii_i"), &wasi<&stub<errno_::kNotsup>>},
      {"wasi", "sock_shutdown", sig("ii_i"), &wasi<&stub<errno_::kNotsup>>},
  };
}

}  // namespace proxy_wasm::host
