#!/usr/bin/env bash
# The README's test command: setup (idempotent), build, the whole test suite, then wasm-proxy's
# integration tests again against a build of it with ASan and UBSan (scripts/test-sanitized.sh).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
(cd "${BUILD_DIR:-$root/build}" && ctest --output-on-failure -j"$(nproc)" "$@")
# A focused run (ctest arguments given) skips the sanitizer pass.
if [ $# -eq 0 ]; then "$root/scripts/test-sanitized.sh"; fi
