#!/usr/bin/env bash
# wrk on loopback, in one run: wasm-proxy without a filter, wasm-proxy with scaffold.wasm, and
# nginx (Debian) proxying to the same echo upstream with keep-alive, at concurrency 1 and 2; then
# at concurrency 2 wasm-proxy with basic_auth (authorized requests), local_rate_limit (a bucket
# too large to limit) and open_policy_agent (every request a cache hit; OPA stand-in), and
# basic_auth against nginx's auth_basic with the same two users: plain passwords ({PLAIN} for
# nginx), then bcrypt hashes at htpasswd's default cost 5 (the plugin caches verified credentials,
# nginx runs crypt() per request).
# Each wasm-proxy target with a plugin runs again on the wasm2c runtime (`_w2c`, through
# --wasm-runtime wasm2c, with the build's precompiled artefacts).
# Prints medians of requests/s and p99 over ROUNDS interleaved runs, the ratios, and RSS; and the
# proxy's own CPU time per request (all its processes, from /proc), which stays comparable when
# other load on the machine moves requests/s.
#   bench/run_proxy_bench.sh [build-dir]     env: ROUNDS (3), DURATION (5s), CONNECTIONS (32)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/bench/lib.sh"
build="${1:-$root/build}"
rounds="${ROUNDS:-3}"; duration="${DURATION:-5s}"; conns="${CONNECTIONS:-32}"
work="$build/bench/proxy"; rm -rf "$work"; mkdir -p "$work/nginx/logs"
up=19100
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

"$build/test/support/echo-upstream" --port $up --threads 1 >"$work/echo.log" 2>&1 &
pids+=($!)

opa=19150
"$build/test/support/opa-standin" --port $opa >"$work/opa.log" 2>&1 &
pids+=($!)

# The same users for both: alice:wonderland, bob:builder.
printf '%s\n' 'alice:{PLAIN}wonderland' 'bob:{PLAIN}builder' >"$work/users.plain"
{ htpasswd -nbB -C 5 alice wonderland; htpasswd -nbB -C 5 bob builder; } | grep . >"$work/users.bcrypt"
bcrypt_credentials=$(awk '{printf "%s\"%s\"", (NR > 1 ? "," : ""), $0}' "$work/users.bcrypt")

proxy_config() {  # port admin plugin(or "") plugin-config
  local filter=""
  if [ -n "$3" ]; then
    filter="          - name: envoy.filters.http.wasm
            typed_config:
              \"@type\": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: $3
                vm_config: { vm_id: $3, runtime: envoy.wasm.runtime.v8, code: { local: { filename: \"$build/plugins/$3.wasm\" } } }
                configuration: { \"@type\": type.googleapis.com/google.protobuf.StringValue, value: '$4' }"
  fi
  echo "node: { id: bench, metadata: { WORKLOAD_NAME: echo-server } }"
  bench_bootstrap "$1" "$up" "$filter" "$2" "  - name: opa
    connect_timeout: 1s
    load_assignment: { cluster_name: opa, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $opa } } } }] }] }"
}


declare -A port=()
next_port=19200
start_target() {  # name concurrency
  local name="$1" c="$2" p=$next_port
  next_port=$((next_port + 2))
  port[$name]=$p
  case "$name" in
    nginx*)
      local auth=""
      case "$name" in
        nginx_auth*) auth="auth_basic \"bench\"; auth_basic_user_file $work/users.plain;" ;;
        nginx_bcrypt*) auth="auth_basic \"bench\"; auth_basic_user_file $work/users.bcrypt;" ;;
      esac
      cat >"$work/nginx/$name.conf" <<NGX
worker_processes $c; daemon off; user root; pid $work/nginx/$name.pid; error_log $work/nginx/logs/$name.err;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work/nginx; proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx; uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  upstream up { server 127.0.0.1:$up; keepalive 64; }
  server { listen 127.0.0.1:$p; location / { $auth proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX
      /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/$name.conf" &
      ;;
    *)
      local plugin="" pcfg="{}"
      case "$name" in
        scaffold*) plugin=scaffold ;;
        basic_auth_bcrypt*) plugin=basic_auth
          pcfg='{"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":['"$bcrypt_credentials"']}]}' ;;
        basic_auth*) plugin=basic_auth
          pcfg='{"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["alice:wonderland","bob:builder"]}]}' ;;
        rate_limit*) plugin=local_rate_limit
          pcfg='{"max_tokens":1000000000,"tokens_per_refill":1,"refill_interval_sec":3600}' ;;
        opa*) plugin=open_policy_agent
          pcfg='{"opa_cluster_name":"opa","opa_service_host":"opa","check_result_cache_valid_sec":3600}' ;;
      esac
      proxy_config $p $((p + 1)) "$plugin" "$pcfg" >"$work/$name.yaml"
      local runtime=()
      [[ $name == *_w2c* ]] && runtime=(--wasm-runtime wasm2c)
      "$build/proxy/wasm-proxy" -c "$work/$name.yaml" --concurrency "$c" -l warn "${runtime[@]}" \
        >"$work/$name.log" 2>&1 &
      ;;
  esac
  pids+=($!)
  eval "pid_$name=$!"
}

for c in 1 2; do
  start_target "noflt$c" $c; start_target "scaffold$c" $c; start_target "scaffold_w2c$c" $c
  start_target "nginx$c" $c
done
start_target basic_auth2 2; start_target rate_limit2 2; start_target opa2 2
start_target basic_auth_w2c2 2; start_target rate_limit_w2c2 2; start_target opa_w2c2 2
start_target nginx_auth2 2; start_target basic_auth_bcrypt2 2; start_target nginx_bcrypt2 2
sleep 1
auth="Authorization: Basic YWxpY2U6d29uZGVybGFuZA=="
target="/echo"  # the OPA stand-in's policy allows GET /echo for workload echo-server
for name in "${!port[@]}"; do
  curl -sf -o /dev/null -H "$auth" "http://127.0.0.1:${port[$name]}$target" || { echo "$name not up"; exit 1; }
done


ext_targets="basic_auth rate_limit opa basic_auth_w2c rate_limit_w2c opa_w2c nginx_auth"
ext_targets="$ext_targets basic_auth_bcrypt nginx_bcrypt"
declare -A rps=() p99=() cpu=()
for r in $(seq "$rounds"); do
  for c in 1 2; do
    targets="noflt scaffold scaffold_w2c nginx"
    [ $c = 2 ] && targets="$targets $ext_targets"
    for t in $targets; do
      name="$t$c"; pidvar="pid_$name"
      before=$(cpu_ticks "${!pidvar}")
      out=$(wrk -t2 -c"$conns" -d"$duration" --latency -H "$auth" "http://127.0.0.1:${port[$name]}$target")
      after=$(cpu_ticks "${!pidvar}")
      rps[$name]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
      p99[$name]+="$(echo "$out" | awk '$1=="99%" {print $2}') "
      n=$(echo "$out" | awk '/requests in/ {print $1}')
      cpu[$name]+="$(awk -v d=$((after - before)) -v t="$tck" -v n="$n" 'BEGIN {printf "%.2f", d / t * 1e6 / n}') "
    done
  done
done

rss() { awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
echo "wrk -t2 -c$conns -d$duration, medians of $rounds rounds (all processes on the same $(nproc) cores)"
printf '%-34s %12s %10s %12s %12s\n' target requests/s p99_ms cpu_us/req rss
for c in 1 2; do
  targets="noflt scaffold scaffold_w2c nginx"
  [ $c = 2 ] && targets="$targets $ext_targets"
  for t in $targets; do
    name="$t$c"; pidvar="pid_$name"
    m=$(echo "${rps[$name]}" | median); l=$(for v in ${p99[$name]}; do echo "$v" | to_ms; echo; done | median)
    u=$(echo "${cpu[$name]}" | median)
    eval "med_$name=$m"; eval "cpu_$name=$u"
    case $t in
      noflt) label="wasm-proxy, no filter" ;;
      nginx*) label="$t" ;;
      *_w2c) label="wasm-proxy + ${t%_w2c} (wasm2c)" ;;
      *) label="wasm-proxy + $t" ;;
    esac
    printf '%-34s %12s %10s %12s %12s\n' "$label (c=$c)" "$m" "$l" "$u" "$([[ $t = nginx* ]] && echo '-' || rss ${!pidvar})"
  done
done
for c in 1 2; do
  n=$(eval echo "\$med_noflt$c"); s=$(eval echo "\$med_scaffold$c"); x=$(eval echo "\$med_nginx$c")
  w=$(eval echo "\$med_scaffold_w2c$c")
  awk -v n="$n" -v s="$s" -v x="$x" -v w="$w" -v c="$c" 'BEGIN {printf "concurrency %s: no-filter/nginx %.2fx, scaffold/no-filter %.2fx (v8) %.2fx (wasm2c)\n", c, n/x, s/n, w/n}'
  n=$(eval echo "\$cpu_noflt$c"); s=$(eval echo "\$cpu_scaffold$c"); x=$(eval echo "\$cpu_nginx$c")
  w=$(eval echo "\$cpu_scaffold_w2c$c")
  awk -v n="$n" -v s="$s" -v x="$x" -v w="$w" -v c="$c" 'BEGIN {printf "concurrency %s, by CPU per request: no-filter/nginx %.2fx, scaffold/no-filter %.2fx (v8) %.2fx (wasm2c)\n", c, x/n, n/s, n/w}'
done
awk -v n="$med_noflt2" -v b="$med_basic_auth2" -v r="$med_rate_limit2" -v o="$med_opa2" \
  'BEGIN {printf "concurrency 2 vs no filter, v8: basic_auth %.2fx, local_rate_limit %.2fx, opa (cache hits) %.2fx\n", b/n, r/n, o/n}'
awk -v n="$med_noflt2" -v b="$med_basic_auth_w2c2" -v r="$med_rate_limit_w2c2" -v o="$med_opa_w2c2" \
  'BEGIN {printf "concurrency 2 vs no filter, wasm2c: basic_auth %.2fx, local_rate_limit %.2fx, opa (cache hits) %.2fx\n", b/n, r/n, o/n}'
awk -v b="$med_basic_auth2" -v na="$med_nginx_auth2" -v bb="$med_basic_auth_bcrypt2" -v nb="$med_nginx_bcrypt2" \
  'BEGIN {printf "concurrency 2, basic_auth vs nginx auth_basic: plain %.2fx, bcrypt cost 5 %.2fx\n", b/na, bb/nb}'
