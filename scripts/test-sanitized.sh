#!/usr/bin/env bash
# wasm-proxy and its integration tests built with AddressSanitizer and UBSan (build-asan/), run
# against the plugins of the main build (scripts/build.sh first). Slow to build: not part of the
# README's test command yet.
#   scripts/test-sanitized.sh [gtest filter]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${ASAN_BUILD_DIR:-$root/build-asan}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPWX_SANITIZE=ON \
    -DPWX_WERROR=OFF -DPWX_DEPS_DIR="${DEPS_DIR:-$root/.deps}"
fi
ninja -C "$build" proxy_integration_test wasm-proxy echo-upstream opa-standin
# V8 handles wasm traps with its own SIGSEGV handler; libnode is not instrumented (no leak check).
# A small quarantine, so that the tests measuring peak RSS measure the proxy, not ASan.
export ASAN_OPTIONS="handle_segv=0:allow_user_segv_handler=1:detect_leaks=0:quarantine_size_mb=8"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PWX_PLUGIN_DIR="${PWX_PLUGIN_DIR:-${BUILD_DIR:-$root/build}/plugins}"
"$build/test/integration/proxy_integration_test" --gtest_filter="${1:-*}"
