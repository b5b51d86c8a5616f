#include "proxy_wasm/host/wasm2c_build.h"

#include "proxy_wasm/host/plugin.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

extern char** environ;

namespace proxy_wasm::host::wasm2c {

extern const char kRuntimeSource[];  // wasm2c_runtime.c, embedded by the build

namespace {

namespace fs = std::filesystem;

// Deepest wasm call chain before an "exhausted" trap. Generated frames are small (locals in
// registers or a few hundred bytes); 2,000 of them stay far below a worker's 8 MiB stack.
constexpr int kMaxCallDepth = 2000;
constexpr auto kToolTimeout = std::chrono::minutes(10);

bool writeFile(const fs::path& path, std::string_view data, std::string* error) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  if (!out) {
    *error = "cannot write " + path.string();
    return false;
  }
  return true;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs argv with stdout and stderr into `log`; false with the tail of the log when it fails.
bool run(const std::vector<std::string>& argv, const fs::path& log, std::string* error) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    *error = "cannot run " + argv[0] + ": " + std::strerror(rc);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + kToolTimeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      *error = "waitpid failed for " + argv[0];
      return false;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      *error = argv[0] + " did not finish within 10 minutes";
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;
  std::string out = readFile(log);
  if (out.size() > 2000) out = "…" + out.substr(out.size() - 2000);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  *error = argv[0] + " failed" + (out.empty() ? "" : ": " + out);
  return false;
}

// The first line a tool prints for --version.
std::string versionOf(const std::string& tool, std::string* error) {
  fs::path log = fs::temp_directory_path() /
                 ("pwx-version-" + std::to_string(getpid()) + "-" +
                  std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  if (!run({tool, "--version"}, log, error)) return "";
  std::string out = readFile(log);
  fs::remove(log);
  return out.substr(0, out.find('\n'));
}

std::string compiler() {
  const char* cc = std::getenv("CC");
  return cc != nullptr && *cc != '\0' ? cc : "cc";
}

// Instructions of this CPU the artefact may use beyond the compiler's baseline. Wasm's popcnt
// otherwise becomes a call into libgcc (the SDK's hash maps use it on every lookup). The flags are
// part of the toolchain stamp, so an artefact made for a CPU with them is never loaded on one
// without: it is rebuilt into the cache instead.
std::vector<std::string> cpuFlags() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("popcnt")) return {"-mpopcnt"};
#endif
  return {};
}

// wasm2c's symbol mangling (1.0.32): [A-Za-z0-9_] but 'Z' kept, every other byte as Z + 2 hex.
std::string mangle(std::string_view name) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if ((std::isalnum(c) != 0 || c == '_') && c != 'Z') {
      out += static_cast<char>(c);
    } else {
      out += 'Z';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string cType(ValType t) {
  switch (t) {
    case ValType::I32:
      return "u32";
    case ValType::I64:
      return "u64";
    case ValType::F32:
      return "f32";
    case ValType::F64:
      return "f64";
  }
  return "u32";
}

// A C expression turning the 64-bit slot `slot` into a value of type t, and back.
std::string fromSlot(ValType t, const std::string& slot) {
  switch (t) {
    case ValType::F32:
      return "pwx_slot_f32(" + slot + ")";
    case ValType::F64:
      return "pwx_slot_f64(" + slot + ")";
    default:
      return "(" + cType(t) + ")" + slot;
  }
}
std::string toSlot(ValType t, const std::string& value) {
  switch (t) {
    case ValType::F32:
      return "pwx_f32_slot(" + value + ")";
    case ValType::F64:
      return "pwx_f64_slot(" + value + ")";
    default:
      return "(uint64_t)" + value;
  }
}

std::string cString(std::string_view s) {
  std::string out = "\"";
  char buf[8];
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

bool checkSignature(const std::string& what, const FuncType& type, std::string* error) {
  if (type.results.size() > 1 || type.params.size() > kMaxCallSlots) {
    *error = "the wasm2c engine cannot bind " + what + " with " +
             std::to_string(type.params.size()) + " parameters and " +
             std::to_string(type.results.size()) + " results (at most 16 and one)";
    return false;
  }
  return true;
}

// The C file compiled into the artefact: runtime, instance layout, generated module, imports,
// exports and the interface table.
bool shimSource(const ModuleInfo& info, std::string_view stamp, std::string* out,
                std::string* error) {
  std::vector<std::string> modules;  // import modules, in order of first appearance
  for (const auto& imp : info.imports) {
    if (imp.kind != 0) {
      *error = "the wasm2c engine supports function imports only; the module imports " +
               imp.module + "." + imp.name + " of kind " + std::to_string(imp.kind);
      return false;
    }
    if (!checkSignature("import " + imp.module + "." + imp.name, imp.type, error)) return false;
    if (std::find(modules.begin(), modules.end(), imp.module) == modules.end()) {
      modules.push_back(imp.module);
    }
  }
  std::ostringstream s;
  s << "/* Generated by wasm-proxy's wasm2c engine. */\n"
       "#include <wasm-rt.h>\n#include \"plugin.h\"\n#include \"runtime.c\"\n"
       "static inline f32 pwx_slot_f32(uint64_t s) { uint32_t b = (uint32_t)s; f32 f; "
       "memcpy(&f, &b, 4); return f; }\n"
       "static inline f64 pwx_slot_f64(uint64_t s) { f64 f; memcpy(&f, &s, 8); return f; }\n"
       "static inline uint64_t pwx_f32_slot(f32 f) { uint32_t b; memcpy(&b, &f, 4); return b; }\n"
       "static inline uint64_t pwx_f64_slot(f64 f) { uint64_t b; memcpy(&b, &f, 8); return b; }\n"
       "struct pwx_instance;\n";
  for (const auto& m : modules) {
    s << "struct Z_" << mangle(m) << "_instance_t { struct pwx_instance* self; };\n";
  }
  s << "struct pwx_instance {\n  Z_plugin_instance_t z; /* first: generated code's instance */\n"
       "  struct pwx_w2c_state state;\n";
  for (size_t i = 0; i < modules.size(); ++i) {
    s << "  struct Z_" << mangle(modules[i]) << "_instance_t m" << i << ";\n";
  }
  s << "  struct pwx_w2c_binding bindings[" << info.imports.size() + 1 << "];\n};\n"
    << "#define wasm_rt_call_stack_depth (((struct pwx_instance*)instance)->state.depth)\n"
       "#include \"plugin.c\"\n";
  std::vector<std::string> defined;
  for (size_t i = 0; i < info.imports.size(); ++i) {
    const auto& imp = info.imports[i];
    const std::string symbol = "Z_" + mangle(imp.module) + "Z_" + mangle(imp.name);
    if (std::find(defined.begin(), defined.end(), symbol) != defined.end()) continue;
    defined.push_back(symbol);
    const auto& t = imp.type;
    s << (t.results.empty() ? "void" : cType(t.results[0])) << " " << symbol << "(struct Z_"
      << mangle(imp.module) << "_instance_t* m";
    for (size_t k = 0; k < t.params.size(); ++k) s << ", " << cType(t.params[k]) << " p" << k;
    s << ") {\n  uint64_t a[" << t.params.size() + 1 << "] = {";
    for (size_t k = 0; k < t.params.size(); ++k) {
      s << toSlot(t.params[k], "p" + std::to_string(k)) << ", ";
    }
    s << "0";
    s << "};\n  uint64_t r[2] = {0, 0};\n  pwx_hostcall(&m->self->state, &m->self->bindings[" << i
      << "], a, r);\n";
    if (!t.results.empty()) s << "  return " << fromSlot(t.results[0], "r[0]") << ";\n";
    s << "}\n";
  }
  struct Export {
    std::string name, trampoline;
    size_t num_params;
  };
  std::vector<Export> exports;
  std::string memory_export;
  for (const auto& e : info.exports) {
    if (e.kind == 2 && memory_export.empty()) memory_export = "Z_pluginZ_" + mangle(e.name);
    if (e.kind != 0) continue;
    if (!checkSignature("export " + e.name, e.type, error)) return false;
    const std::string tramp = "pwx_x" + std::to_string(exports.size());
    exports.push_back(Export{e.name, tramp, e.type.params.size()});
    s << "static void " << tramp
      << "(void* in, const uint64_t* a, uint64_t* r) {\n  (void)a; (void)r;\n  ";
    std::string call = "Z_pluginZ_" + mangle(e.name) + "(&((struct pwx_instance*)in)->z";
    for (size_t k = 0; k < e.type.params.size(); ++k) {
      call += ", " + fromSlot(e.type.params[k], "a[" + std::to_string(k) + "]");
    }
    call += ")";
    if (e.type.results.empty()) {
      s << call << ";\n}\n";
    } else {
      s << "r[0] = " << toSlot(e.type.results[0], call) << ";\n}\n";
    }
  }
  s << "static const struct pwx_w2c_export pwx_exports[] = {\n";
  for (const auto& e : exports) {
    s << "  {" << cString(e.name) << ", " << e.trampoline << ", " << e.num_params << "},\n";
  }
  s << "  {0, 0, 0}};\n";
  s << "static void pwx_init(const struct pwx_w2c_host* h) { pwx_host = *h; "
       "Z_plugin_init_module(); }\n"
       "static void* pwx_create(const struct pwx_w2c_binding* b, uint32_t n) {\n"
       "  if (n != "
    << info.imports.size()
    << ") return NULL;\n"
       "  struct pwx_instance* in = calloc(1, sizeof *in);\n  if (!in) return NULL;\n"
       "  if (n) memcpy(in->bindings, b, n * sizeof *b);\n";
  for (size_t i = 0; i < modules.size(); ++i) s << "  in->m" << i << ".self = in;\n";
  s << "  return in;\n}\n"
       "static void pwx_instantiate(void* p) {\n  struct pwx_instance* in = p;\n"
       "  Z_plugin_instantiate(&in->z";
  for (size_t i = 0; i < modules.size(); ++i) s << ", &in->m" << i;
  s << ");\n";
  if (!memory_export.empty()) s << "  in->state.memory = " << memory_export << "(&in->z);\n";
  s << "}\n"
       "static void pwx_destroy(void* p, int instantiated) {\n  struct pwx_instance* in = p;\n"
       "  (void)instantiated;\n  Z_plugin_free(&in->z);\n  free(in);\n}\n"
       "static struct pwx_w2c_state* pwx_state(void* p) { return &((struct "
       "pwx_instance*)p)->state; "
       "}\n"
       "static const struct pwx_w2c_api pwx_api = {PWX_W2C_INTERFACE, "
    << cString(stamp) << ", pwx_init, pwx_create, pwx_instantiate, pwx_destroy, pwx_state, "
    << exports.size()
    << ", pwx_exports};\n"
       "PWX_EXPORT const struct pwx_w2c_api* pwx_w2c_get(void) { return &pwx_api; }\n";
  *out = s.str();
  return true;
}

std::mutex cache_mu;
std::string cache_dir_override;

}  // namespace

const std::string& toolchain(std::string* error) {
  static std::mutex mu;
  static std::string value, failure;
  std::lock_guard lock(mu);
  if (value.empty() && failure.empty()) {
    std::string w2c = versionOf("wasm2c", &failure);
    std::string cc = w2c.empty() ? "" : versionOf(compiler(), &failure);
    if (!w2c.empty() && !cc.empty()) {
      value = "wasm2c " + w2c + "; " + cc + "; runtime " + sha256Hex(kRuntimeSource).substr(0, 16) +
              "; depth " + std::to_string(kMaxCallDepth);
      for (const std::string& flag : cpuFlags()) value += "; " + flag;
    }
  }
  if (value.empty()) *error = "the wasm2c engine needs wasm2c and a C compiler: " + failure;
  return value;
}

std::string stampFor(std::string_view module_sha256, std::string_view toolchain) {
  return "pwx-wasm2c sha256=" + std::string(module_sha256) + "; " + std::string(toolchain);
}

std::string artefactNextTo(std::string_view wasm_path) {
  std::string p(wasm_path);
  if (p.size() > 5 && p.compare(p.size() - 5, 5, ".wasm") == 0) p.resize(p.size() - 5);
  return p + ".wasm2c.so";
}

void setCacheDir(std::string dir) {
  std::lock_guard lock(cache_mu);
  cache_dir_override = std::move(dir);
}

std::string cacheDir() {
  {
    std::lock_guard lock(cache_mu);
    if (!cache_dir_override.empty()) return cache_dir_override;
  }
  if (const char* d = std::getenv("PWX_WASM_CACHE"); d != nullptr && *d != '\0') return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x != '\0') {
    return std::string(x) + "/wasm-proxy";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr && *home != '\0' ? home : "/tmp") + "/.cache/wasm-proxy";
}

namespace {

// The compiler's command line for the shim in `work` (it includes the generated module).
std::vector<std::string> compileCommand(const fs::path& work, const fs::path& so) {
  std::vector<std::string> cmd = {compiler(),
                                  "-O2",
                                  "-fPIC",
                                  "-shared",
                                  "-fvisibility=hidden",
                                  "-w",
                                  "-Werror=incompatible-pointer-types",
                                  "-Werror=implicit-function-declaration",
                                  "-D_GNU_SOURCE",
                                  "-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0",
                                  "-DWASM_RT_USE_STACK_DEPTH_COUNT=1",
                                  "-DWASM_RT_MAX_CALL_STACK_DEPTH=" + std::to_string(kMaxCallDepth),
                                  "-I" + work.string()};
  for (std::string& flag : cpuFlags()) cmd.push_back(std::move(flag));
  cmd.insert(cmd.end(), {"-o", so.string(), (work / "shim.c").string()});
  return cmd;
}

}  // namespace

bool build(const std::string& bytes, const ModuleInfo& info, const std::string& out,
           std::chrono::duration<double>* took, std::string* error) {
  const auto start = std::chrono::steady_clock::now();
  const std::string& tools = toolchain(error);
  if (tools.empty()) return false;
  std::string shim;
  if (!shimSource(info, stampFor(sha256Hex(bytes), tools), &shim, error)) return false;
  static std::atomic<uint64_t> counter{0};
  const fs::path target(out);
  std::error_code ec;
  fs::create_directories(target.parent_path().empty() ? "." : target.parent_path(), ec);
  const fs::path work = fs::path(out + ".work-" + std::to_string(getpid()) + "-" +
                                 std::to_string(counter.fetch_add(1)));
  fs::create_directories(work, ec);
  if (ec) {
    *error = "cannot create " + work.string() + ": " + ec.message();
    return false;
  }
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{work};
  const fs::path log = work / "log";
  const fs::path so = work / "plugin.so";
  if (!writeFile(work / "module.wasm", bytes, error) ||
      !writeFile(work / "runtime.c", kRuntimeSource, error) ||
      !writeFile(work / "shim.c", shim, error) ||
      !run({"wasm2c", (work / "module.wasm").string(), "-n", "plugin", "-o",
            (work / "plugin.c").string()},
           log, error) ||
      !run(compileCommand(work, so), log, error)) {
    return false;
  }
  fs::rename(so, target, ec);
  if (ec) {
    *error = "cannot move the artefact to " + out + ": " + ec.message();
    return false;
  }
  if (took != nullptr) *took = std::chrono::steady_clock::now() - start;
  return true;
}

namespace {

// The stamp an existing artefact carries, or "" when it is none.
std::string stampOf(const std::string& path) {
  struct Api {
    int interface_version;
    const char* stamp;
  };
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) return "";
  auto get = reinterpret_cast<const Api* (*)()>(dlsym(handle, "pwx_w2c_get"));
  std::string stamp = get != nullptr && get() != nullptr ? get()->stamp : "";
  dlclose(handle);
  return stamp;
}

}  // namespace

bool precompile(const std::string& wasm_path, std::string out, uint64_t memory_limit_bytes,
                bool only_if_stale, bool* rebuilt, std::chrono::duration<double>* took,
                std::string* error, bool* refused) {
  if (refused != nullptr) *refused = false;
  if (!fs::exists(wasm_path)) {
    *error = "cannot read " + wasm_path;
    return false;
  }
  // The module exactly as a host loading it would compile it (checks and memory cap included),
  // so the artefact's stamp is the one the engine will look for.
  auto code = PluginCode::load(readFile(wasm_path), memory_limit_bytes, error, wasm_path);
  if (!code) {
    if (refused != nullptr) *refused = true;
    return false;
  }
  if (out.empty()) out = artefactNextTo(wasm_path);
  const std::string& tools = toolchain(error);
  if (tools.empty()) return false;
  if (rebuilt != nullptr) *rebuilt = false;
  if (only_if_stale && fs::exists(out) &&
      stampOf(out) == stampFor(sha256Hex(code->bytes()), tools)) {
    return true;
  }
  if (rebuilt != nullptr) *rebuilt = true;
  return build(code->bytes(), code->info(), out, took, error);
}

}  // namespace proxy_wasm::host::wasm2c
