#include "proxy_wasm/host/engine.h"

#include <atomic>
#include <cstdio>

namespace proxy_wasm::host {

std::string toString(const FuncType& type) {
  auto name = [](ValType v) {
    switch (v) {
      case ValType::I32:
        return "i32";
      case ValType::I64:
        return "i64";
      case ValType::F32:
        return "f32";
      case ValType::F64:
        return "f64";
    }
    return "?";
  };
  std::string out = "(";
  for (size_t i = 0; i < type.params.size(); ++i) {
    if (i > 0) out += ", ";
    out += name(type.params[i]);
  }
  out += ") -> ";
  if (type.results.empty()) return out + "()";
  if (type.results.size() == 1) return out + name(type.results[0]);
  out += "(";
  for (size_t i = 0; i < type.results.size(); ++i) {
    if (i > 0) out += ", ";
    out += name(type.results[i]);
  }
  return out + ")";
}

std::string canonicalRuntimeName(std::string_view runtime) {
  if (runtime == "v8" || runtime == "envoy.wasm.runtime.v8") return "v8";
  if (runtime == "wabt" || runtime == "envoy.wasm.runtime.wabt") return "wabt";
  if (runtime == "wasm2c" || runtime == "envoy.wasm.runtime.wasm2c") return "wasm2c";
  return "";
}

std::vector<std::string> availableRuntimes() {
  return {"v8", "wabt", "wasm2c"};
}

namespace {
std::atomic<EngineLog> engine_log{nullptr};
}  // namespace

void setEngineLog(EngineLog log) {
  engine_log.store(log);
}

void engineLog(std::string_view message) {
  if (EngineLog log = engine_log.load()) {
    log(message);
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  }
}

std::unique_ptr<Engine> createEngine(std::string_view runtime, std::string* error) {
  std::string name = canonicalRuntimeName(runtime);
  if (name == "v8") return createV8Engine(error);
  if (name == "wabt") return createWabtEngine(error);
  if (name == "wasm2c") return createWasm2cEngine(error);
  *error = "unknown Wasm runtime '" + std::string(runtime) +
           "' (supported: envoy.wasm.runtime.v8 or v8, envoy.wasm.runtime.wabt or wabt, "
           "envoy.wasm.runtime.wasm2c or wasm2c)";
  return nullptr;
}

}  // namespace proxy_wasm::host
