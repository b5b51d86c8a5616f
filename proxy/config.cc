#include "config.h"
#include "config_yaml.h"
#include "filters/native_filter.h"
#include "remote_fetch.h"

#include <re2/re2.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

namespace wasm_proxy {
namespace {

using proxy_wasm::host::FailurePolicy;
using proxy_wasm::host::PluginCode;
using proxy_wasm::host::PluginConfig;

using namespace config_yaml;

class Parser {
 public:
  Parser(std::string base_dir) : base_dir_(std::move(base_dir)) {}

  std::shared_ptr<Bootstrap> bootstrap(const YAML::Node& root) {
    auto b = std::make_shared<Bootstrap>();
    checkKeys(root, "", {"node", "admin", "static_resources"},
              {"layered_runtime", "stats_config", "overload_manager", "watchdog", "watchdogs",
               "stats_flush_interval", "cluster_manager"});
    if (root["node"]) node(root["node"], "node", &b->node);
    if (root["admin"]) {
      const YAML::Node a = root["admin"];
      checkKeys(a, "admin", {"address"}, {"access_log", "access_log_path", "profile_path"});
      if (a["address"]) b->admin = socketAddress(a["address"], "admin.address");
    }
    if (!root["static_resources"]) fail("static_resources", "missing required field");
    const YAML::Node sr = root["static_resources"];
    checkKeys(sr, "static_resources", {"listeners", "clusters"}, {"secrets"});
    if (sr["clusters"]) {
      if (!sr["clusters"].IsSequence()) fail("static_resources.clusters", "expected a list");
      for (size_t i = 0; i < sr["clusters"].size(); ++i) {
        Cluster c = cluster(sr["clusters"][i], index("static_resources.clusters", i));
        if (b->clusters.count(c.name) != 0) {
          fail(index("static_resources.clusters", i) + ".name", "duplicate cluster " + c.name);
        }
        b->clusters.emplace(c.name, std::move(c));
      }
    }
    if (!sr["listeners"] || !sr["listeners"].IsSequence()) {
      fail("static_resources.listeners", "expected a list of listeners");
    }
    for (size_t i = 0; i < sr["listeners"].size(); ++i) {
      b->listeners.push_back(listener(sr["listeners"][i], index("static_resources.listeners", i)));
    }
    // Every route must point at a known cluster.
    for (size_t li = 0; li < b->listeners.size(); ++li) {
      for (const auto& vh : b->listeners[li].routes.virtual_hosts) {
        for (const auto& r : vh.routes) {
          if (!r.direct_status && b->clusters.count(r.cluster) == 0) {
            fail(index("static_resources.listeners", li) + " virtual host " + vh.name,
                 "route to unknown cluster '" + r.cluster + "'");
          }
        }
      }
      for (const auto& f : b->listeners[li].filters) {
        if (!f.native) continue;
        for (const auto& c : f.native->clusters()) {
          if (b->clusters.count(c) == 0) {
            fail(index("static_resources.listeners", li) + " HTTP filter " + f.name,
                 "unknown cluster '" + c + "'");
          }
        }
      }
    }
    return b;
  }

 private:
  void node(const YAML::Node& n, const std::string& path, Node* out) {
    checkKeys(n, path, {"id", "cluster", "metadata"}, {"locality", "user_agent_name"});
    if (n["id"]) out->id = str(n["id"], child(path, "id"));
    if (n["cluster"]) out->cluster = str(n["cluster"], child(path, "cluster"));
    if (n["metadata"]) {
      if (!n["metadata"].IsMap()) fail(child(path, "metadata"), "expected an object");
      for (auto it = n["metadata"].begin(); it != n["metadata"].end(); ++it) {
        std::string key = it->first.as<std::string>();
        if (it->second.IsScalar()) {
          out->metadata[key] = it->second.Scalar();
        } else {
          YAML::Emitter e;
          e << YAML::Flow << it->second;
          out->metadata[key] = e.c_str();
        }
      }
    }
  }

  Cluster cluster(const YAML::Node& n, const std::string& path) {
    checkKeys(
        n, path,
        {"name", "type", "connect_timeout", "load_assignment", "lb_policy",
         "http2_protocol_options", "typed_extension_protocol_options"},
        {"dns_lookup_family", "respect_dns_ttl", "dns_refresh_rate", "common_lb_config",
         "circuit_breakers", "upstream_connection_options", "per_connection_buffer_limit_bytes"});
    Cluster c;
    if (!n["name"]) fail(child(path, "name"), "missing required field");
    c.name = str(n["name"], child(path, "name"));
    if (n["type"]) {
      std::string t = str(n["type"], child(path, "type"));
      if (t == "STATIC")
        c.type = Cluster::Type::Static;
      else if (t == "STRICT_DNS")
        c.type = Cluster::Type::StrictDns;
      else if (t == "LOGICAL_DNS")
        c.type = Cluster::Type::LogicalDns;
      else
        fail(child(path, "type"),
             "unsupported cluster type " + t + " (STATIC, STRICT_DNS, LOGICAL_DNS)");
    }
    if (n["lb_policy"]) {
      std::string p = str(n["lb_policy"], child(path, "lb_policy"));
      if (p != "ROUND_ROBIN") fail(child(path, "lb_policy"), "only ROUND_ROBIN is supported");
    }
    if (n["connect_timeout"])
      c.connect_timeout = duration(n["connect_timeout"], child(path, "connect_timeout"));
    c.http2 = n["http2_protocol_options"] || n["typed_extension_protocol_options"];
    if (!n["load_assignment"]) fail(child(path, "load_assignment"), "missing required field");
    std::string lp = child(path, "load_assignment");
    const YAML::Node la = n["load_assignment"];
    checkKeys(la, lp, {"cluster_name", "endpoints"}, {"policy"});
    if (!la["endpoints"] || !la["endpoints"].IsSequence())
      fail(child(lp, "endpoints"), "expected a list");
    for (size_t i = 0; i < la["endpoints"].size(); ++i) {
      std::string ep = index(child(lp, "endpoints"), i);
      const YAML::Node e = la["endpoints"][i];
      checkKeys(e, ep, {"lb_endpoints"}, {"locality", "priority", "load_balancing_weight"});
      if (!e["lb_endpoints"] || !e["lb_endpoints"].IsSequence())
        fail(child(ep, "lb_endpoints"), "expected a list");
      for (size_t k = 0; k < e["lb_endpoints"].size(); ++k) {
        std::string lbp = index(child(ep, "lb_endpoints"), k);
        const YAML::Node lb = e["lb_endpoints"][k];
        checkKeys(lb, lbp, {"endpoint"}, {"health_status", "metadata", "load_balancing_weight"});
        checkKeys(lb["endpoint"], child(lbp, "endpoint"), {"address"},
                  {"health_check_config", "hostname"});
        c.endpoints.push_back(
            socketAddress(lb["endpoint"]["address"], child(lbp, "endpoint.address")));
      }
    }
    if (c.endpoints.empty()) fail(lp, "a cluster needs at least one endpoint");
    return c;
  }

  Listener listener(const YAML::Node& n, const std::string& path) {
    checkKeys(n, path, {"name", "address", "filter_chains"},
              {"traffic_direction", "per_connection_buffer_limit_bytes", "listener_filters"});
    Listener l;
    if (n["name"]) l.name = str(n["name"], child(path, "name"));
    if (!n["address"]) fail(child(path, "address"), "missing required field");
    l.address = socketAddress(n["address"], child(path, "address"));
    if (!n["filter_chains"] || !n["filter_chains"].IsSequence() || n["filter_chains"].size() != 1) {
      fail(child(path, "filter_chains"), "exactly one filter chain is supported");
    }
    std::string fcp = index(child(path, "filter_chains"), 0);
    const YAML::Node fc = n["filter_chains"][0];
    checkKeys(fc, fcp, {"filters"}, {"name"});
    if (!fc["filters"] || !fc["filters"].IsSequence() || fc["filters"].size() != 1) {
      fail(child(fcp, "filters"),
           "exactly one network filter (http_connection_manager) is supported");
    }
    std::string fp = index(child(fcp, "filters"), 0);
    const YAML::Node f = fc["filters"][0];
    checkKeys(f, fp, {"name", "typed_config"});
    std::string name = f["name"] ? str(f["name"], child(fp, "name")) : "";
    const YAML::Node tc = f["typed_config"];
    if (!endsWith(typeOf(tc), "HttpConnectionManager") &&
        name != "envoy.filters.network.http_connection_manager" &&
        name != "envoy.http_connection_manager") {
      fail(fp, "only envoy.filters.network.http_connection_manager is supported");
    }
    hcm(tc, child(fp, "typed_config"), &l);
    return l;
  }

  void hcm(const YAML::Node& n, const std::string& path, Listener* l) {
    checkKeys(n, path,
              {"@type", "stat_prefix", "route_config", "http_filters", "request_headers_timeout",
               "stream_idle_timeout", "request_timeout", "normalize_path", "merge_slashes",
               "use_remote_address", "preserve_external_request_id", "skip_xff_append",
               "generate_request_id", "xff_num_trusted_hops", "upgrade_configs", "server_name",
               "always_set_request_id_in_response"},
              {"codec_type", "access_log", "common_http_protocol_options", "http_protocol_options",
               "tracing"});
    if (n["stat_prefix"]) l->stat_prefix = str(n["stat_prefix"], child(path, "stat_prefix"));
    auto time = [&](const char* key, std::chrono::milliseconds* out) {
      if (n[key]) *out = duration(n[key], child(path, key));
    };
    auto flag = [&](const char* key, bool* out) {
      if (n[key]) *out = boolean(n[key], child(path, key));
    };
    time("request_headers_timeout", &l->request_headers_timeout);
    time("stream_idle_timeout", &l->stream_idle_timeout);
    time("request_timeout", &l->request_timeout);
    flag("normalize_path", &l->normalize_path);
    flag("merge_slashes", &l->merge_slashes);
    flag("use_remote_address", &l->use_remote_address);
    flag("preserve_external_request_id", &l->preserve_external_request_id);
    flag("skip_xff_append", &l->skip_xff_append);
    flag("generate_request_id", &l->generate_request_id);
    // Fields whose behaviour wasm-proxy does not have: refused rather than ignored.
    if (n["xff_num_trusted_hops"] && n["xff_num_trusted_hops"].as<std::string>() != "0") {
      fail(child(path, "xff_num_trusted_hops"),
           "not supported (wasm-proxy trusts no hops of x-forwarded-for)");
    }
    if (n["upgrade_configs"] && n["upgrade_configs"].size() != 0) {
      fail(child(path, "upgrade_configs"),
           "upgrades (WebSocket, CONNECT) are not supported; requests asking for one are "
           "forwarded without the Upgrade header");
    }
    if (n["server_name"]) {
      fail(child(path, "server_name"), "not supported (wasm-proxy sends no Server header)");
    }
    if (n["always_set_request_id_in_response"] &&
        boolean(n["always_set_request_id_in_response"],
                child(path, "always_set_request_id_in_response"))) {
      fail(child(path, "always_set_request_id_in_response"), "not supported");
    }
    if (!n["route_config"])
      fail(child(path, "route_config"), "missing required field (RDS is not supported)");
    routeConfig(n["route_config"], child(path, "route_config"), &l->routes);
    if (!n["http_filters"] || !n["http_filters"].IsSequence()) {
      fail(child(path, "http_filters"), "expected a list of HTTP filters");
    }
    const YAML::Node fs = n["http_filters"];
    for (size_t i = 0; i < fs.size(); ++i) {
      std::string fp = index(child(path, "http_filters"), i);
      checkKeys(fs[i], fp, {"name", "typed_config"}, {"disabled", "is_optional"});
      std::string name = fs[i]["name"] ? str(fs[i]["name"], child(fp, "name")) : "";
      std::string type = typeOf(fs[i]["typed_config"]);
      if (name == "envoy.filters.http.router" || name == "envoy.router" ||
          endsWith(type, "router.v3.Router")) {
        if (i + 1 != fs.size()) fail(fp, "the router must be the last HTTP filter");
        l->filters.push_back(HttpFilter{name, nullptr, nullptr});
        continue;
      }
      if (name == "envoy.filters.http.wasm" || endsWith(type, "wasm.v3.Wasm") ||
          endsWith(type, "udpa.type.v1.TypedStruct") || endsWith(type, "xds.type.v3.TypedStruct")) {
        l->filters.push_back(HttpFilter{
            name, wasmFilter(fs[i]["typed_config"], child(fp, "typed_config")), nullptr});
        continue;
      }
      if (const NativeFilterType* t = findNativeFilter(name, type)) {
        const std::string tp = child(fp, "typed_config");
        if (!fs[i]["typed_config"]) fail(tp, "missing required field");
        l->filters.push_back(
            HttpFilter{name, nullptr, t->parse(fs[i]["typed_config"], tp, base_dir_)});
        continue;
      }
      fail(fp, "unsupported HTTP filter '" + name + "' (envoy.filters.http.wasm, " +
                   nativeFilterNames() + ", envoy.filters.http.router)");
    }
    if (l->filters.empty() || l->filters.back().wasm || l->filters.back().native) {
      fail(child(path, "http_filters"), "the last HTTP filter must be envoy.filters.http.router");
    }
  }

  void routeConfig(const YAML::Node& n, const std::string& path, RouteConfig* rc) {
    checkKeys(n, path, {"name", "virtual_hosts"},
              {"request_headers_to_add", "response_headers_to_add", "validate_clusters"});
    if (n["name"]) rc->name = str(n["name"], child(path, "name"));
    if (!n["virtual_hosts"] || !n["virtual_hosts"].IsSequence())
      fail(child(path, "virtual_hosts"), "expected a list");
    for (size_t i = 0; i < n["virtual_hosts"].size(); ++i) {
      std::string vp = index(child(path, "virtual_hosts"), i);
      const YAML::Node v = n["virtual_hosts"][i];
      checkKeys(v, vp, {"name", "domains", "routes"}, {"require_tls"});
      VirtualHost vh;
      if (v["name"]) vh.name = str(v["name"], child(vp, "name"));
      if (!v["domains"] || !v["domains"].IsSequence())
        fail(child(vp, "domains"), "expected a list");
      for (size_t k = 0; k < v["domains"].size(); ++k) {
        vh.domains.push_back(lower(str(v["domains"][k], index(child(vp, "domains"), k))));
      }
      if (!v["routes"] || !v["routes"].IsSequence()) fail(child(vp, "routes"), "expected a list");
      for (size_t k = 0; k < v["routes"].size(); ++k) {
        vh.routes.push_back(route(v["routes"][k], index(child(vp, "routes"), k)));
      }
      rc->virtual_hosts.push_back(std::move(vh));
    }
  }

  Route route(const YAML::Node& n, const std::string& path) {
    checkKeys(n, path, {"name", "match", "route", "direct_response"}, {"decorator", "metadata"});
    Route r;
    if (n["name"]) r.name = str(n["name"], child(path, "name"));
    std::string mp = child(path, "match");
    const YAML::Node m = n["match"];
    if (!m) fail(mp, "missing required field");
    checkKeys(m, mp, {"prefix", "path", "safe_regex", "headers", "case_sensitive"});
    if (m["prefix"]) {
      r.match_kind = Route::MatchKind::Prefix;
      r.match_value = str(m["prefix"], child(mp, "prefix"));
    } else if (m["path"]) {
      r.match_kind = Route::MatchKind::Path;
      r.match_value = str(m["path"], child(mp, "path"));
    } else if (m["safe_regex"]) {
      r.match_kind = Route::MatchKind::Regex;
      r.match_regex = regex(m["safe_regex"], child(mp, "safe_regex"), &r.match_value);
    } else {
      fail(mp, "one of prefix, path or safe_regex is required");
    }
    if (m["case_sensitive"])
      r.case_sensitive = boolean(m["case_sensitive"], child(mp, "case_sensitive"));
    if (m["headers"]) {
      for (size_t i = 0; i < m["headers"].size(); ++i) {
        r.headers.push_back(headerMatcher(m["headers"][i], index(child(mp, "headers"), i)));
      }
    }
    if (n["direct_response"]) {
      std::string dp = child(path, "direct_response");
      const YAML::Node d = n["direct_response"];
      checkKeys(d, dp, {"status", "body"});
      r.direct_status = static_cast<uint32_t>(num(d["status"], child(dp, "status"), 599));
      if (d["body"]) {
        checkKeys(d["body"], child(dp, "body"), {"inline_string"});
        r.direct_body = str(d["body"]["inline_string"], child(dp, "body.inline_string"));
      }
      return r;
    }
    std::string ap = child(path, "route");
    const YAML::Node a = n["route"];
    if (!a) fail(path, "a route needs a route or a direct_response action");
    checkKeys(a, ap, {"cluster", "prefix_rewrite", "host_rewrite_literal", "timeout"},
              {"retry_policy", "idle_timeout", "auto_host_rewrite"});
    if (!a["cluster"]) fail(child(ap, "cluster"), "missing required field");
    r.cluster = str(a["cluster"], child(ap, "cluster"));
    if (a["prefix_rewrite"])
      r.prefix_rewrite = str(a["prefix_rewrite"], child(ap, "prefix_rewrite"));
    if (a["host_rewrite_literal"])
      r.host_rewrite = str(a["host_rewrite_literal"], child(ap, "host_rewrite_literal"));
    if (a["timeout"]) r.timeout = duration(a["timeout"], child(ap, "timeout"));
    return r;
  }

  // RE2 as Envoy's safe_regex, with Envoy's default program size limit (100).
  std::shared_ptr<const re2::RE2> regex(const YAML::Node& n, const std::string& path,
                                        std::string* source) {
    checkKeys(n, path, {"regex", "google_re2"});
    *source = str(n["regex"], child(path, "regex"));
    re2::RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const re2::RE2>(*source, options);
    if (!re->ok()) fail(child(path, "regex"), "invalid regular expression: " + re->error());
    constexpr int kMaxProgramSize = 100;
    if (re->ProgramSize() > kMaxProgramSize) {
      fail(child(path, "regex"), "regular expression too complex: program size " +
                                     std::to_string(re->ProgramSize()) + " > " +
                                     std::to_string(kMaxProgramSize) + " (Envoy's limit)");
    }
    return re;
  }

  HeaderMatcher headerMatcher(const YAML::Node& n, const std::string& path) {
    checkKeys(n, path,
              {"name", "exact_match", "prefix_match", "suffix_match", "contains_match",
               "safe_regex_match", "present_match", "string_match", "invert_match"});
    HeaderMatcher h;
    h.name = lower(str(n["name"], child(path, "name")));
    if (n["invert_match"]) h.invert = boolean(n["invert_match"], child(path, "invert_match"));
    YAML::Node sm = n["string_match"];
    std::string sp = child(path, "string_match");
    if (sm)
      checkKeys(sm, sp, {"exact", "prefix", "suffix", "contains", "safe_regex"}, {"ignore_case"});
    auto pick = [&](const char* legacy, const char* modern, HeaderMatcher::Kind kind) {
      if (n[legacy]) {
        h.kind = kind;
        h.value = str(n[legacy], child(path, legacy));
        return true;
      }
      if (sm && sm[modern]) {
        h.kind = kind;
        h.value = str(sm[modern], child(sp, modern));
        return true;
      }
      return false;
    };
    if (pick("exact_match", "exact", HeaderMatcher::Kind::Exact) ||
        pick("prefix_match", "prefix", HeaderMatcher::Kind::Prefix) ||
        pick("suffix_match", "suffix", HeaderMatcher::Kind::Suffix) ||
        pick("contains_match", "contains", HeaderMatcher::Kind::Contains)) {
      return h;
    }
    if (n["safe_regex_match"] || (sm && sm["safe_regex"])) {
      h.kind = HeaderMatcher::Kind::Regex;
      h.regex = n["safe_regex_match"]
                    ? regex(n["safe_regex_match"], child(path, "safe_regex_match"), &h.value)
                    : regex(sm["safe_regex"], child(sp, "safe_regex"), &h.value);
      return h;
    }
    h.kind = HeaderMatcher::Kind::Present;
    if (n["present_match"]) h.present = boolean(n["present_match"], child(path, "present_match"));
    return h;
  }

  std::shared_ptr<WasmFilter> wasmFilter(const YAML::Node& tc, const std::string& tcpath) {
    // Envoy's Wasm message directly, or wrapped in a TypedStruct (Istio EnvoyFilter style).
    YAML::Node wasm = tc;
    std::string path = tcpath;
    std::string type = typeOf(tc);
    if (endsWith(type, "TypedStruct")) {
      checkKeys(tc, tcpath, {"@type", "type_url", "value"});
      wasm = tc["value"];
      path = child(tcpath, "value");
    } else {
      checkKeys(tc, tcpath, {"@type", "config"});
    }
    if (!wasm["config"]) fail(child(path, "config"), "missing required field");
    const YAML::Node c = wasm["config"];
    std::string cp = child(path, "config");
    checkKeys(
        c, cp, {"name", "root_id", "vm_config", "configuration", "fail_open", "failure_policy"},
        {"capability_restriction_config", "reload_config", "allow_on_headers_stop_iteration"});
    auto plugin = std::make_shared<PluginConfig>();
    auto filter = std::make_shared<WasmFilter>();
    filter->yaml_path = cp;
    if (c["name"]) plugin->name = str(c["name"], child(cp, "name"));
    if (c["root_id"]) plugin->root_id = str(c["root_id"], child(cp, "root_id"));
    if (c["configuration"])
      plugin->configuration = anyConfiguration(c["configuration"], child(cp, "configuration"));
    if (c["fail_open"] && boolean(c["fail_open"], child(cp, "fail_open"))) {
      plugin->failure_policy = FailurePolicy::FailOpen;
    }
    if (c["failure_policy"]) {
      std::string fp = str(c["failure_policy"], child(cp, "failure_policy"));
      if (fp == "FAIL_CLOSED" || fp == "UNSPECIFIED")
        plugin->failure_policy = FailurePolicy::FailClosed;
      else if (fp == "FAIL_OPEN")
        plugin->failure_policy = FailurePolicy::FailOpen;
      else if (fp == "FAIL_RELOAD")
        plugin->failure_policy = FailurePolicy::FailReload;
      else
        fail(child(cp, "failure_policy"), "expected FAIL_CLOSED, FAIL_OPEN or FAIL_RELOAD");
    }
    if (!c["vm_config"]) fail(child(cp, "vm_config"), "missing required field");
    const YAML::Node vm = c["vm_config"];
    std::string vp = child(cp, "vm_config");
    checkKeys(vm, vp, {"vm_id", "runtime", "code", "configuration", "environment_variables"},
              {"allow_precompiled", "nack_on_code_cache_miss"});
    if (vm["vm_id"]) filter->vm.vm_id = str(vm["vm_id"], child(vp, "vm_id"));
    std::string runtime =
        vm["runtime"] ? str(vm["runtime"], child(vp, "runtime")) : "envoy.wasm.runtime.v8";
    filter->vm.runtime = proxy_wasm::host::canonicalRuntimeName(runtime);
    if (filter->vm.runtime.empty()) {
      fail(child(vp, "runtime"),
           "unknown Wasm runtime '" + runtime +
               "' (supported: envoy.wasm.runtime.v8, envoy.wasm.runtime.wabt, "
               "envoy.wasm.runtime.wasm2c)");
    }
    if (vm["configuration"])
      filter->vm.configuration = anyConfiguration(vm["configuration"], child(vp, "configuration"));
    if (vm["environment_variables"]) {
      std::string ep = child(vp, "environment_variables");
      const YAML::Node env = vm["environment_variables"];
      checkKeys(env, ep, {"key_values", "host_env_keys"});
      if (env["host_env_keys"]) {
        for (size_t i = 0; i < env["host_env_keys"].size(); ++i) {
          std::string key = str(env["host_env_keys"][i], index(child(ep, "host_env_keys"), i));
          if (const char* v = std::getenv(key.c_str())) filter->vm.environment.emplace_back(key, v);
        }
      }
      if (env["key_values"]) {
        if (!env["key_values"].IsMap()) fail(child(ep, "key_values"), "expected an object");
        for (auto it = env["key_values"].begin(); it != env["key_values"].end(); ++it) {
          filter->vm.environment.emplace_back(
              it->first.as<std::string>(),
              str(it->second, child(child(ep, "key_values"), it->first.as<std::string>())));
        }
      }
    }
    std::string origin;
    std::string bytes = code(vm["code"], child(vp, "code"), &origin);
    std::string error;
    filter->code =
        PluginCode::load(std::move(bytes), filter->vm.memory_limit_bytes, &error, origin);
    if (!filter->code) fail(child(vp, "code"), error);
    if (plugin->name.empty()) plugin->name = filter->vm.vm_id.empty() ? "wasm" : filter->vm.vm_id;
    filter->plugin = plugin;
    return filter;
  }

  // The module's bytes; `origin` gets the file they were read from, if any.
  std::string code(const YAML::Node& n, const std::string& path, std::string* origin) {
    if (!n) fail(path, "missing required field");
    checkKeys(n, path, {"local", "remote"});
    if (n["local"]) return dataSource(n["local"], child(path, "local"), base_dir_, origin);
    std::string rp = child(path, "remote");
    const YAML::Node r = n["remote"];
    checkKeys(r, rp, {"http_uri", "sha256", "retry_policy"});
    const YAML::Node u = r["http_uri"];
    // The uri is fetched directly when the bootstrap loads (before any cluster exists); the
    // cluster Envoy would use is accepted for compatibility.
    checkKeys(u, child(rp, "http_uri"), {"uri", "timeout"}, {"cluster"});
    std::string uri = str(u["uri"], child(rp, "http_uri.uri"));
    auto timeout = u["timeout"] ? duration(u["timeout"], child(rp, "http_uri.timeout"))
                                : std::chrono::milliseconds(10000);
    // retry_policy: num_retries more attempts (Envoy's default for remote code: 1), each after
    // retry_back_off.base_interval (default 1 s), doubling.
    uint64_t retries = 1;
    std::chrono::milliseconds back_off{1000};
    if (r["retry_policy"]) {
      const std::string pp = child(rp, "retry_policy");
      const YAML::Node p = r["retry_policy"];
      checkKeys(p, pp, {"num_retries", "retry_back_off"});
      if (p["num_retries"]) retries = num(p["num_retries"], child(pp, "num_retries"), 10);
      if (p["retry_back_off"]) {
        const std::string bp = child(pp, "retry_back_off");
        checkKeys(p["retry_back_off"], bp, {"base_interval"}, {"max_interval"});
        if (p["retry_back_off"]["base_interval"]) {
          back_off = duration(p["retry_back_off"]["base_interval"], child(bp, "base_interval"));
        }
      }
    }
    if (!r["sha256"]) fail(child(rp, "sha256"), "required: remote code is verified before it runs");
    std::string want = lower(str(r["sha256"], child(rp, "sha256")));
    FetchOptions fetch;
    fetch.timeout = timeout;
    fetch.retries = static_cast<int>(retries);
    fetch.back_off = back_off;
    FetchResponse fetched = httpGet(uri, fetch);
    if (fetched.status != 200) fail(child(rp, "http_uri"), fetched.describe(uri));
    std::string bytes = std::move(fetched.body);
    std::string got = sha256Hex(bytes);
    if (got != want)
      fail(child(rp, "sha256"),
           "checksum mismatch: sha256 asks for " + want + ", the module at " + uri + " has " + got);
    return bytes;
  }

  std::string base_dir_;
};

}  // namespace

std::shared_ptr<Bootstrap> parseBootstrap(const std::string& text, const std::string& source,
                                          const std::string& base_dir, std::string* error) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) {
      *error = source + ": expected a bootstrap object at the top level";
      return nullptr;
    }
    auto b = Parser(base_dir).bootstrap(root);
    b->source = source;
    return b;
  } catch (const ConfigError& e) {
    *error = source + ": " + e.message;
  } catch (const YAML::Exception& e) {
    *error = source + ": invalid YAML/JSON: " + e.what();
  }
  return nullptr;
}

std::shared_ptr<Bootstrap> loadBootstrap(const std::string& path, std::string* error) {
  auto text = readFile(path);
  if (!text) {
    *error = path + ": cannot read the file";
    return nullptr;
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  return parseBootstrap(*text, path, dir.empty() ? "." : dir, error);
}

}  // namespace wasm_proxy
