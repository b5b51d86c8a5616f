#!/usr/bin/env python3
"""Runs a guide: every fenced block of a Markdown file, as the marker before it says.

    scripts/doctest.py docs/GUIDE.md [--build DIR] [--keep]

Every fenced block must be preceded by a marker comment, so nothing a guide shows goes untested
by accident:

    <!-- doctest: run [timeout=S] -->   a shell block, run with bash -euo pipefail
    <!-- doctest: file PATH -->          the block's text is written to PATH (a listing to build)
    <!-- doctest: background NAME -->    a shell block started in the background (a server); it
                                          is stopped when the guide ends
    <!-- doctest: excerpt PATH -->       the block must appear verbatim in PATH, a file of this
                                          repository that the build compiles and the tests run
    <!-- doctest: skip REASON -->        not run (it needs a cluster, say); the reason is printed

Blocks run in order in one scratch folder that holds links to the repository's top-level folders
(`build`, `extensions`, `scripts`, `.deps`, ...), so a guide's `build/proxy/wasm-proxy` works as it does
from a checkout, and files a guide creates stay in the scratch folder. PWX_ROOT and PWX_BUILD are
set. Exit status 1 at the first failing block, with its output.
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

MARKER = re.compile(r"^<!--\s*doctest:\s*(\w+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(```+|~~~+)")


def blocks(path):
    """Yields (line, kind, argument, text) for every fenced block; the marker is the last
    non-blank line before the fence."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        f = FENCE.match(lines[i])
        if not f:
            i += 1
            continue
        fence, start = f.group(1), i + 1
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence):
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        m = MARKER.match(lines[k]) if k >= 0 else None
        if not m:
            sys.exit(f"{path}:{start}: a fenced block without a doctest marker before it")
        yield start, m.group(1), m.group(2), "\n".join(lines[i + 1:j]) + "\n"
        i = j + 1


def main():
    root = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("guide")
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args()
    guide = os.path.abspath(args.guide)
    scratch = tempfile.mkdtemp(prefix="pwx-doctest-")
    for name in os.listdir(root):
        if (name.startswith(".") and name != ".deps") or name == "build":
            continue
        os.symlink(os.path.join(root, name), os.path.join(scratch, name))
    os.symlink(os.path.abspath(args.build), os.path.join(scratch, "build"))
    env = dict(os.environ, PWX_ROOT=root, PWX_BUILD=os.path.abspath(args.build))
    background, counts = [], {}
    try:
        for line, kind, arg, text in blocks(guide):
            where = f"{os.path.relpath(guide, root)}:{line}"
            counts[kind] = counts.get(kind, 0) + 1
            if kind == "run":
                timeout = int(re.search(r"timeout=(\d+)", arg).group(1)) if "timeout=" in arg else 300
                print(f"[doctest] {where}: run", flush=True)
                r = subprocess.run(["bash", "-euo", "pipefail", "-c", text], cwd=scratch, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=timeout)
                if r.returncode != 0:
                    print(text + "---- output ----\n" + r.stdout)
                    sys.exit(f"[doctest] {where}: exit status {r.returncode}")
            elif kind == "background":
                print(f"[doctest] {where}: background {arg}", flush=True)
                log = open(os.path.join(scratch, f"background-{arg or line}.log"), "w")
                background.append(subprocess.Popen(["bash", "-euo", "pipefail", "-c", text],
                                                   cwd=scratch, env=env, stdout=log,
                                                   stderr=subprocess.STDOUT,
                                                   start_new_session=True))
            elif kind == "file":
                parts = arg.split("/")
                if arg.startswith("/") or ".." in parts or \
                        os.path.islink(os.path.join(scratch, parts[0])):
                    sys.exit(f"[doctest] {where}: {arg} is outside the scratch folder")
                target = os.path.join(scratch, arg)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w", encoding="utf-8") as out:
                    out.write(text)
            elif kind == "excerpt":
                source = os.path.join(root, arg)
                if text.strip() not in open(source, encoding="utf-8").read():
                    sys.exit(f"[doctest] {where}: the listing is no longer in {arg}")
            elif kind == "skip":
                print(f"[doctest] {where}: skipped ({arg})")
            else:
                sys.exit(f"[doctest] {where}: unknown marker '{kind}'")
    finally:
        for p in background:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(p.pid, signal.SIGKILL)
        if args.keep:
            print(f"[doctest] scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"[doctest] {os.path.relpath(guide, root)}: " +
          ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + " - ok")


if __name__ == "__main__":
    main()
