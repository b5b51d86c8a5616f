#!/usr/bin/env bash
# wrk on loopback, in one run: wasm-proxy without a filter, wasm-proxy with scaffold.wasm, and
# nginx (Debian) proxying to the same echo upstream with keep-alive, at concurrency 1 and 2.
# Prints medians of requests/s and p99 over ROUNDS interleaved runs, the ratios, and RSS.
#   bench/run_proxy_bench.sh [build-dir]     env: ROUNDS (3), DURATION (5s), CONNECTIONS (32)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
rounds="${ROUNDS:-3}"; duration="${DURATION:-5s}"; conns="${CONNECTIONS:-32}"
work="$build/bench/proxy"; rm -rf "$work"; mkdir -p "$work/nginx/logs"
up=19100
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$build/test/support/echo-upstream" --port $up --threads 1 >"$work/echo.log" 2>&1 &
pids+=($!)

proxy_config() {  # port admin with_filter
  local filter=""
  if [ "$3" = 1 ]; then
    filter="          - name: envoy.filters.http.wasm
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: scaffold
                vm_config: { vm_id: scaffold, runtime: envoy.wasm.runtime.v8, code: { local: { filename: \"$build/plugins/scaffold.wasm\" } } }"
  fi
  cat <<YAML
admin: { address: { socket_address: { address: 127.0.0.1, port_value: $2 } } }
static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 127.0.0.1, port_value: $1 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: b
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: up } }] }] }
          http_filters:
$filter
          - name: envoy.filters.http.router
  clusters:
  - name: up
    connect_timeout: 1s
    load_assignment: { cluster_name: up, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $up } } } }] }] }
YAML
}

declare -A port=()
next_port=19200
start_target() {  # name concurrency
  local name="$1" c="$2" p=$next_port
  next_port=$((next_port + 2))
  port[$name]=$p
  case "$name" in
    nginx*)
      cat >"$work/nginx/$name.conf" <<NGX
worker_processes $c; daemon off; user root; pid $work/nginx/$name.pid; error_log $work/nginx/logs/$name.err;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  upstream up { server 127.0.0.1:$up; keepalive 64; }
  server { listen 127.0.0.1:$p; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX
      /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/$name.conf" &
      ;;
    *)
      proxy_config $p $((p + 1)) $([[ $name == scaffold* ]] && echo 1 || echo 0) >"$work/$name.yaml"
      "$build/proxy/wasm-proxy" -c "$work/$name.yaml" --concurrency "$c" -l warn >"$work/$name.log" 2>&1 &
      ;;
  esac
  pids+=($!)
  eval "pid_$name=$!"
}

for c in 1 2; do
  start_target "noflt$c" $c; start_target "scaffold$c" $c; start_target "nginx$c" $c
done
sleep 1
for name in "${!port[@]}"; do curl -sf -o /dev/null "http://127.0.0.1:${port[$name]}/plain" || { echo "$name not up"; exit 1; }; done

declare -A rps=() p99=()
for r in $(seq "$rounds"); do
  for c in 1 2; do
    for t in noflt scaffold nginx; do
      name="$t$c"
      out=$(wrk -t2 -c"$conns" -d"$duration" --latency "http://127.0.0.1:${port[$name]}/plain")
      rps[$name]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
      p99[$name]+="$(echo "$out" | awk '$1=="99%" {print $2}') "
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; printf "%.2f", v}'; }
rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
echo "wrk -t2 -c$conns -d$duration, medians of $rounds rounds (all processes on the same $(nproc) cores)"
printf '%-28s %12s %10s %12s\n' target requests/s p99_ms rss
for c in 1 2; do
  for t in noflt scaffold nginx; do
    name="$t$c"; pidvar="pid_$name"
    m=$(echo "${rps[$name]}" | median); l=$(for v in ${p99[$name]}; do echo "$v" | to_ms; echo; done | median)
    eval "med_$name=$m"
    label=$([ $t = noflt ] && echo "wasm-proxy, no filter" || ([ $t = scaffold ] && echo "wasm-proxy + scaffold.wasm" || echo "nginx"))
    printf '%-28s %12s %10s %12s\n' "$label (c=$c)" "$m" "$l" "$([ $t = nginx ] && echo '-' || rss ${!pidvar})"
  done
done
for c in 1 2; do
  n=$(eval echo "\$med_noflt$c"); s=$(eval echo "\$med_scaffold$c"); x=$(eval echo "\$med_nginx$c")
  awk -v n="$n" -v s="$s" -v x="$x" -v c="$c" 'BEGIN {printf "concurrency %s: no-filter/nginx %.2fx, scaffold/no-filter %.2fx\n", c, n/x, s/n}'
done
