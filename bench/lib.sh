# Helpers shared by the proxy benchmarks (sourced).

# CPU clock ticks used so far by a process and its children (nginx's workers); with "user", user
# time only: the proxy's own code, without the kernel's socket work (whose share per request
# moves with the machine's load far more than a filter's cost does).
cpu_ticks() {
  local total=0 p fields='$14 + $15'
  [ "${2:-}" = user ] && fields='$14'
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] && total=$((total + $(awk "{print $fields}" "/proc/$p/stat")))
  done
  echo "$total"
}
user_ticks() { cpu_ticks "$1" user; }
tck=$(getconf CLK_TCK)

# The median of whitespace-separated numbers on stdin.
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# The median of the rounds' ratios $1[i] / $2[i] (two space-separated lists in round order): each
# round's targets ran back to back, so the machine's drift between rounds cancels out.
ratio_median() { per_round '$1 / $2' "$1" "$2" | median; }
# The lower quartile, median and upper quartile of the rounds' ratios (nearest rank): how far the
# machine's noise moves a ratio in this run.
ratio_quartiles() {
  per_round '$1 / $2' "$1" "$2" | tr ' ' '\n' | grep -v '^$' | sort -g |
    awk '{a[NR]=$1} END {printf "%.2f / %.2f / %.2f", a[int((NR+3)/4)], a[int((NR+1)/2)], a[int((3*NR+3)/4)]}'
}
# The same for the differences $1[i] - $2[i].
difference_median() { per_round '$1 - $2' "$1" "$2" | median; }
per_round() {
  paste <(echo "$2" | tr ' ' '\n' | grep -v '^$') <(echo "$3" | tr ' ' '\n' | grep -v '^$') |
    awk "{printf \"%.4f \", $1}"
}
# wrk's latency ("850.00us", "1.20ms", "2s") in milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; printf "%.2f", v}'; }

# A wasm-proxy bootstrap on stdout: one listener on port $1 whose HTTP filters are $3 (YAML list
# items, indented for http_filters, or empty) before the router, every route to 127.0.0.1:$2;
# an admin listener on port $4 when given; $5: more clusters (YAML list items) when given.
bench_bootstrap() {
  [ -n "${4:-}" ] && echo "admin: { address: { socket_address: { address: 127.0.0.1, port_value: $4 } } }"
  cat <<YAML
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
$3
          - name: envoy.filters.http.router
  clusters:
  - name: up
    connect_timeout: 1s
    load_assignment: { cluster_name: up, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $2 } } } }] }] }
YAML
  [ -z "${5:-}" ] || echo "$5"
}

# An http_filters item for bench_bootstrap: the wasm filter named $1 (also its vm_id) running the
# module $2 on V8 with configuration $3 (JSON).
wasm_filter() {
  printf '          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: %s
                vm_config: { vm_id: %s, runtime: envoy.wasm.runtime.v8, code: { local: { filename: "%s" } } }
                configuration: { "@type": type.googleapis.com/google.protobuf.StringValue, value: '"'"'%s'"'"' }\n' "$1" "$1" "$2" "$3"
}

# CPU placement for a benchmark of one-worker targets. After `use_pinning`, with PIN=1 (the
# default on a machine of two or more CPUs), every measured target runs on the last CPU and wrk
# and the upstream on the others: each target gets the same CPU, so a difference between CPUs
# (on a shared VM one core can run at half the speed of the other for minutes) does not land in
# the ratios, and the load never competes with a target for its CPU. Prefix a command with
# "${on_target[@]}" or "${on_load[@]}" (both empty when not pinned; taskset execs the command, so
# $! is the command's pid).
on_target=(); on_load=(); placement="not pinned"
use_pinning() {
  local n; n=$(nproc)
  [ "${PIN:-$([ "$n" -ge 2 ] && echo 1 || echo 0)}" = 1 ] || return 0
  local load="0-$((n > 2 ? n - 2 : 0))"
  on_target=(taskset -c "$((n - 1))"); on_load=(taskset -c "$load")
  placement="targets pinned to CPU $((n - 1)), wrk and upstream to CPU $load"
}

# nginx (Debian), one worker, serving `location` blocks $3 on port $2 with an upstream "up" at
# 127.0.0.1:$up; config and logs under $work ($1 names them); its pid is added to $pids. $4:
# "load" for the upstream (placed as the load), else a measured target.
nginx_conf() {  # name port body-of-server [load]
  mkdir -p "$work/logs"
  cat >"$work/$1.conf" <<NGX
worker_processes 1; daemon off; user root; pid $work/$1.pid; error_log $work/logs/$1.err;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work;
  uwsgi_temp_path $work; scgi_temp_path $work; keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$up; keepalive 64; }
  server { listen 127.0.0.1:$2; $3 } }
NGX
  if [ "${4:-}" = load ]; then
    "${on_load[@]}" /usr/sbin/nginx -p "$work" -c "$work/$1.conf" &
  else
    "${on_target[@]}" /usr/sbin/nginx -p "$work" -c "$work/$1.conf" &
  fi
  pids+=($!)
}

# Interleaved wrk rounds over the targets in $targets: target t listens on ${port[t]}, its process
# id is in $pid_<t>; extra wrk arguments in the array wrk_args. Appends to the associative arrays
# rps[t] and cpu[t] (the process's CPU microseconds per request, from /proc) one value per
# round, and adds the requests wrk completed to served[t]. Uses $rounds, $conns, $duration.
bench_rounds() {
  local r t pidvar before after out n errors
  for r in $(seq "$rounds"); do
    for t in $targets; do
      pidvar="pid_$t"
      before=$(cpu_ticks "${!pidvar}")
      out=$("${on_load[@]}" wrk -t1 -c"$conns" -d"$duration" "${wrk_args[@]}" "http://127.0.0.1:${port[$t]}/")
      after=$(cpu_ticks "${!pidvar}")
      rps[$t]+="$(echo "$out" | awk '/Requests\/sec/ {print $2}') "
      n=$(echo "$out" | awk '/requests in/ {print $1}')
      errors=$(echo "$out" | awk '/Non-2xx|Socket errors/' || true)
      [ -z "$errors" ] || echo "$t: $errors"
      served[$t]=$((${served[$t]:-0} + n))
      cpu[$t]+="$(awk -v d=$((after - before)) -v t="$tck" -v n="$n" 'BEGIN {printf "%.2f", d / t * 1e6 / n}') "
    done
  done
}

# Prints the medians of bench_rounds, with ratios to the target "noflt"; `label <target>` (defined
# by the caller) names each row.
bench_report() {
  local t m u base base_cpu
  echo "wrk -t1 -c$conns -d$duration, one worker each, nginx upstream, $placement; medians of $rounds rounds"
  printf '%-44s %12s %12s %10s %10s\n' target requests/s cpu_us/req vs_noflt cpu_ratio
  base=$(echo "${rps[noflt]}" | median); base_cpu=$(echo "${cpu[noflt]}" | median)
  for t in $targets; do
    m=$(echo "${rps[$t]}" | median); u=$(echo "${cpu[$t]}" | median)
    awk -v l="$(label "$t")" -v m="$m" -v u="$u" -v b="$base" -v bc="$base_cpu" \
      'BEGIN {printf "%-44s %12s %12s %9.2fx %9.2fx\n", l, m, u, m / b, bc / u}'
  done
}
