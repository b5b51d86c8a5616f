#!/usr/bin/env bash
# Runs the host micro-benchmarks (5 repetitions) and prints medians and engine/native ratios.
#   bench/run_host_bench.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
cmake --build "$build" --target host_bench >/dev/null
out="$build/bench/host_bench.json"
PWX_PLUGIN_DIR="$build/plugins" "$build/bench/host_bench" --benchmark_repetitions=5 \
  --benchmark_report_aggregates_only=true --benchmark_out="$out" --benchmark_out_format=json \
  >/dev/null
python3 - "$out" <<'PY'
import json, sys
rows = {b["run_name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]
        if b.get("aggregate_name") == "median"}
def ns(name, counter=None):
    b = rows[name]
    if counter:
        return b[counter] * 1e9
    return b["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
print(f"{'benchmark (median of 5)':<22} {'v8':>10} {'wabt':>11} {'wasm2c':>10} {'native':>10} "
      f"{'v8/nat':>7} {'w2c/nat':>7}")
for name, counter in [("EmptyExportCall", None), ("EmptyHostcall", "ns_per_call"),
                      ("GetHeader", "ns_per_call"), ("RequestCycle", None)]:
    v8, wb, w2c = (ns(f"{name}/{e}", counter) for e in ("v8", "wabt", "wasm2c"))
    nat = ns(f"Native_{name}")
    print(f"{name:<22} {v8:>8.1f}ns {wb:>9.1f}ns {w2c:>8.1f}ns {nat:>8.1f}ns {v8/nat:>6.1f}x "
          f"{w2c/nat:>6.1f}x")
for ext in ("scaffold", "basic_auth", "local_rate_limit", "opa_cache_hit"):
    v8, wb, w2c = (ns(f"ExtensionCycle/{ext}_{e}") for e in ("v8", "wabt", "wasm2c"))
    print(f"{'cycle ' + ext:<22} {v8:>8.1f}ns {wb:>9.1f}ns {w2c:>8.1f}ns")
print(f"basic_auth bcrypt cost 10, v8: cached success {ns('ExtensionCycle/basic_auth_bcrypt10_cached_v8'):.0f}ns, "
      f"wrong password (full bcrypt) {ns('ExtensionCycle/basic_auth_bcrypt10_wrong_v8') / 1e6:.1f}ms")
print(f"basic_auth wrong password, v8: {{SHA}} {ns('ExtensionCycle/basic_auth_sha_wrong_v8'):.0f}ns, "
      f"$apr1$ {ns('ExtensionCycle/basic_auth_apr1_wrong_v8') / 1e3:.0f}us")
for eng in ("v8", "wabt", "wasm2c"):
    b = rows[f"VmMemory/{eng}/iterations:1"]
    print(f"VM memory {eng:<5} new engine (thread) {b['KiB_per_VM_new_engine']:.0f} KiB, "
          f"same engine {b['KiB_per_VM_same_engine']:.0f} KiB per extra scaffold VM")
PY
