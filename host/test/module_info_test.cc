#include "proxy_wasm/host/module_info.h"

#include <gtest/gtest.h>

#include "plugin_harness.h"
#include "proxy_wasm/host/plugin.h"

namespace proxy_wasm::host {
namespace {

using testing::pluginPath;
using testing::readFile;

TEST(ModuleInfo, ReadsImportsExportsTypesAndAbi) {
  auto bytes = readFile(pluginPath("scaffold"));
  ASSERT_TRUE(bytes);
  std::string error;
  auto info = parseModule(*bytes, &error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->abi, AbiVersion::V0_2_1);
  const ModuleExport* e = info->findExport("proxy_on_request_headers");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(toString(e->type), "(i32, i32, i32) -> i32");
  EXPECT_TRUE(info->has_memory);
  for (const auto& imp : info->imports) {
    EXPECT_TRUE(imp.module == "env" || imp.module == "wasi_snapshot_preview1") << imp.module;
  }
}

TEST(ModuleInfo, CapsTheMemoryMaximum) {
  auto bytes = readFile(pluginPath("scaffold"));
  std::string error;
  auto capped = capMemory(*bytes, 100, &error);
  ASSERT_TRUE(capped) << error;
  auto info = parseModule(*capped, &error);
  ASSERT_TRUE(info) << error;
  EXPECT_EQ(info->memory_max_pages, 100u);
  EXPECT_FALSE(capMemory(*bytes, 1, &error)) << "initial memory above the cap";
  EXPECT_NE(error.find("exceeds the cap"), std::string::npos) << error;
}

TEST(ModuleInfo, RejectsGarbageAndModulesWithoutAbiMarker) {
  std::string error;
  EXPECT_FALSE(parseModule("not wasm at all", &error));
  EXPECT_NE(error.find("bad magic"), std::string::npos);
  EXPECT_FALSE(parseModule(std::string("\0asm\1\0\0\0\1\xff", 10), &error));
  auto bytes = readFile(pluginPath("no_abi_marker"));
  ASSERT_TRUE(bytes);
  EXPECT_FALSE(PluginCode::load(*bytes, 1 << 30, &error));
  EXPECT_NE(error.find("proxy_abi_version_0_2_1"), std::string::npos) << error;
}

TEST(Engines, UnknownRuntimeIsAClearError) {
  std::string error;
  EXPECT_EQ(createEngine("envoy.wasm.runtime.wamr", &error), nullptr);
  EXPECT_NE(error.find("unknown Wasm runtime 'envoy.wasm.runtime.wamr'"), std::string::npos);
  EXPECT_EQ(canonicalRuntimeName("envoy.wasm.runtime.v8"), "v8");
  EXPECT_EQ(canonicalRuntimeName("envoy.wasm.runtime.wabt"), "wabt");
}

}  // namespace
}  // namespace proxy_wasm::host
