#!/usr/bin/env bash
# Builds test/out_of_tree against an installed ProxyWasmSdk and checks the resulting plugin.
#   run.sh <sdk-install-prefix> <scratch-dir>
set -euo pipefail
prefix="$1"; scratch="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rm -rf "$scratch"
cmake -S "$here" -B "$scratch" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$prefix/share/ProxyWasmSdk/cmake/wasi-clang19.cmake" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
cmake --build "$scratch" >/dev/null
python3 "$here/../tools/check_plugin.py" --sdk "$scratch/hello.wasm"
