# CMake toolchain file: C and C++ for wasm32-wasi (WASI preview 1) with Debian's clang-19, lld-19,
# wasi-libc and libc++-19-dev-wasm32. Debian lays the sysroot out multiarch-style
# (/usr/include/wasm32-wasi, /usr/lib/wasm32-wasi); clang-19 finds it without --sysroot.
#
#   cmake -G Ninja -DCMAKE_TOOLCHAIN_FILE=<this file> -DCMAKE_BUILD_TYPE=MinSizeRel ...
set(CMAKE_SYSTEM_NAME WASI)
set(CMAKE_SYSTEM_VERSION 1)
set(CMAKE_SYSTEM_PROCESSOR wasm32)
# CMake 3.25 has no Platform/WASI.cmake; ours sits next to this file.
list(APPEND CMAKE_MODULE_PATH "${CMAKE_CURRENT_LIST_DIR}")

set(CMAKE_C_COMPILER clang-19)
set(CMAKE_CXX_COMPILER clang++-19)
set(CMAKE_AR llvm-ar-19 CACHE FILEPATH "archiver for wasm32 static libraries")
set(CMAKE_RANLIB llvm-ranlib-19 CACHE FILEPATH "ranlib for wasm32 static libraries")
set(CMAKE_C_COMPILER_TARGET wasm32-wasi)
set(CMAKE_CXX_COMPILER_TARGET wasm32-wasi)

set(CMAKE_FIND_ROOT_PATH /usr/lib/wasm32-wasi /usr/include/wasm32-wasi)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
# Header-only libraries (nlohmann-json) come from /usr/include.
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
# Packages: both the WASI root and any prefix the user passes (an installed ProxyWasmSdk).
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

set(CMAKE_C_FLAGS_INIT "")
set(CMAKE_CXX_FLAGS_INIT "-fno-exceptions -fno-rtti")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-mexec-model=reactor")
set(CMAKE_EXECUTABLE_SUFFIX ".wasm")
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
