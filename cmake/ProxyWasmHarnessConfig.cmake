# ProxyWasmHarness: tests for proxy-wasm plugins in this project's real host, on every engine
# (V8, the wabt interpreter, wasm2c), with GoogleTest. Made by the build of this repository in
# <build>/harness-package; point CMAKE_PREFIX_PATH (or ProxyWasmHarness_DIR) at it.
#
#   find_package(ProxyWasmHarness REQUIRED)
#   add_proxy_wasm_plugin_test(my_filter_test SOURCES my_filter_test.cc
#                              PLUGIN ../build/my_filter.wasm)
#
# The test finds the module with pluginPath("my_filter") (PWX_PLUGIN_DIR is set to its folder)
# and runs on every engine with ::testing::ValuesIn(allEngines()). The plugin's wasm2c artefact
# is compiled next to it when the test builds (once per version of the module).
include(CMakeFindDependencyMacro)
find_dependency(GTest)
find_dependency(OpenSSL)
find_dependency(Threads)
find_dependency(wabt CONFIG)
include("${CMAKE_CURRENT_LIST_DIR}/ProxyWasmHarnessTargets.cmake")
include(GoogleTest)

function(add_proxy_wasm_plugin_test name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "PLUGIN" "SOURCES")
  if(NOT arg_SOURCES OR NOT arg_PLUGIN)
    message(FATAL_ERROR "add_proxy_wasm_plugin_test(${name}): SOURCES and PLUGIN are required")
  endif()
  get_filename_component(plugin "${arg_PLUGIN}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_filename_component(plugin_dir "${plugin}" DIRECTORY)
  # The plugin's folder, for pluginPath(): given to the test binary itself (run under ctest or
  # alone); PWX_PLUGIN_DIR in the environment still wins.
  set(where "${CMAKE_CURRENT_BINARY_DIR}/${name}_plugin_dir.cc")
  file(WRITE "${where}.in" "#include <cstdlib>\nstatic const int pwx_plugin_dir_set = "
       "setenv(\"PWX_PLUGIN_DIR\", \"${plugin_dir}\", 0);\n")
  configure_file("${where}.in" "${where}" COPYONLY)
  add_executable(${name} ${arg_SOURCES} "${where}")
  target_link_libraries(${name} PRIVATE ProxyWasmHarness::harness GTest::gtest_main)
  add_custom_command(TARGET ${name} POST_BUILD
    COMMAND "${PROXY_WASM_HARNESS_WASM2C}" "${plugin}"
    COMMENT "wasm2c artefact of ${plugin}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60)
endfunction()
