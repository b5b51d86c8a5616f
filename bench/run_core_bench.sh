#!/usr/bin/env bash
# The proxy core against nginx, as a new user would measure it: one worker each, nginx (Debian)
# as the upstream for both (a small static answer, keep-alive), `wrk -t1 -c32`, keep-alive,
# rounds interleaved in one run, every target on the same CPU (`use_pinning` in lib.sh). Targets: nginx proxying (proxy_pass, upstream keepalive),
# wasm-proxy without a filter, wasm-proxy with scaffold.wasm on V8 and on wasm2c.
# Prints medians of requests/s, p99 and CPU time per request (the proxy's own processes, from
# /proc, which stays comparable when other load moves requests/s) and the ratios (with the
# quartiles of the per-round ratios: the spread the machine's noise gives them), and the
# scaffold's cost in user CPU per request: the filter's own code, without the kernel's socket
# work, whose share per request moves with the machine's load more than a filter costs.
#   bench/run_core_bench.sh [build-dir]     env: ROUNDS (5), DURATION (5s), CONNECTIONS (32)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/bench/lib.sh"
build="${1:-$root/build}"
rounds="${ROUNDS:-5}"; duration="${DURATION:-5s}"; conns="${CONNECTIONS:-32}"
work="$build/bench/core"; rm -rf "$work"; mkdir -p "$work/logs"
up=19300
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

use_pinning
nginx_conf upstream $up 'location / { return 200 "hello from the upstream\n"; }' load
nginx_conf nginx 19302 'location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }'

proxy() {  # name port plugin-or-empty runtime
  local filter=""
  [ -n "$3" ] && filter="          - name: envoy.filters.http.wasm
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config: { name: $3, vm_config: { vm_id: $3, runtime: envoy.wasm.runtime.$4, code: { local: { filename: \"$build/plugins/$3.wasm\" } } } }"
  bench_bootstrap "$2" "$up" "$filter" >"$work/$1.yaml"
  "${on_target[@]}" "$build/proxy/wasm-proxy" -c "$work/$1.yaml" --concurrency 1 -l warn >"$work/logs/$1.log" 2>&1 &
  pids+=($!)
}
proxy noflt 19304 ""
proxy scaffold 19306 scaffold v8
proxy scaffold_w2c 19308 scaffold wasm2c
targets="nginx noflt scaffold scaffold_w2c"
declare -A port=([nginx]=19302 [noflt]=19304 [scaffold]=19306 [scaffold_w2c]=19308)
sleep 1
for t in $targets; do
  curl -sf -o /dev/null "http://127.0.0.1:${port[$t]}/" || { echo "$t not up"; exit 1; }
done

# The process listening on a port (nginx's master; its workers count as its children).
listener_pid() { ss -ltnpH "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }
declare -A pid=()
for t in $targets; do pid[$t]=$(listener_pid "${port[$t]}"); done

declare -A rps=() p99=() cpu=() usr=()
for r in $(seq "$rounds"); do
  for t in $targets; do
    before=$(cpu_ticks "${pid[$t]}"); ubefore=$(user_ticks "${pid[$t]}")
    out=$("${on_load[@]}" wrk -t1 -c"$conns" -d"$duration" --latency "http://127.0.0.1:${port[$t]}/")
    after=$(cpu_ticks "${pid[$t]}"); uafter=$(user_ticks "${pid[$t]}")
    rps[$t]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
    p99[$t]+="$(echo "$out" | awk '$1=="99%" {print $2}') "
    n=$(echo "$out" | awk '/requests in/ {print $1}')
    cpu[$t]+="$(awk -v d=$((after - before)) -v t="$tck" -v n="$n" 'BEGIN {printf "%.2f", d / t * 1e6 / n}') "
    usr[$t]+="$(awk -v d=$((uafter - ubefore)) -v t="$tck" -v n="$n" 'BEGIN {printf "%.3f", d / t * 1e6 / n}') "
  done
done

echo "wrk -t1 -c$conns -d$duration, one worker each, nginx upstream, $placement; medians of $rounds interleaved rounds"
printf '%-28s %12s %10s %12s %13s\n' target requests/s p99_ms cpu_us/req user_us/req
declare -A med=() mcpu=()
for t in $targets; do
  med[$t]=$(echo "${rps[$t]}" | median); mcpu[$t]=$(echo "${cpu[$t]}" | median)
  l=$(for v in ${p99[$t]}; do echo "$v" | to_ms; echo; done | median)
  case $t in
    nginx) label="nginx proxy_pass";; noflt) label="wasm-proxy, no filter";;
    scaffold) label="wasm-proxy + scaffold (v8)";; *) label="wasm-proxy + scaffold (wasm2c)";;
  esac
  printf '%-28s %12s %10s %12s %13s\n' "$label" "${med[$t]}" "$l" "${mcpu[$t]}" \
    "$(echo "${usr[$t]}" | median)"
done
awk -v n="${med[noflt]}" -v s="${med[scaffold]}" -v w="${med[scaffold_w2c]}" -v x="${med[nginx]}" \
  'BEGIN {printf "by requests/s: no-filter/nginx %.2fx, scaffold/no-filter %.2fx (v8), %.2fx (wasm2c)\n", n/x, s/n, w/n}'
awk -v n="${mcpu[noflt]}" -v s="${mcpu[scaffold]}" -v w="${mcpu[scaffold_w2c]}" -v x="${mcpu[nginx]}" \
  'BEGIN {printf "by CPU per request: no-filter/nginx %.2fx, scaffold/no-filter %.2fx (v8), %.2fx (wasm2c)\n", x/n, n/s, n/w}'
printf 'median of per-round ratios, requests/s: no-filter/nginx %.2fx, scaffold/no-filter %.2fx (v8), %.2fx (wasm2c)\n' \
  "$(ratio_median "${rps[noflt]}" "${rps[nginx]}")" "$(ratio_median "${rps[scaffold]}" "${rps[noflt]}")" \
  "$(ratio_median "${rps[scaffold_w2c]}" "${rps[noflt]}")"
printf 'quartiles of the per-round ratios, scaffold/no-filter requests/s: %s (v8), %s (wasm2c)\n' \
  "$(ratio_quartiles "${rps[scaffold]}" "${rps[noflt]}")" "$(ratio_quartiles "${rps[scaffold_w2c]}" "${rps[noflt]}")"
printf 'the scaffold'"'"'s cost over no filter in user CPU per request (median of per-round differences): +%.2f us (v8), +%.2f us (wasm2c)\n' \
  "$(difference_median "${usr[scaffold]}" "${usr[noflt]}")" "$(difference_median "${usr[scaffold_w2c]}" "${usr[noflt]}")"
