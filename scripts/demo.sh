#!/usr/bin/env bash
# The README's demo command: setup (idempotent), build, then show what was built.
# (It grows into wasm-proxy serving the demo configuration once the proxy lands.)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
build="${BUILD_DIR:-$root/build}"
echo
echo "Plugins built (proxy-wasm ABI 0.2.1, load unchanged into Envoy and Istio):"
for w in "$build"/plugins/*.wasm; do
  python3 "$root/test/tools/check_plugin.py" "$w" | sed 's/^/  /'
done
echo
echo "SDK package installed in $build/sdk-install (find_package(ProxyWasmSdk))."
