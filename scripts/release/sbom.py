#!/usr/bin/env python3
"""Writes an SPDX 2.3 JSON SBOM of what is compiled into each released module.

  sbom.py OUT.spdx.json VERSION MODULE=COMPONENT,COMPONENT... [MODULE=...]

Components: our own code (this project at VERSION), and the sources and Debian packages the
build compiles in, with their versions read from this machine: the Debian source packages
unpacked under .deps/ (nettle, pcre2, nanopb: their VERSION file, written by scripts/setup.sh,
or their build files) and installed Debian packages (dpkg-query).
"""
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPS = os.environ.get("DEPS_DIR", os.path.join(ROOT, ".deps"))


def dpkg_version(package):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                       text=True)
    return r.stdout.strip() or "NOASSERTION"


def source_version(name):
    path = os.path.join(DEPS, name, "VERSION")
    if os.path.exists(path):
        return open(path).read().strip()
    src = os.path.join(DEPS, name, "src")
    for f, pattern in (("configure.ac", r"AC_INIT\(\[?[\w-]+\]?,\s*\[?([0-9][0-9.]*)"),
                       ("CMakeLists.txt", r"project\(\w+\s+VERSION\s+([0-9.]+)"),
                       ("library.json", r'"version":\s*"([0-9.]+)"')):
        p = os.path.join(src, f)
        if os.path.exists(p):
            m = re.search(pattern, open(p, errors="replace").read())
            if m:
                return m.group(1)
    if name == "pcre2" and os.path.exists(os.path.join(src, "configure.ac")):
        text = open(os.path.join(src, "configure.ac")).read()
        major = re.search(r"pcre2_major,\s*\[(\d+)", text)
        minor = re.search(r"pcre2_minor,\s*\[(\d+)", text)
        if major and minor:
            return major.group(1) + "." + minor.group(1)
    return "NOASSERTION"


COMPONENTS = {
    "sdk": lambda v: ("proxy-wasm-cpp-extensions SDK", v, "Apache-2.0"),
    "nettle": lambda v: ("nettle (with mini-gmp)", source_version("nettle"),
                         "LGPL-3.0-or-later OR GPL-2.0-or-later"),
    "pcre2": lambda v: ("PCRE2", source_version("pcre2"), "BSD-3-Clause"),
    "nanopb": lambda v: ("nanopb", source_version("nanopb"), "Zlib"),
    "nlohmann-json": lambda v: ("nlohmann-json", dpkg_version("nlohmann-json3-dev"), "MIT"),
    "wasi-libc": lambda v: ("wasi-libc", dpkg_version("wasi-libc"), "Apache-2.0 WITH LLVM-exception AND MIT"),
    "libc++": lambda v: ("libc++ (wasm32)", dpkg_version("libc++-19-dev-wasm32"),
                         "Apache-2.0 WITH LLVM-exception"),
    "zig-std": lambda v: ("Zig standard library", "0.11.0", "MIT"),
}


def spdx_id(text):
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", text)


def main():
    out, version, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    packages, relationships = [], []
    seen = set()
    for spec in specs:
        module, _, components = spec.partition("=")
        path = module
        name = os.path.basename(module)
        digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
        mid = spdx_id(name)
        packages.append({"SPDXID": mid, "name": name, "versionInfo": version,
                         "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
                         "checksums": [{"algorithm": "SHA256", "checksumValue": digest}],
                         "licenseConcluded": "NOASSERTION", "licenseDeclared": "Apache-2.0",
                         "copyrightText": "NOASSERTION", "primaryPackagePurpose": "LIBRARY"})
        relationships.append({"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                              "relatedSpdxElement": mid})
        for c in filter(None, components.split(",")):
            cname, cversion, license_ = COMPONENTS[c](version)
            cid = spdx_id(c + "-" + cversion)
            if cid not in seen:
                seen.add(cid)
                packages.append({"SPDXID": cid, "name": cname, "versionInfo": cversion,
                                 "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
                                 "licenseConcluded": "NOASSERTION", "licenseDeclared": license_,
                                 "copyrightText": "NOASSERTION"})
            relationships.append({"spdxElementId": mid, "relationshipType": "CONTAINS",
                                  "relatedSpdxElement": cid})
    doc = {
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
        "name": "proxy-wasm-cpp-extensions-" + version,
        "documentNamespace": "https://spdx.org/spdxdocs/proxy-wasm-cpp-extensions-" + version +
                             "-" + str(uuid.uuid4()),
        "creationInfo": {"created": datetime.datetime.now(datetime.timezone.utc)
                         .strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "creators": ["Tool: scripts/release/sbom.py"]},
        "packages": packages, "relationships": relationships,
    }
    with open(out, "w") as f:
        json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
