// The base of a test suite that runs a plugin on every engine: each TEST_P runs once per engine
// (test names end in /v8, /wabt, /wasm2c), and loads its plugin through options() and load().
//
//   class MyFilter : public proxy_wasm::host::testing::EngineTest {};
//   TEST_P(MyFilter, PassesTraffic) {
//     auto h = load("my_filter", options("my_filter", R"({"key": "value"})"));
//     ASSERT_TRUE(h) << error_;
//     ...
//   }
//   PWX_INSTANTIATE_ON_ALL_ENGINES(MyFilter);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "plugin_harness.h"

namespace proxy_wasm::host::testing {

class EngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  // The engine of this run.
  const std::string& engine() const { return GetParam(); }

  // Options for a plugin named `name` (also its vm_id) on this run's engine. The interpreter
  // (wabt) runs plugin code tens of times slower than the compiled engines; it gets
  // `interpreter_deadline` per callback instead of the default.
  HarnessOptions options(
      std::string_view name, std::string configuration = "",
      std::chrono::milliseconds interpreter_deadline = std::chrono::seconds(5)) const {
    HarnessOptions o;
    o.runtime = engine();
    o.plugin.name = std::string(name);
    o.plugin.configuration = std::move(configuration);
    o.vm.vm_id = std::string(name);
    if (o.runtime == "wabt") o.vm.callback_deadline = interpreter_deadline;
    return o;
  }

  // Loads <plugin>.wasm from the plugins folder; null with the reason in error_.
  std::unique_ptr<PluginHarness> load(std::string_view plugin, HarnessOptions o) {
    error_.clear();
    return PluginHarness::create(pluginPath(plugin), std::move(o), &error_);
  }

  std::string error_;
};

}  // namespace proxy_wasm::host::testing

// Runs the EngineTest suite `Suite` once per engine.
#define PWX_INSTANTIATE_ON_ALL_ENGINES(Suite)                                              \
  INSTANTIATE_TEST_SUITE_P(Engines, Suite,                                                 \
                           ::testing::ValuesIn(::proxy_wasm::host::testing::allEngines()), \
                           [](const auto& info) { return info.param; })
