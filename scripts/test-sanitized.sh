#!/usr/bin/env bash
# wasm-proxy built with AddressSanitizer and UBSan (build-asan/: only the proxy, -O1), and the
# main build's integration tests run against it (PWX_WASM_PROXY), with the main build's plugins.
# Part of the README's test command (scripts/test.sh); needs scripts/build.sh first.
#   scripts/test-sanitized.sh [gtest filter]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
main="${BUILD_DIR:-$root/build}"
build="${ASAN_BUILD_DIR:-$root/build-asan}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O1 -g1 -DNDEBUG" \
    -DPWX_SANITIZE=ON -DPWX_WERROR=OFF -DPWX_DEPS_DIR="${DEPS_DIR:-$root/.deps}" >/dev/null
fi
ninja -C "$build" wasm-proxy
# V8 handles wasm traps with its own SIGSEGV handler; libnode is not instrumented (no leak check).
# A small quarantine, so that the tests measuring peak RSS measure the proxy, not ASan. Any report
# ends the proxy with a non-zero status, which the tests see.
export ASAN_OPTIONS="handle_segv=0:allow_user_segv_handler=1:detect_leaks=0:quarantine_size_mb=8"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PWX_WASM_PROXY="$build/proxy/wasm-proxy"
export PWX_PLUGIN_DIR="${PWX_PLUGIN_DIR:-$main/plugins}"
echo "test-sanitized: the integration tests against $PWX_WASM_PROXY"
"$main/test/integration/proxy_integration_test" --gtest_filter="${1:-*}"
