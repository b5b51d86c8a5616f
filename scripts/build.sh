#!/usr/bin/env bash
# Configures (once) and builds everything with ninja: native parts and every .wasm plugin.
#   scripts/build.sh            build into build/
# Environment: BUILD_DIR (default build), BUILD_TYPE (default RelWithDebInfo).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DPWX_DEPS_DIR="${DEPS_DIR:-$root/.deps}"
fi
cmake --build "$build"
