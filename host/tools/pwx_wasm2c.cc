// pwx-wasm2c: precompiles plugins for the wasm2c engine, as the build does for the project's own.
//
//   pwx-wasm2c [--memory-limit-bytes N] [--jobs N] plugin.wasm... | --dir DIR
//
// Each `x.wasm` gets `x.wasm2c.so` next to it, rebuilt only when its stamp (module sha256,
// translator, compiler, runtime) differs. Exit status 1 when any module fails; in a --dir, a
// module the host refuses to load (the build's hostile test modules) is skipped with a note.
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "proxy_wasm/host/plugin.h"
#include "proxy_wasm/host/wasm2c_build.h"

namespace w2c = proxy_wasm::host::wasm2c;

int main(int argc, char** argv) {
  uint64_t memory_limit = proxy_wasm::host::VmConfig{}.memory_limit_bytes;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::string> files;
  std::vector<bool> from_dir;  // per file: found by --dir
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--memory-limit-bytes" && i + 1 < argc) {
      memory_limit = std::stoull(argv[++i]);
    } else if (a == "--jobs" && i + 1 < argc) {
      jobs = static_cast<unsigned>(std::max(1, std::stoi(argv[++i])));
    } else if (a == "--dir" && i + 1 < argc) {
      for (const auto& e : std::filesystem::directory_iterator(argv[++i])) {
        if (e.path().extension() == ".wasm") {
          files.push_back(e.path().string());
          from_dir.push_back(true);
        }
      }
    } else if (!a.empty() && a[0] != '-') {
      files.push_back(a);
      from_dir.push_back(false);
    } else {
      std::fprintf(stderr,
                   "usage: pwx-wasm2c [--memory-limit-bytes N] [--jobs N] plugin.wasm... | "
                   "--dir DIR\n");
      return 2;
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex out_mu;
  auto work = [&] {
    for (size_t i = next++; i < files.size(); i = next++) {
      bool rebuilt = false;
      std::chrono::duration<double> took{};
      std::string error;
      bool refused = false;
      bool ok =
          w2c::precompile(files[i], "", memory_limit, true, &rebuilt, &took, &error, &refused);
      std::lock_guard lock(out_mu);
      if (!ok && refused && from_dir[i]) {
        std::printf("pwx-wasm2c: %s skipped: %s\n", files[i].c_str(), error.c_str());
      } else if (!ok) {
        failed = true;
        std::fprintf(stderr, "pwx-wasm2c: %s: %s\n", files[i].c_str(), error.c_str());
      } else if (rebuilt) {
        std::printf("pwx-wasm2c: %s compiled in %.1f s\n", files[i].c_str(), took.count());
      }
    }
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < jobs; ++j) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  return failed ? 1 : 0;
}
