// The wasm2c engine's artefacts: a module is compiled once, an artefact is used only when it was
// made from the same module (memory cap included) by the same toolchain, and anything else next to
// a module is rebuilt into the cache, never run.
#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <vector>

#include "plugin_harness.h"
#include "proxy_wasm/host/wasm2c_build.h"

namespace proxy_wasm::host::testing {
namespace {

namespace fs = std::filesystem;

std::mutex log_mu;
std::vector<std::string> engine_log;

void recordEngineLog(std::string_view message) {
  std::lock_guard lock(log_mu);
  engine_log.emplace_back(message);
}

class Wasm2cArtefacts : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pwx-w2c-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "cache");
    wasm2c::setCacheDir((dir_ / "cache").string());
    setEngineLog(recordEngineLog);
    std::lock_guard lock(log_mu);
    engine_log.clear();
  }
  void TearDown() override {
    wasm2c::setCacheDir("");
    setEngineLog(nullptr);
    fs::remove_all(dir_);
  }
  bool loggedContaining(std::string_view text) {
    std::lock_guard lock(log_mu);
    for (const auto& line : engine_log) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // The Zig scaffold (small: compiles in about two seconds) copied to `name`.wasm, run with a
  // memory cap no other test uses, so its artefact is this test's own.
  std::unique_ptr<PluginHarness> zigScaffold(const fs::path& wasm, uint64_t memory_limit,
                                             std::string* error) {
    HarnessOptions o;
    o.runtime = "wasm2c";
    o.plugin.name = "zig_scaffold";
    o.plugin.configuration = "hello from config";
    o.vm.vm_id = "zig";
    o.vm.memory_limit_bytes = memory_limit;
    return PluginHarness::create(wasm.string(), o, error);
  }
  fs::path dir_;
};

TEST_F(Wasm2cArtefacts, TheBuildsArtefactsAreUsedWithoutCompiling) {
  HarnessOptions o;
  o.runtime = "wasm2c";
  o.plugin.name = "scaffold";
  o.vm.vm_id = "scaffold";
  std::string error;
  auto h = PluginHarness::create(pluginPath("scaffold"), o, &error);
  ASSERT_TRUE(h) << error;
  EXPECT_FALSE(loggedContaining("compiled")) << "the build's scaffold.wasm2c.so was not used";
  EXPECT_TRUE(fs::is_empty(dir_ / "cache"));
}

TEST_F(Wasm2cArtefacts, AForeignArtefactNextToTheModuleIsRebuiltNotRun) {
  fs::copy_file(pluginPath("zig_scaffold"), dir_ / "plugin.wasm");
  // Another module's artefact, under the name the build would give this module's.
  fs::copy_file(wasm2c::artefactNextTo(pluginPath("hostile")), dir_ / "plugin.wasm2c.so");
  std::string error;
  auto h = zigScaffold(dir_ / "plugin.wasm", 40ull << 20, &error);
  ASSERT_TRUE(h) << error;
  EXPECT_TRUE(loggedContaining("not using " + (dir_ / "plugin.wasm2c.so").string()));
  EXPECT_TRUE(loggedContaining("compiled module sha256"));
  EXPECT_TRUE(h->logged("zig_scaffold: configured with 'hello from config'"));
  EXPECT_FALSE(fs::is_empty(dir_ / "cache"));
}

TEST_F(Wasm2cArtefacts, PrecompiledArtefactIsUsedForTheCapItWasMadeFor) {
  fs::copy_file(pluginPath("zig_scaffold"), dir_ / "plugin.wasm");
  std::string error;
  bool rebuilt = false;
  ASSERT_TRUE(wasm2c::precompile((dir_ / "plugin.wasm").string(), "", 44ull << 20, true, &rebuilt,
                                 nullptr, &error))
      << error;
  EXPECT_TRUE(rebuilt);
  ASSERT_TRUE(fs::exists(dir_ / "plugin.wasm2c.so"));
  // Up to date: a second run keeps it.
  ASSERT_TRUE(wasm2c::precompile((dir_ / "plugin.wasm").string(), "", 44ull << 20, true, &rebuilt,
                                 nullptr, &error));
  EXPECT_FALSE(rebuilt);

  auto h = zigScaffold(dir_ / "plugin.wasm", 44ull << 20, &error);
  ASSERT_TRUE(h) << error;
  EXPECT_FALSE(loggedContaining("compiled")) << "the precompiled artefact was not used";
  auto s = h->newStream();
  EXPECT_EQ(s->sendRequestHeaders({{":method", "GET"}, {":path", "/"}}),
            FilterHeadersStatus::Continue);
  EXPECT_EQ(s->request_headers.get("wasm-test"), "wasm-value");
}

TEST_F(Wasm2cArtefacts, ModulesTheEngineCannotBindAreRefusedByName) {
  std::string parse_error;
  auto info = parseModule(*readFile(pluginPath("scaffold")), &parse_error);
  ASSERT_TRUE(info);
  info->imports.push_back(ModuleImport{"env", "table", 1, {}});
  std::string error;
  EXPECT_FALSE(wasm2c::build(*readFile(pluginPath("scaffold")), *info, (dir_ / "never.so").string(),
                             nullptr, &error));
  EXPECT_NE(error.find("function imports only; the module imports env.table"), std::string::npos)
      << error;
  EXPECT_FALSE(fs::exists(dir_ / "never.so"));
}

}  // namespace
}  // namespace proxy_wasm::host::testing
