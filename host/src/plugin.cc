#include "proxy_wasm/host/plugin.h"

namespace proxy_wasm::host {

std::shared_ptr<PluginCode> PluginCode::load(std::string bytes, uint64_t memory_limit_bytes,
                                             std::string* error, std::string origin) {
  auto info = parseModule(bytes, error);
  if (!info) return nullptr;
  switch (info->abi) {
    case AbiVersion::V0_2_1:
    case AbiVersion::V0_2_0:
      break;
    case AbiVersion::V0_1_0:
      *error = "unsupported proxy-wasm ABI version 0.1.0 (supported: 0.2.0, 0.2.1)";
      return nullptr;
    case AbiVersion::Unknown:
      *error =
          "missing or unknown proxy-wasm ABI version: the module must export "
          "proxy_abi_version_0_2_1 (or proxy_abi_version_0_2_0)";
      return nullptr;
  }
  const uint64_t pages = memory_limit_bytes / 65536;
  auto capped = capMemory(bytes, pages, error);
  if (!capped) return nullptr;
  auto code = std::make_shared<PluginCode>();
  code->bytes_ = std::move(*capped);
  code->origin_ = std::move(origin);
  code->info_ = std::move(*info);
  if (code->bytes_.size() != bytes.size() || code->bytes_ != bytes) {
    auto reparsed = parseModule(code->bytes_, error);
    if (!reparsed) return nullptr;
    code->info_ = std::move(*reparsed);
  }
  return code;
}

std::shared_ptr<CompiledModule> PluginCode::compiled(Engine& engine, std::string* error) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = compiled_.find(engine.name());
  if (it != compiled_.end()) return it->second;
  auto module = engine.compile(bytes_, origin_, error);
  if (module) compiled_.emplace(std::string(engine.name()), module);
  return module;
}

}  // namespace proxy_wasm::host
