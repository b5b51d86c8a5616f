#!/usr/bin/env bash
# The README's demo command: setup (idempotent), build, then wasm-proxy serving
# examples/demo/envoy.yaml in front of the built-in echo upstream, with a few requests allowed and
# denied. Keeps serving until Ctrl-C (DEMO_ONESHOT=1: exit after the requests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
build="${BUILD_DIR:-$root/build}"
listen="${DEMO_PORT:-10000}"; admin="${DEMO_ADMIN_PORT:-10001}"; upstream="${DEMO_UPSTREAM_PORT:-10002}"
collector="${DEMO_COLLECTOR_PORT:-10003}"
opa_listen="${DEMO_OPA_LISTEN_PORT:-10004}"; opa="${DEMO_OPA_PORT:-10005}"
work="$build/demo"; mkdir -p "$work"
# An RS256 key for the demo's tokens, made here with openssl: its public half as a JWKS.
. "$root/scripts/jwt_helpers.sh"
jwt_rsa_key "$work"
token() { jwt_token "$work" "$1" "$2"; }
sed -e "s|{{PLUGIN_DIR}}|$build/plugins|g" -e "s|{{LISTEN_PORT}}|$listen|g" -e "s|{{WORK_DIR}}|$work|g" \
    -e "s|{{ADMIN_PORT}}|$admin|g" -e "s|{{UPSTREAM_PORT}}|$upstream|g" \
    -e "s|{{COLLECTOR_PORT}}|$collector|g" -e "s|{{OPA_LISTEN_PORT}}|$opa_listen|g" \
    -e "s|{{OPA_PORT}}|$opa|g" \
    "$root/examples/demo/envoy.yaml" > "$work/envoy.yaml"

echo "Plugins built (proxy-wasm ABI 0.2.1; they load unchanged into Envoy and Istio):"
for w in "$build"/plugins/*.wasm; do
  flags=()
  case "$(basename "$w")" in
    hostile*|no_abi*|bench*|raw_abi*|conformance*) continue ;;
    zig_*) flags=(--no-initialize) ;;  # no static constructors, so no _initialize
  esac
  python3 "$root/test/tools/check_plugin.py" "${flags[@]}" "$w" | sed 's/^/  /'
done
echo

"$build/test/support/echo-upstream" --port "$upstream" >"$work/echo.log" 2>&1 &
echo_pid=$!
# A real gRPC collector for grpc_access_logging (test/support/log_collector.cc).
"$build/test/support/log-collector" --port "$collector" >"$work/collector.log" 2>&1 &
collector_pid=$!
# A stand-in for OPA's REST API with one fixed policy (test/support/opa_standin.cc).
"$build/test/support/opa-standin" --port "$opa" >"$work/opa.log" 2>&1 &
opa_pid=$!
"$build/proxy/wasm-proxy" -c "$work/envoy.yaml" --concurrency 2 >"$work/proxy.log" 2>&1 &
proxy_pid=$!
cleanup() {
  kill "$proxy_pid" "$echo_pid" "$collector_pid" "$opa_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$admin/ready" >/dev/null && break; sleep 0.1; done

mismatches=0
show() {  # expected status, description, curl arguments...
  local want="$1" what="$2"; shift 2
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  if [ "$code" = "$want" ]; then
    printf '  %-58s -> %s\n' "$what" "$code"
  else
    printf '  %-58s -> %s (expected %s)\n' "$what" "$code" "$want"
    mismatches=$((mismatches + 1))
  fi
}
echo "wasm-proxy on http://127.0.0.1:$listen (admin :$admin): grpc_access_logging, jwt_authn, jwt_routing, basic_auth, then local_rate_limit, in front of the echo upstream."
show 200 "GET /public (no rule applies)" "http://127.0.0.1:$listen/public"
show 401 "GET /api without credentials" "http://127.0.0.1:$listen/api/items"
show 401 "GET /api as bob:wrong" -u bob:wrong "http://127.0.0.1:$listen/api/items"
show 200 "GET /api as bob:builder" -u bob:builder "http://127.0.0.1:$listen/api/items"
show 403 "GET /admin as bob:builder (valid user, not allowed)" -u bob:builder "http://127.0.0.1:$listen/admin"
show 200 "GET /admin as alice:wonderland" -u alice:wonderland "http://127.0.0.1:$listen/admin"
for i in 1 2 3 4; do
  show "$([ "$i" = 4 ] && echo 429 || echo 200)" "GET /public with x-api-key: demo (request $i; 3 per 10 s)" -H "x-api-key: demo" "http://127.0.0.1:$listen/public"
done
show 200 "GET /public with x-api-key: other (its own bucket)" -H "x-api-key: other" "http://127.0.0.1:$listen/public"
routed() {  # expected upstream path, description, curl arguments...
  local want="$1" what="$2"; shift 2
  local got
  got=$(curl -s -H "x-api-key: jwt-demo" "$@" | sed -n 's/.*"path":"\([^"]*\)".*/\1/p')
  if [ "$got" = "$want" ]; then
    printf '  %-58s -> %s\n' "$what" "upstream $got"
  else
    printf '  %-58s -> upstream %s (expected %s)\n' "$what" "${got:-none}" "$want"
    mismatches=$((mismatches + 1))
  fi
}
show 401 "GET /orders without a token (jwt_authn)" "http://127.0.0.1:$listen/orders"
show 401 "GET /orders with a forged token" -H "authorization: Bearer $(token carol gold | tr 'A-M' 'N-Z')" "http://127.0.0.1:$listen/orders"
routed /orders "GET /orders as alice, plan silver (jwt_routing)" -H "authorization: Bearer $(token alice silver)" "http://127.0.0.1:$listen/orders"
routed /gold/orders "GET /orders as bob, plan gold: the gold cluster" -H "authorization: Bearer $(token bob gold)" "http://127.0.0.1:$listen/orders"
routed /orders "GET /orders as alice claiming x-plan: gold herself" -H "x-plan: gold" -H "authorization: Bearer $(token alice silver)" "http://127.0.0.1:$listen/orders"
echo "wasm-proxy on http://127.0.0.1:$opa_listen: open_policy_agent, asking the policy server (allows GET /echo)."
show 200 "GET /echo (allowed by the policy)" "http://127.0.0.1:$opa_listen/echo"
show 200 "GET /echo again (each worker caches decisions 10 s)" "http://127.0.0.1:$opa_listen/echo"
show 403 "POST /echo (denied by the policy)" -X POST "http://127.0.0.1:$opa_listen/echo"
show 403 "GET /other (denied by the policy)" "http://127.0.0.1:$opa_listen/other"
entries() { grep -c '"entry"' "$work/collector.log" || true; }
for _ in $(seq 50); do [ "$(entries)" -ge 16 ] && break; sleep 0.1; done
if [ "$(entries)" = 16 ]; then
  printf '  %-58s -> %s\n' "access-log entries at the gRPC collector (WriteLog)" "16 of 16"
  grep -m1 '"path":"/admin"' "$work/collector.log" | sed 's/^/    e.g. /'
else
  printf '  %-58s -> %s (expected 16)\n' "access-log entries at the gRPC collector" "$(entries)"
  mismatches=$((mismatches + 1))
fi
echo
echo "Counters (from /stats/prometheus):"
curl -s "http://127.0.0.1:$admin/stats/prometheus" | grep -E '^(basic_auth_|local_rate_limit_(allowed|limited) |http_jwt_authn_(allowed|denied) |jwt_routing_|grpc_access_logging_write_log_logs_|wasm_filter_opa_filter_|http_downstream_rq_[245]xx)' | sed 's/^/  /'
echo
if [ "$mismatches" != 0 ]; then echo "demo: $mismatches unexpected answer(s); logs in $work"; exit 1; fi
if [ "${DEMO_ONESHOT:-0}" = 1 ]; then exit 0; fi
echo "Serving until Ctrl-C. Try: curl -u alice:wonderland http://127.0.0.1:$listen/admin"
wait "$proxy_pid"
