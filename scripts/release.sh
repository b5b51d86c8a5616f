#!/usr/bin/env bash
# Cuts a release of the extensions (docs/releasing.md):
#   scripts/release.sh [--registry HOST:PORT] [--tag TAG] [--out DIR] [--sign-key FILE] [--insecure]
# Builds from a clean tree (RELEASE_ALLOW_DIRTY=1 to skip that check), then writes DIR (default
# dist/): every extension's .wasm; for each, both image variants as OCI layouts
# (<name>.compat/, <name>.oci/) and a WasmPlugin pinned by digest (<name>.wasmplugin.yaml);
# IMAGES (each image's name, variant and manifest digest); SHA256SUMS (the modules, each image
# manifest, IMAGES, the SBOM and the WasmPlugins; `sha256sum -c` checks it); sbom.spdx.json (SPDX 2.3: what is compiled
# into each module); SHA256SUMS.minisig and minisign.pub (signed with --sign-key, a minisign
# secret key without a password, or with a throw-away key made here).
# With --registry it pushes HOST:PORT/<name>:TAG (Istio's compat image) and
# HOST:PORT/<name>:TAG-oci (the OCI Wasm artifact), checks each pushed manifest with
# `skopeo inspect` against SHA256SUMS, and pins the WasmPlugins to the pushed images
# (--insecure: the registry speaks plain HTTP).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
registry="" tag="" out="$root/dist" sign_key="" insecure=""
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --sign-key) sign_key="$2"; shift 2 ;;
    --insecure) insecure="--insecure"; shift ;;
    *) echo "release.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
say() { printf '[release] %s\n' "$*"; }
version=$(sed -n 's/^project([a-z_]* VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
tag="${tag:-$version}"

if [ "${RELEASE_ALLOW_DIRTY:-0}" != 1 ] && [ -n "$(git -C "$root" status --porcelain)" ]; then
  echo "release.sh: the tree has uncommitted changes; commit them (or RELEASE_ALLOW_DIRTY=1)" >&2
  exit 1
fi
if [ "${RELEASE_SKIP_BUILD:-0}" != 1 ]; then  # the tests release what they have just built
  "$root/scripts/setup.sh" >/dev/null
  "$root/scripts/build.sh" >/dev/null
fi
build="${BUILD_DIR:-$root/build}"

# Each extension and what is compiled into it (for the SBOM).
declare -A parts=(
  [basic_auth]=sdk,nettle,pcre2,nlohmann-json,wasi-libc,libc++
  [local_rate_limit]=sdk,nlohmann-json,wasi-libc,libc++
  [open_policy_agent]=sdk,nlohmann-json,wasi-libc,libc++
  [jwt_routing]=sdk,nettle,nlohmann-json,wasi-libc,libc++
  [grpc_access_logging]=sdk,nanopb,nlohmann-json,wasi-libc,libc++
  [scaffold]=sdk,nlohmann-json,wasi-libc,libc++
  [zig_scaffold]=zig-std
)
names=(basic_auth local_rate_limit open_policy_agent jwt_routing grpc_access_logging scaffold
       zig_scaffold)

rm -rf "$out"; mkdir -p "$out"
sbom_args=()
for n in "${names[@]}"; do
  cp "$build/plugins/$n.wasm" "$out/"
  sbom_args+=("$out/$n.wasm=${parts[$n]}")
done
(cd "$out" && sha256sum ./*.wasm | sed 's| \./| |' > SHA256SUMS)
python3 "$root/scripts/release/sbom.py" "$out/sbom.spdx.json" "$version" "${sbom_args[@]}"

for n in "${names[@]}"; do
  for variant in compat oci; do
    digest=$(python3 "$root/scripts/release/oci_image.py" layout "$out/$n.wasm" "$out/$n.$variant" \
               --variant "$variant")
    suffix=$([ $variant = oci ] && echo "-oci" || true)
    if [ -n "$registry" ]; then
      pushed=$(python3 "$root/scripts/release/oci_image.py" push "$out/$n.wasm" \
                 "$registry/$n:$tag$suffix" --variant "$variant" $insecure)
      [ "$pushed" = "$digest" ] || { echo "release.sh: pushed $pushed, built $digest" >&2; exit 1; }
      inspected=$(skopeo inspect --raw ${insecure:+--tls-verify=false} \
                    "docker://$registry/$n:$tag$suffix" | sha256sum | cut -c1-64)
      [ "sha256:$inspected" = "$digest" ] || { echo "release.sh: $n:$tag$suffix in the registry has sha256:$inspected, not $digest" >&2; exit 1; }
      say "pushed $registry/$n:$tag$suffix ($digest)"
    fi
    # The manifest is a file of the layout, so `sha256sum -c SHA256SUMS` checks it too.
    echo "${digest#sha256:}  $n.$variant/blobs/sha256/${digest#sha256:}" >> "$out/SHA256SUMS"
    echo "$n:$tag$suffix $variant $digest" >> "$out/IMAGES"
    if [ $variant = compat ]; then
      url="oci://${registry:-REGISTRY}/$n:$tag"
      cat > "$out/$n.wasmplugin.yaml" <<YAML
# $n $tag for Istio, pinned by the digest of its image manifest (see SHA256SUMS).
apiVersion: extensions.istio.io/v1alpha1
kind: WasmPlugin
metadata:
  name: ${n//_/-}
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  url: $url
  sha256: ${digest#sha256:}
  imagePullPolicy: IfNotPresent
  pluginConfig: {}   # the extension's configuration: extensions/$n/README.md
YAML
    fi
  done
done

(cd "$out" && sha256sum IMAGES sbom.spdx.json ./*.wasmplugin.yaml | sed 's| \./| |' >> SHA256SUMS)
if [ -z "$sign_key" ]; then
  sign_key="$(mktemp -d)/release.key"
  minisign -G -W -p "$out/minisign.pub" -s "$sign_key" >/dev/null
  say "signed with a throw-away key (pass --sign-key for yours); its public half: minisign.pub"
else
  minisign -R -s "$sign_key" -p "$out/minisign.pub" >/dev/null
fi
minisign -S -s "$sign_key" -m "$out/SHA256SUMS" -x "$out/SHA256SUMS.minisig" \
  -t "proxy-wasm-cpp-extensions $tag" >/dev/null </dev/null
minisign -V -p "$out/minisign.pub" -m "$out/SHA256SUMS" -x "$out/SHA256SUMS.minisig" -q
say "release $tag in $out: $(ls "$out" | tr '\n' ' ')"
