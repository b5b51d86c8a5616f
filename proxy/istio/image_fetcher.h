// Fetches a Wasm module the way Istio's agent does for a WasmPlugin (pkg/wasm/imagefetcher.go):
// `oci://` from a registry (OCI distribution API: the Docker image, Istio's compat variant with
// plugin.wasm in a tar.gz layer, or the OCI Wasm artifact), `http(s)://`, `file://`. Checks
// `sha256` as Istio does (the manifest's digest for oci://, the module's otherwise), every blob
// against its digest, the 256 MiB bound and the `\0asm` magic. Plain-HTTP registries only when
// listed in WASM_INSECURE_REGISTRIES (`*`: any); WASM_HTTP_REQUEST_TIMEOUT (default 15 s) and
// WASM_HTTP_REQUEST_MAX_RETRIES (default 5) as Istio reads them. Synchronous (config load time).
#pragma once

#include <optional>
#include <string>

namespace wasm_proxy::istio {

struct FetchRequest {
  std::string url;
  std::string sha256;        // hex, optional
  bool always_pull = false;  // imagePullPolicy Always (else IfNotPresent: the cache may answer)
  std::string cache_dir;     // modules kept by URL and digest; "" = no cache
};

struct FetchedModule {
  std::string bytes;
  std::string digest;  // "sha256:<hex>": the manifest's for oci://, the module's otherwise
  bool from_cache = false;
};

// The module, or nullopt with `error` saying what failed (HTTP status, digests, format).
std::optional<FetchedModule> fetchModule(const FetchRequest& request, std::string* error);

}  // namespace wasm_proxy::istio
