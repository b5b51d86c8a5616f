# add_proxy_wasm_plugin(<name> SOURCES <files>... [LIBRARIES <targets>...] [OUTPUT_DIRECTORY <dir>])
#
# Builds <name>.wasm, a proxy-wasm ABI 0.2.1 plugin that loads unchanged in Envoy and Istio: a WASI
# reactor (exports _initialize), stripped, exporting `malloc`, `proxy_on_memory_allocate`,
# `proxy_abi_version_0_2_1` and every proxy_on_* callback of the SDK. Optimised for speed (-O2: it
# runs on every request; about a quarter larger than -Oz; the upstream C++ SDK builds with -O3).
# Requires the WASI toolchain (cmake/wasi-clang19.cmake) and the target ProxyWasmSdk::sdk.
include_guard(GLOBAL)

function(add_proxy_wasm_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES")
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "WASI")
    message(FATAL_ERROR "add_proxy_wasm_plugin(${name}): configure with the WASI toolchain "
                        "(-DCMAKE_TOOLCHAIN_FILE=.../wasi-clang19.cmake)")
  endif()
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "add_proxy_wasm_plugin(${name}): SOURCES is required")
  endif()
  add_executable(${name} ${arg_SOURCES})
  # Whole archive: the SDK's exported callbacks are referenced by nobody inside the module.
  target_link_libraries(${name} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,ProxyWasmSdk::sdk>"
                                        ${arg_LIBRARIES})
  target_compile_features(${name} PRIVATE cxx_std_20)
  target_compile_options(${name} PRIVATE -O2 -ffunction-sections -fdata-sections)
  target_link_options(${name} PRIVATE
    -mexec-model=reactor
    -Wl,--gc-sections
    -Wl,--strip-all
    -Wl,--export=malloc
    -Wl,-z,stack-size=65536)
  set_target_properties(${name} PROPERTIES OUTPUT_NAME ${name} SUFFIX ".wasm")
  if(arg_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY "${arg_OUTPUT_DIRECTORY}")
  endif()
endfunction()
