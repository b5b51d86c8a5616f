#!/usr/bin/env bash
# wrk on loopback, in one run, each target with one worker and the same nginx upstream, every
# request carrying the same RS256 token: wasm-proxy without a filter; with the native jwt_authn;
# with jwt_authn then jwt_routing (claims from metadata); with jwt_routing verifying the token
# itself, with its cache of verified tokens and without it (cache_size 0: every request runs an
# RSA check in wasm). Prints medians over ROUNDS interleaved rounds, ratios to no filter, and the
# proxy's CPU time per request (from /proc, comparable when other load moves requests/s).
#   bench/run_jwt_bench.sh [build-dir]     env: ROUNDS (3), DURATION (5s), CONNECTIONS (32)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/bench/lib.sh"
. "$root/scripts/jwt_helpers.sh"
build="${1:-$root/build}"
rounds="${ROUNDS:-3}"; duration="${DURATION:-5s}"; conns="${CONNECTIONS:-32}"
work="$build/bench/jwt"; rm -rf "$work"; mkdir -p "$work"
up=19400
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
# The upstream: nginx with a small fixed answer (an echo would answer longer for a request that
# still carries its token, which skews the comparison).
use_pinning
nginx_conf upstream $up 'location / { return 200 "hello from the upstream\n"; }' load
jwt_rsa_key "$work"
token=$(jwt_token "$work" alice gold)
jwks_json=$(sed 's/"/\\"/g' "$work/jwks.json")

authn='          - name: envoy.filters.http.jwt_authn
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication
              providers: { demo: { issuer: https://issuer.demo, local_jwks: { filename: "'"$work"'/jwks.json" }, payload_in_metadata: payload } }
              rules: [{ match: { prefix: / }, requires: { provider_name: demo } }]'
routing() {  # plugin configuration (JSON)
  wasm_filter jwt_routing "$build/plugins/jwt_routing.wasm" "$1"
}
rules='"claim_to_headers": [{"claim": "sub", "header": "x-user"}], "rules": [{"claim": "plan", "values": ["gold"], "set_headers": {"x-route": "gold"}}]}'
providers='"providers": {"demo": {"issuer": "https://issuer.demo", "local_jwks": {"inline_string": "'"$jwks_json"'"}}}'

targets="noflt jwt_authn authn_routing routing_cached routing_uncached"
declare -A port=()
p=19410
for t in $targets; do
  case $t in
    noflt) filters="" ;;
    jwt_authn) filters="$authn" ;;
    authn_routing) filters="$authn
$(routing "{$rules")" ;;
    routing_cached) filters="$(routing "{$providers, $rules")" ;;
    routing_uncached) filters="$(routing "{\"cache_size\": 0, $providers, $rules")" ;;
  esac
  bench_bootstrap $p $up "$filters" $((p + 1)) >"$work/$t.yaml"
  "${on_target[@]}" "$build/proxy/wasm-proxy" -c "$work/$t.yaml" --concurrency 1 -l warn >"$work/$t.log" 2>&1 &
  pids+=($!); eval "pid_$t=$!"; port[$t]=$p; p=$((p + 2))
done
sleep 1
for t in $targets; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "http://127.0.0.1:${port[$t]}/")
  [ "$code" = 200 ] || { echo "$t answered $code; see $work/$t.log"; exit 1; }
done

declare -A rps=() cpu=() served=()
wrk_args=(-H "authorization: Bearer $token")
bench_rounds
label() {
  case $1 in
    noflt) echo "wasm-proxy, no filter" ;;
    jwt_authn) echo "jwt_authn (native, RS256)" ;;
    authn_routing) echo "jwt_authn + jwt_routing (metadata)" ;;
    routing_cached) echo "jwt_routing verifying, cached" ;;
    routing_uncached) echo "jwt_routing verifying every request" ;;
  esac
}
bench_report
