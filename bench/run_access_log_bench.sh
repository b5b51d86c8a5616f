#!/usr/bin/env bash
# The cost of grpc_access_logging through wasm-proxy, and whether every request is accounted for.
# wrk on loopback, one worker each, the same nginx upstream, the real collector (log-collector,
# libgrpc++) receiving: wasm-proxy without a filter; with the plugin exporting upstream's WriteLog;
# with it exporting OTLP. Interleaved rounds; prints medians, ratios to no filter and CPU per
# request (the proxy's own, from /proc). Then the accounting: the requests each proxy served
# (http.downstream_rq_total; wrk counts a few less: those in flight when it stops) against
# logs_written + logs_dropped after the last flush, and what the collector received.
#   bench/run_access_log_bench.sh [build-dir]   env: ROUNDS (3), DURATION (5s), CONNECTIONS (32)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/bench/lib.sh"
build="${1:-$root/build}"
rounds="${ROUNDS:-3}"; duration="${DURATION:-5s}"; conns="${CONNECTIONS:-32}"
work="$build/bench/access_log"; rm -rf "$work"; mkdir -p "$work"
up=19500; collector=19501
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
use_pinning
nginx_conf upstream $up 'location / { return 200 "hello from the upstream\n"; }' load
"${on_load[@]}" "$build/test/support/log-collector" --port $collector --summary >"$work/collector.out" 2>&1 &
pids+=($!)

plugin() {  # plugin configuration (JSON) [plugin name]
  wasm_filter access_log "$build/plugins/${2:-grpc_access_logging}.wasm" "$1"
}
cluster="  - name: collector
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: { http2_protocol_options: {} }
    load_assignment: { cluster_name: collector, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $collector } } } }] }] }"

targets="noflt scaffold write_log otlp"
declare -A port=() served=()
p=19510
for t in $targets; do
  case $t in
    noflt) filters="" ;;
    scaffold) filters="$(plugin '{}' scaffold)" ;;
    write_log) filters="$(plugin "{\"logging_service\": \"127.0.0.1:$collector\"${WL_EXTRA:-}}")" ;;
    otlp) filters="$(plugin '{"otlp_service": "collector"}')" ;;
  esac
  bench_bootstrap $p $up "$filters" $((p + 1)) "$cluster" >"$work/$t.yaml"
  "${on_target[@]}" "$build/proxy/wasm-proxy" -c "$work/$t.yaml" --concurrency 1 -l warn >"$work/$t.log" 2>&1 &
  pids+=($!); eval "pid_$t=$!"; port[$t]=$p; served[$t]=0; p=$((p + 2))
done
sleep 1
for t in $targets; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:${port[$t]}/")
  [ "$code" = 200 ] || { echo "$t answered $code; see $work/$t.log"; exit 1; }
  served[$t]=1  # this check
done

declare -A rps=() cpu=()
wrk_args=()
bench_rounds
label() {
  case $1 in
    noflt) echo "wasm-proxy, no filter" ;;
    scaffold) echo "scaffold (a wasm filter doing nothing)" ;;
    write_log) echo "grpc_access_logging, WriteLog" ;;
    otlp) echo "grpc_access_logging, OTLP" ;;
  esac
}
bench_report

sleep 2  # the last flush interval (1 s) and its export
echo
echo "accounting (requests served vs entries the plugin counted):"
printf '%-10s %10s %10s %10s %10s %10s %10s\n' target wrk proxy written dropped failures sum_ok
for t in write_log otlp; do
  prom=$(curl -s "http://127.0.0.1:$((port[$t] + 1))/stats/prometheus")
  v() { echo "$prom" | awk -v n="$1" '$1 == n {print $2}'; }
  rq=$(v http_downstream_rq_total)
  w=$(v "grpc_access_logging_${t}_logs_written"); d=$(v "grpc_access_logging_${t}_logs_dropped")
  ok=$([ $((w + d)) -eq "$rq" ] && echo yes || echo NO)
  printf '%-10s %10s %10s %10s %10s %10s %10s\n' "$t" "${served[$t]}" "$rq" "$w" "$d" \
    "$(v "grpc_access_logging_${t}_export_failures")" "$ok"
done
echo "collector received: $(grep -o '"request_entries":[0-9]*' "$work/collector.out" | awk -F: '{s += $2} END {print s}') entries"

