#!/usr/bin/env bash
# The release end to end (ctest release.end_to_end): Debian's docker-registry on a free loopback
# port, scripts/release.sh pushing both image variants of every extension to it, then: the files
# and manifests match SHA256SUMS, minisign verifies its signature, skopeo sees the pushed
# digests, and wasm-proxy serves basic_auth pulled through the release's own WasmPlugin.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
reg=$(port)
printf 'version: 0.1\nlog: { level: warn }\nstorage: { filesystem: { rootdirectory: %s/registry } }\nhttp: { addr: 127.0.0.1:%s }\n' \
  "$work" "$reg" > "$work/registry.yml"
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$reg/v2/" >/dev/null && break; sleep 0.1; done

RELEASE_ALLOW_DIRTY=1 RELEASE_SKIP_BUILD=1 BUILD_DIR="$build" \
  "$root/scripts/release.sh" --registry "127.0.0.1:$reg" --tag 9.9.9 --out "$work/dist" --insecure
cd "$work/dist"
sha256sum -c --quiet SHA256SUMS
minisign -V -q -p minisign.pub -m SHA256SUMS -x SHA256SUMS.minisig
python3 -c 'import json,sys; d=json.load(open("sbom.spdx.json")); assert d["spdxVersion"]=="SPDX-2.3"; names={p["name"] for p in d["packages"]}; assert "nettle (with mini-gmp)" in names and "jwt_routing.wasm" in names, names'
while read -r image variant digest; do
  got=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$reg/$image" | sha256sum | cut -c1-64)
  [ "sha256:$got" = "$digest" ] || { echo "$image: registry has sha256:$got, IMAGES says $digest"; exit 1; }
  grep -q "^${digest#sha256:}  " SHA256SUMS || { echo "$image: $digest not in SHA256SUMS"; exit 1; }
done < IMAGES
# A tampered SHA256SUMS no longer verifies.
cp SHA256SUMS "$work/tampered"; echo "0000  extra" >> "$work/tampered"
if minisign -V -q -p minisign.pub -m "$work/tampered" -x SHA256SUMS.minisig 2>/dev/null; then
  echo "a tampered SHA256SUMS verified"; exit 1
fi

# wasm-proxy with the release's WasmPlugin for basic_auth (its pluginConfig filled in).
sed 's|pluginConfig: {}.*|pluginConfig: { basic_auth_rules: [{ prefix: /, request_methods: [GET], credentials: ["alice:wonderland"] }] }|' \
  basic_auth.wasmplugin.yaml > "$work/basic_auth.yaml"
listen=$(port); admin=$(port)
cat > "$work/envoy.yaml" <<YAML
admin: { address: { socket_address: { address: 127.0.0.1, port_value: $admin } } }
static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: $listen } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: b
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: "ok" } } }] }] }
          http_filters:
          - name: envoy.filters.http.router
YAML
WASM_INSECURE_REGISTRIES="127.0.0.1:$reg" "$build/proxy/wasm-proxy" -c "$work/envoy.yaml" \
  --wasm-plugin "$work/basic_auth.yaml" --concurrency 1 > "$work/proxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/ready" >/dev/null && break; sleep 0.1; done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$listen/")" = 401 ] || { cat "$work/proxy.log"; exit 1; }
[ "$(curl -s -u alice:wonderland "http://127.0.0.1:$listen/")" = ok ] || { cat "$work/proxy.log"; exit 1; }
echo "release end to end: OK ($(wc -l < "$work/dist/IMAGES") images, $(wc -l < "$work/dist/SHA256SUMS") sums)"
