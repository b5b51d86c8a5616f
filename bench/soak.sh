#!/usr/bin/env bash
# A bounded soak of wasm-proxy: the conformance plugin (pausing POSTs on callouts) in front of
# the echo upstream, 2 workers, mixed good/slow/malformed traffic from bench/soak.py and a SIGHUP
# reload every 10 s. Reports RSS over time and lost requests.
#   bench/soak.sh [build-dir] [seconds]      (default 600; env SOAK_RELOAD_SECONDS, default 10)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"; seconds="${2:-600}"
work="$build/bench/soak"; rm -rf "$work"; mkdir -p "$work"
up=19500; port=19502; admin=19503
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$build/test/support/echo-upstream" --port $up --threads 2 >"$work/echo.log" 2>&1 &
pids+=($!)
cat >"$work/envoy.yaml" <<YAML
admin: { address: { socket_address: { address: 127.0.0.1, port_value: $admin } } }
static_resources:
  listeners:
  - name: soak
    address: { socket_address: { address: 127.0.0.1, port_value: $port } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: soak
          request_headers_timeout: 2s
          stream_idle_timeout: 5s
          route_config: { virtual_hosts: [{ name: a, domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: up } }] }] }
          http_filters:
          - name: envoy.filters.http.wasm
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config: { name: conformance, vm_config: { vm_id: soak, runtime: envoy.wasm.runtime.v8, code: { local: { filename: "$build/plugins/conformance.wasm" } } } }
          - name: envoy.filters.http.router
  clusters:
  - name: up
    connect_timeout: 1s
    load_assignment: { cluster_name: up, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $up } } } }] }] }
  - name: auth_cluster
    connect_timeout: 1s
    load_assignment: { cluster_name: auth_cluster, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: $up } } } }] }] }
YAML
"$build/proxy/wasm-proxy" -c "$work/envoy.yaml" --concurrency 2 -l warn >"$work/proxy.log" 2>&1 &
proxy=$!
pids+=($proxy)
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$admin/ready" && break; sleep 0.1; done
python3 "$root/bench/soak.py" $port $proxy "$seconds" "${SOAK_RELOAD_SECONDS:-10}"
