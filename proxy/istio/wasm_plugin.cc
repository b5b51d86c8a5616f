#include "istio/wasm_plugin.h"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>

#include "config_yaml.h"
#include "filters/native_filter.h"
#include "istio/image_fetcher.h"

namespace wasm_proxy::istio {

using namespace config_yaml;
using proxy_wasm::host::FailurePolicy;
using proxy_wasm::host::PluginCode;
using proxy_wasm::host::PluginConfig;

namespace {

// Stands in for a plugin whose module could not be fetched under FAIL_CLOSE.
class DenyAllFilter final : public StreamFilter {
 public:
  explicit DenyAllFilter(StreamFilterCallbacks& callbacks) : callbacks_(callbacks) {}
  HeadersStatus decodeHeaders(bool) override {
    LocalReply reply;
    reply.status = 403;
    reply.body = "RBAC: access denied";
    reply.details = "rbac_access_denied_matched_policy[wasm-plugin-unavailable]";
    callbacks_.sendLocalReply(std::move(reply));
    return HeadersStatus::StopIteration;
  }
  DataStatus decodeData(std::string&, bool) override { return DataStatus::Continue; }
  TrailersStatus decodeTrailers() override { return TrailersStatus::Continue; }
  HeadersStatus encodeHeaders(bool) override { return HeadersStatus::Continue; }
  DataStatus encodeData(std::string&, bool) override { return DataStatus::Continue; }
  TrailersStatus encodeTrailers() override { return TrailersStatus::Continue; }

 private:
  StreamFilterCallbacks& callbacks_;
};

class DenyAllConfig final : public NativeFilterConfig {
 public:
  std::unique_ptr<StreamFilter> create(StreamFilterCallbacks& callbacks,
                                       const FilterContext&) const override {
    return std::make_unique<DenyAllFilter>(callbacks);
  }
};

enum class Phase { Authn = 0, Authz = 1, Stats = 2, Unspecified = 3 };

struct Placed {
  Phase phase = Phase::Unspecified;
  int64_t priority = 0;
  HttpFilter filter;
};

Phase phaseOf(const YAML::Node& n, const std::string& path) {
  if (!n) return Phase::Unspecified;
  const std::string p = str(n, path);
  if (p == "AUTHN") return Phase::Authn;
  if (p == "AUTHZ") return Phase::Authz;
  if (p == "STATS") return Phase::Stats;
  if (p == "UNSPECIFIED_PHASE") return Phase::Unspecified;
  fail(path, "expected AUTHN, AUTHZ, STATS or UNSPECIFIED_PHASE");
}

FailurePolicy failStrategy(const YAML::Node& n, const std::string& path) {
  if (!n) return FailurePolicy::FailClosed;
  const std::string s = str(n, path);
  if (s == "FAIL_CLOSE") return FailurePolicy::FailClosed;
  if (s == "FAIL_OPEN") return FailurePolicy::FailOpen;
  if (s == "FAIL_RELOAD") return FailurePolicy::FailReload;
  fail(path, "expected FAIL_CLOSE, FAIL_OPEN or FAIL_RELOAD");
}

void environment(const YAML::Node& vm, const std::string& path,
                 std::vector<std::pair<std::string, std::string>>* env) {
  checkKeys(vm, path, {"env"});
  if (!vm["env"]) return;
  const std::string ep = child(path, "env");
  for (size_t i = 0; i < vm["env"].size(); ++i) {
    const YAML::Node e = vm["env"][i];
    const std::string ip = index(ep, i);
    checkKeys(e, ip, {"name", "value", "valueFrom"});
    if (!e["name"]) fail(child(ip, "name"), "missing required field");
    const std::string name = str(e["name"], child(ip, "name"));
    const std::string from =
        e["valueFrom"] ? str(e["valueFrom"], child(ip, "valueFrom")) : "INLINE";
    if (from == "HOST") {
      if (const char* v = std::getenv(name.c_str())) env->emplace_back(name, v);
    } else if (from == "INLINE") {
      env->emplace_back(name, e["value"] ? str(e["value"], child(ip, "value")) : "");
    } else {
      fail(child(ip, "valueFrom"), "expected INLINE or HOST");
    }
  }
}

// One WasmPlugin document as a filter (or the deny-all stand-in, or nothing under FAIL_OPEN).
std::optional<Placed> plugin(const YAML::Node& doc, const WasmPluginOptions& options) {
  checkKeys(doc, "", {"apiVersion", "kind", "metadata", "spec"}, {"status"});
  const YAML::Node meta = doc["metadata"];
  const std::string name = meta && meta["name"] ? str(meta["name"], "metadata.name") : "";
  if (name.empty()) fail("metadata.name", "missing required field");
  const std::string ns =
      meta["namespace"] ? str(meta["namespace"], "metadata.namespace") : "default";
  if (!doc["spec"]) fail("spec", "missing required field");
  const YAML::Node spec = doc["spec"];
  checkKeys(spec, "spec",
            {"url", "sha256", "imagePullPolicy", "pluginConfig", "pluginName", "phase", "priority",
             "vmConfig", "failStrategy", "type", "match", "imagePullSecret", "verificationKey"},
            {"selector", "targetRef", "targetRefs"});  // which workloads: this proxy
  for (const char* refused : {"match", "imagePullSecret", "verificationKey"}) {
    if (spec[refused]) fail(child("spec", refused), "not supported by wasm-proxy");
  }
  if (spec["type"] && str(spec["type"], "spec.type") != "HTTP") {
    fail("spec.type", "only HTTP plugins are supported");
  }
  if (!spec["url"]) fail("spec.url", "missing required field");
  Placed placed;
  placed.phase = phaseOf(spec["phase"], "spec.phase");
  if (spec["priority"]) {
    placed.priority = std::stoll(str(spec["priority"], "spec.priority"));
  }
  auto config = std::make_shared<PluginConfig>();
  config->name = ns + "." + name;
  config->failure_policy = failStrategy(spec["failStrategy"], "spec.failStrategy");
  if (spec["pluginName"]) config->root_id = str(spec["pluginName"], "spec.pluginName");
  if (spec["pluginConfig"]) config->configuration = yamlAsJson(spec["pluginConfig"]);

  FetchRequest request;
  request.url = str(spec["url"], "spec.url");
  if (request.url.find("://") == std::string::npos) request.url = "oci://" + request.url;
  if (spec["sha256"]) request.sha256 = lower(str(spec["sha256"], "spec.sha256"));
  const std::string policy =
      spec["imagePullPolicy"] ? str(spec["imagePullPolicy"], "spec.imagePullPolicy") : "";
  if (!policy.empty() && policy != "IfNotPresent" && policy != "Always" &&
      policy != "UNSPECIFIED_POLICY") {
    fail("spec.imagePullPolicy", "expected IfNotPresent or Always");
  }
  const bool latest = request.url.rfind("oci://", 0) == 0 &&
                      (request.url.size() < 7 || request.url.find(':', 6) == std::string::npos ||
                       request.url.substr(request.url.size() - 7) == ":latest");
  request.always_pull = policy == "Always" || (policy.empty() && latest);
  request.cache_dir = options.cache_dir;

  std::string error;
  auto module = fetchModule(request, &error);
  if (module) {
    auto filter = std::make_shared<WasmFilter>();
    filter->yaml_path = "WasmPlugin " + config->name;
    filter->vm.vm_id = config->name;
    filter->vm.runtime = "v8";
    if (spec["vmConfig"]) environment(spec["vmConfig"], "spec.vmConfig", &filter->vm.environment);
    filter->code =
        PluginCode::load(std::move(module->bytes), filter->vm.memory_limit_bytes, &error);
    if (!filter->code) fail("spec.url", request.url + ": " + error);
    filter->plugin = config;
    spdlog::info("WasmPlugin {}: {} ({}{})", config->name, request.url, module->digest,
                 module->from_cache ? ", cached" : "");
    placed.filter = HttpFilter{"envoy.filters.http.wasm", std::move(filter), nullptr};
    return placed;
  }
  if (config->failure_policy == FailurePolicy::FailOpen) {
    spdlog::warn("WasmPlugin {}: {}; FAIL_OPEN: requests go on without it", config->name, error);
    return std::nullopt;
  }
  spdlog::error("WasmPlugin {}: {}; FAIL_CLOSE: every request is denied", config->name, error);
  placed.filter = HttpFilter{"wasm-plugin-unavailable", nullptr, std::make_shared<DenyAllConfig>()};
  return placed;
}

// Where each phase goes in a listener's chain (its last filter is the router).
size_t insertionPoint(const std::vector<HttpFilter>& filters, Phase phase) {
  if (phase == Phase::Authn) return 0;
  if (phase == Phase::Authz) {
    size_t after = 0;
    for (size_t i = 0; i < filters.size(); ++i) {
      if (filters[i].name == "envoy.filters.http.jwt_authn") after = i + 1;
    }
    return after;
  }
  return filters.size() - 1;  // before the router
}

}  // namespace

bool applyWasmPlugins(Bootstrap& bootstrap, const std::vector<std::string>& manifests,
                      const WasmPluginOptions& options, std::string* error) {
  std::vector<Placed> plugins;
  for (const auto& file : manifests) {
    try {
      for (const YAML::Node& doc : YAML::LoadAllFromFile(file)) {
        if (!doc.IsMap()) continue;
        const std::string kind = doc["kind"] ? doc["kind"].as<std::string>() : "";
        if (kind != "WasmPlugin") {
          spdlog::info("{}: skipping a {} (only WasmPlugin documents are read)", file, kind);
          continue;
        }
        if (auto p = plugin(doc, options)) plugins.push_back(std::move(*p));
      }
    } catch (const ConfigError& e) {
      *error = file + ": " + e.message;
      return false;
    } catch (const YAML::Exception& e) {
      *error = file + ": invalid YAML: " + e.what();
      return false;
    }
  }
  // Phase order, then higher priority first; stable for equal ones.
  std::stable_sort(plugins.begin(), plugins.end(), [](const Placed& a, const Placed& b) {
    return a.phase != b.phase ? a.phase < b.phase : a.priority > b.priority;
  });
  for (auto& listener : bootstrap.listeners) {
    auto& filters = listener.filters;
    for (Phase phase : {Phase::Authn, Phase::Authz, Phase::Stats, Phase::Unspecified}) {
      size_t at = insertionPoint(filters, phase);
      for (const auto& p : plugins) {
        if (p.phase == phase) filters.insert(filters.begin() + static_cast<long>(at++), p.filter);
      }
    }
  }
  return true;
}

}  // namespace wasm_proxy::istio
