#!/usr/bin/env python3
"""Checks that a .wasm file is a proxy-wasm plugin Envoy and Istio will load.

  check_plugin.py PLUGIN.wasm [--max-bytes N] [--sdk] [--stream-callbacks LIST]

* wasm-validate accepts it;
* it imports only env.proxy_* and wasi_snapshot_preview1.* functions;
* it is a WASI reactor (exports _initialize, no _start) exporting memory, malloc,
  proxy_on_memory_allocate and the ABI marker proxy_abi_version_0_2_1;
* with --sdk: it exports every callback our C++ SDK always exports, and no unknown proxy_on_*;
* with --stream-callbacks A,B (or "all"): it exports exactly these optional stream callbacks;
* with --max-bytes: it is no larger than N bytes.
Prints a one-line summary on success; exits 1 with the reasons on failure.
"""
import argparse
import os
import subprocess
import sys

# Exported by every plugin built with our C++ SDK.
SDK_CALLBACKS = """proxy_on_context_create proxy_on_vm_start proxy_validate_configuration
proxy_on_configure proxy_on_tick proxy_on_queue_ready proxy_on_foreign_function proxy_on_delete
proxy_on_http_call_response proxy_on_grpc_receive_initial_metadata proxy_on_grpc_receive
proxy_on_grpc_receive_trailing_metadata proxy_on_grpc_close""".split()
# Exported by such a plugin only when one of its context classes overrides the method behind it
# (or it registers a factory whose class the SDK cannot see).
SDK_STREAM_CALLBACKS = """proxy_on_request_headers proxy_on_request_body proxy_on_request_trailers
proxy_on_request_metadata proxy_on_response_headers proxy_on_response_body
proxy_on_response_trailers proxy_on_response_metadata proxy_on_log proxy_on_done
proxy_on_new_connection proxy_on_downstream_data proxy_on_upstream_data
proxy_on_downstream_connection_close proxy_on_upstream_connection_close""".split()

KIND = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


def leb(data, pos):
    result, shift = 0, 0
    while True:
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, pos


def name(data, pos):
    n, pos = leb(data, pos)
    return data[pos:pos + n].decode("utf-8"), pos + n


def skip_import_desc(data, pos, kind):
    if kind == 0:  # func: type index
        _, pos = leb(data, pos)
    elif kind == 1:  # table: reftype + limits
        pos += 1
        flags, pos = leb(data, pos)
        _, pos = leb(data, pos)
        if flags & 1:
            _, pos = leb(data, pos)
    elif kind == 2:  # memory: limits
        flags, pos = leb(data, pos)
        _, pos = leb(data, pos)
        if flags & 1:
            _, pos = leb(data, pos)
    elif kind == 3:  # global: valtype + mut
        pos += 2
    else:
        _, pos = leb(data, pos + 1)
    return pos


def parse(data):
    if data[:4] != b"\0asm":
        raise ValueError("not a wasm module")
    imports, exports = [], []
    pos = 8
    while pos < len(data):
        sid = data[pos]
        size, pos = leb(data, pos + 1)
        end = pos + size
        if sid == 2:
            count, p = leb(data, pos)
            for _ in range(count):
                mod, p = name(data, p)
                field, p = name(data, p)
                kind = data[p]
                p = skip_import_desc(data, p + 1, kind)
                imports.append((mod, field, KIND.get(kind, "?")))
        elif sid == 7:
            count, p = leb(data, pos)
            for _ in range(count):
                field, p = name(data, p)
                kind = data[p]
                _, p = leb(data, p + 1)
                exports.append((field, KIND.get(kind, "?")))
        pos = end
    return imports, exports


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wasm")
    ap.add_argument("--max-bytes", type=int)
    ap.add_argument("--sdk", action="store_true", help="require the SDK's callback exports")
    ap.add_argument("--stream-callbacks",
                    help="comma-separated optional stream callbacks it must export, no more; all")
    ap.add_argument("--no-initialize", action="store_true",
                    help="the module has no static constructors (e.g. Zig): _initialize optional")
    args = ap.parse_args()

    problems = []
    data = open(args.wasm, "rb").read()
    v = subprocess.run(["wasm-validate", args.wasm], capture_output=True, text=True)
    if v.returncode != 0:
        problems.append("wasm-validate: " + (v.stderr or v.stdout).strip())
    imports, exports = parse(data)
    for mod, field, kind in imports:
        ok = kind == "func" and (
            (mod == "env" and field.startswith("proxy_")) or mod == "wasi_snapshot_preview1")
        if not ok:
            problems.append(f"unexpected import {mod}.{field} ({kind})")
    names = {n for n, _ in exports}
    required = ["memory", "malloc", "proxy_on_memory_allocate", "proxy_abi_version_0_2_1"]
    if not args.no_initialize:
        required.append("_initialize")
    if args.sdk:
        required += SDK_CALLBACKS
        for n in sorted(names):
            if n.startswith("proxy_on_") and n not in SDK_CALLBACKS + SDK_STREAM_CALLBACKS + [
                    "proxy_on_memory_allocate"]:
                problems.append(f"unknown callback export {n}")
    stream = [n for n in SDK_STREAM_CALLBACKS if n in names]
    if args.stream_callbacks is not None:
        want = (SDK_STREAM_CALLBACKS if args.stream_callbacks == "all" else
                [n for n in args.stream_callbacks.split(",") if n])
        for n in sorted(set(want) - set(SDK_STREAM_CALLBACKS)):
            problems.append(f"--stream-callbacks: {n} is not an optional stream callback")
        for n in sorted(set(want) & set(SDK_STREAM_CALLBACKS) - set(stream)):
            problems.append(f"missing stream callback export {n}")
        for n in sorted(set(stream) - set(want)):
            problems.append(f"exports stream callback {n}, which it should not")
    for r in required:
        if r not in names:
            problems.append(f"missing export {r}")
    if "_start" in names:
        problems.append("exports _start: build as a WASI reactor, not a command")
    size = os.path.getsize(args.wasm)
    if args.max_bytes and size > args.max_bytes:
        problems.append(f"{size} bytes exceeds the limit of {args.max_bytes}")
    if problems:
        print(f"{args.wasm}: NOT a loadable proxy-wasm plugin:")
        for p in problems:
            print("  - " + p)
        return 1
    print(f"{os.path.basename(args.wasm)}: ok, {size} bytes, {len(imports)} imports, "
          f"{len(exports)} exports, stream callbacks: "
          f"{' '.join(n[len('proxy_on_'):] for n in stream) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
