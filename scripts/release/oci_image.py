#!/usr/bin/env python3
"""Builds the two OCI images Istio's WasmPlugin pulls for a module, and pushes them to a registry
through the registry HTTP API (OCI distribution spec), with the standard library only.

  oci_image.py push MODULE REGISTRY/REPO:TAG --variant compat|oci [--insecure] [--root-id ID]...
      prints the pushed manifest's digest (sha256:...)
  oci_image.py layout MODULE DIR --variant compat|oci [--root-id ID]...
      writes an OCI image layout (oci-layout, index.json, blobs/) and prints the manifest digest

Variants (Istio pkg/wasm/imagefetcher.go):
  compat  one application/vnd.oci.image.layer.v1.tar+gzip layer holding plugin.wasm at the archive
          root; annotation module.wasm.image/variant=compat
  oci     the OCI Wasm artifact: an application/vnd.module.wasm.content.layer.v1+wasm layer (the
          raw module) and an application/vnd.module.wasm.config.v1+json layer (type, abi_version,
          root_ids), that JSON also being the manifest's config
Blobs are deterministic (fixed tar and gzip metadata), so a module always gives the same digests.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def compat_layer(module):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("plugin.wasm")
        info.size, info.mode, info.mtime, info.uname, info.gname = len(module), 0o644, 0, "", ""
        tar.addfile(info, io.BytesIO(module))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def image(module, variant, root_ids):
    """Returns (manifest bytes, {digest: blob})."""
    if module[:4] != b"\0asm":
        sys.exit("not a wasm module (no \\0asm magic)")
    blobs = {}

    def blob(data, media_type):
        blobs[digest(data)] = data
        return {"mediaType": media_type, "digest": digest(data), "size": len(data)}

    if variant == "compat":
        config = blob(json.dumps({"architecture": "wasm", "os": "wasip1", "rootfs": {
            "type": "layers", "diff_ids": [digest(gzip.decompress(compat_layer(module)))]}},
            sort_keys=True).encode(), "application/vnd.oci.image.config.v1+json")
        layers = [blob(compat_layer(module), "application/vnd.oci.image.layer.v1.tar+gzip")]
        annotations = {"module.wasm.image/variant": "compat"}
    else:
        runtime = json.dumps({"type": "application/vnd.module.wasm.content.layer.v1+wasm",
                              "abi_version": "v0-097b7f2e4cc1fb490cc1943d0d633655ac3c522f",
                              "root_ids": root_ids}, sort_keys=True).encode()
        config = blob(runtime, "application/vnd.module.wasm.config.v1+json")
        layers = [dict(config), blob(module, "application/vnd.module.wasm.content.layer.v1+wasm")]
        annotations = {}
    manifest = {"schemaVersion": 2, "mediaType": MANIFEST_TYPE, "config": config, "layers": layers}
    if annotations:
        manifest["annotations"] = annotations
    return json.dumps(manifest, sort_keys=True).encode(), blobs


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def push(module, ref, variant, root_ids, insecure):
    registry, _, rest = ref.partition("/")
    repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    base = ("http://" if insecure else "https://") + registry + "/v2/" + repo
    manifest, blobs = image(module, variant, root_ids)
    for d, data in blobs.items():
        if request("HEAD", base + "/blobs/" + d)[0] == 200:
            continue
        status, headers, body = request("POST", base + "/blobs/uploads/", b"")
        if status != 202:
            sys.exit(f"starting an upload to {base}: HTTP {status} {body[:200]!r}")
        location = headers.get("Location") or headers.get("location")
        if location.startswith("/"):
            location = ("http://" if insecure else "https://") + registry + location
        location += ("&" if "?" in location else "?") + "digest=" + d
        status, _, body = request("PUT", location, data,
                                  {"Content-Type": "application/octet-stream"})
        if status != 201:
            sys.exit(f"uploading {d}: HTTP {status} {body[:200]!r}")
    status, _, body = request("PUT", base + "/manifests/" + tag, manifest,
                              {"Content-Type": MANIFEST_TYPE})
    if status != 201:
        sys.exit(f"pushing the manifest of {ref}: HTTP {status} {body[:200]!r}")
    return digest(manifest)


def layout(module, out, variant, root_ids):
    manifest, blobs = image(module, variant, root_ids)
    blobs[digest(manifest)] = manifest
    os.makedirs(os.path.join(out, "blobs", "sha256"), exist_ok=True)
    for d, data in blobs.items():
        with open(os.path.join(out, "blobs", "sha256", d.split(":")[1]), "wb") as f:
            f.write(data)
    with open(os.path.join(out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [
            {"mediaType": MANIFEST_TYPE, "digest": digest(manifest), "size": len(manifest)}]}, f)
    return digest(manifest)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", choices=["push", "layout"])
    p.add_argument("module")
    p.add_argument("target", help="REGISTRY/REPO:TAG (push) or a directory (layout)")
    p.add_argument("--variant", choices=["compat", "oci"], required=True)
    p.add_argument("--root-id", action="append", default=[])
    p.add_argument("--insecure", action="store_true", help="plain HTTP to the registry")
    a = p.parse_args()
    with open(a.module, "rb") as f:
        module = f.read()
    if a.command == "push":
        print(push(module, a.target, a.variant, a.root_id, a.insecure))
    else:
        print(layout(module, a.target, a.variant, a.root_id))


if __name__ == "__main__":
    main()
