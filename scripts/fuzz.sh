#!/usr/bin/env bash
# Builds the pairs-codec and HTTP/1.1 parser fuzzers with clang-19 (libFuzzer + ASan + UBSan) and runs it for a bounded
# time. Prints the number of executions and exits non-zero if the fuzzer found a crash.
#   scripts/fuzz.sh [seconds=60] [workdir=build/fuzz]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
work="${2:-$root/build/fuzz}"
mkdir -p "$work/corpus"
bin="$work/pairs_fuzzer"
src="$root/fuzz/pairs_fuzzer.cc"
if [ ! -x "$bin" ] || [ "$src" -nt "$bin" ] || [ "$root/abi/include/proxy_wasm/abi/pairs.h" -nt "$bin" ]; then
  clang++-19 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -I "$root/abi/include" "$src" -o "$bin"
fi
# Seed: {a:"1", b:"22"} as in the spec's (corrected) example.
printf '\x02\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00a\x001\x00b\x0022\x00' \
  > "$work/corpus/seed-spec-example"
cd "$work"
log="$work/fuzz.log"
if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 corpus >"$log" 2>&1; then
  tail -40 "$log"
  echo "fuzz: the pairs decoder failed an invariant; reproducer above (crash-* in $work)"
  exit 1
fi
runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
echo "fuzz: pairs decoder, ${seconds}s, ${runs:-?} executions, no crash"

# The HTTP/1.1 request parser and the head written upstream (wasm-proxy's http1/).
hbin="$work/http1_fuzzer"
hsrc=("$root/fuzz/http1_fuzzer.cc" "$root/proxy/http1/parser.cc" "$root/proxy/http1/writer.cc"
      "$root/host/src/embedder.cc")
rebuild=0
[ -x "$hbin" ] || rebuild=1
for f in "${hsrc[@]}" "$root/proxy/http1/parser.h" "$root/proxy/http1/writer.h"; do
  [ "$f" -nt "$hbin" ] && rebuild=1
done
if [ $rebuild = 1 ]; then
  clang++-19 -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -DBOOST_ASIO_NO_DEPRECATED -I "$root/proxy" -I "$root/host/include" -I "$root/abi/include" \
    "${hsrc[@]}" -o "$hbin"
fi
mkdir -p "$work/http1-corpus"
printf '\x20POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx: y\r\n\r\n' \
  > "$work/http1-corpus/seed-chunked"
printf '\x10GET /p?q HTTP/1.1\r\nHost: h\r\nConnection: x-a\r\nx-a: 1\r\nContent-Length: 2\r\n\r\nok' \
  > "$work/http1-corpus/seed-length"
hlog="$work/http1-fuzz.log"
if ! "$hbin" -max_total_time="$seconds" -print_final_stats=1 -max_len=4096 http1-corpus >"$hlog" 2>&1; then
  tail -40 "$hlog"
  echo "fuzz: the HTTP/1.1 parser failed an invariant; reproducer above (crash-* in $work)"
  exit 1
fi
runs=$(grep -m1 'stat::number_of_executed_units' "$hlog" | awk '{print $2}')
echo "fuzz: HTTP/1.1 request parser and upstream head, ${seconds}s, ${runs:-?} executions, no crash"
