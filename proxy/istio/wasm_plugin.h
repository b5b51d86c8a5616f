// Istio's WasmPlugin (extensions.istio.io/v1alpha1) for wasm-proxy, as Istio's agent and pilot
// apply it to a gateway's Envoy: `wasm-proxy --wasm-plugin FILE` reads the manifest (every
// document of kind WasmPlugin in it), fetches each module (istio/image_fetcher.h) and inserts the
// plugin into every HTTP connection manager, ordered by `phase` then `priority`.
//
// Placement (Istio's filter order): AUTHN plugins first in the chain; AUTHZ after the last
// jwt_authn filter (Istio's authentication); STATS, then plugins without a phase, just before the
// router. Within a phase, a higher `priority` runs first; equal priorities keep the order given.
// A module that cannot be fetched: FAIL_OPEN leaves the plugin out; FAIL_CLOSE (the default)
// puts a filter that denies every request in its place (403 `RBAC: access denied`, as the
// deny-all RBAC filter Istio installs). Fields wasm-proxy does not implement are refused by name.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config.h"

namespace wasm_proxy::istio {

struct WasmPluginOptions {
  std::string cache_dir;  // pulled modules, by URL and digest ("" = none)
};

// Adds the plugins of every manifest to every listener of `bootstrap`. Errors name the file and
// the field ("plugin.yaml: spec.phase: ..."); a module that cannot be fetched is an error only
// when nothing else says what to do (never: failStrategy decides, and the fetch error is logged).
bool applyWasmPlugins(Bootstrap& bootstrap, const std::vector<std::string>& manifests,
                      const WasmPluginOptions& options, std::string* error);

}  // namespace wasm_proxy::istio
