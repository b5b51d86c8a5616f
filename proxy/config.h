// The subset of Envoy's v3 bootstrap that wasm-proxy runs, parsed from YAML or JSON.
//
// Every error names the file and the YAML path of the offending field
// ("envoy.yaml: static_resources.listeners[0].filter_chains[0].filters[0]...: ..."). A field that
// would change behaviour but is not supported is an error; fields that do not matter here
// (stat names, access logs, codec hints...) are accepted and ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy_wasm/host/plugin.h"

namespace re2 {
class RE2;
}

namespace wasm_proxy {

struct SocketAddress {
  std::string address;
  uint16_t port = 0;
  std::string toString() const { return address + ":" + std::to_string(port); }
};

struct HeaderMatcher {
  std::string name;  // lower-cased
  enum class Kind { Present, Exact, Prefix, Suffix, Contains, Regex } kind = Kind::Present;
  std::string value;
  // RE2, as Envoy's safe_regex: linear time, no recursion, whatever the input.
  std::shared_ptr<const re2::RE2> regex;
  bool present = true;  // present_match value
  bool invert = false;
};

struct Route {
  std::string name;
  enum class MatchKind { Prefix, Path, Regex } match_kind = MatchKind::Prefix;
  std::string match_value;
  std::shared_ptr<const re2::RE2> match_regex;  // RE2 (see HeaderMatcher)
  bool case_sensitive = true;
  std::vector<HeaderMatcher> headers;
  // Action: a cluster, or a direct response.
  std::string cluster;
  std::optional<std::string> prefix_rewrite;
  std::optional<std::string> host_rewrite;
  std::chrono::milliseconds timeout{15000};  // 0: none (Envoy)
  std::optional<uint32_t> direct_status;
  std::string direct_body;
};

struct VirtualHost {
  std::string name;
  std::vector<std::string> domains;  // lower-cased; "*", "*.suffix", "prefix*"
  std::vector<Route> routes;
};

struct RouteConfig {
  std::string name;
  std::vector<VirtualHost> virtual_hosts;
};

// One envoy.filters.http.wasm filter: the module and how to run it.
struct WasmFilter {
  std::string yaml_path;  // for messages
  std::shared_ptr<const proxy_wasm::host::PluginCode> code;
  std::shared_ptr<const proxy_wasm::host::PluginConfig> plugin;
  proxy_wasm::host::VmConfig vm;
};

class NativeFilterConfig;  // filters/native_filter.h

struct HttpFilter {
  std::string name;
  std::shared_ptr<WasmFilter> wasm;                  // an envoy.filters.http.wasm, or
  std::shared_ptr<const NativeFilterConfig> native;  // a native filter; both null: the router
};

struct Listener {
  std::string name;
  SocketAddress address;
  std::string stat_prefix;
  RouteConfig routes;
  std::vector<HttpFilter> filters;  // in order; the router is last
  // HCM request_headers_timeout: how long a request's headers may take (0: the proxy's default).
  std::chrono::milliseconds request_headers_timeout{0};
  // HCM stream_idle_timeout (Envoy's default 5 min; 0 disables): no progress on a stream (a
  // paused filter, a client sending no body bytes or reading no response bytes) for this long
  // ends it, with 408 if no response has started.
  std::chrono::milliseconds stream_idle_timeout{300000};
  // HCM request_timeout (0, Envoy's default: none): the whole request must arrive within it (408).
  std::chrono::milliseconds request_timeout{0};
  // HCM path handling before filters and routing: RFC 3986 dot-segment removal, "//" merged.
  bool normalize_path = false;
  bool merge_slashes = false;
  // HCM client trust. use_remote_address: the client is the connection's peer, an external
  // client: Envoy's internal headers (x-envoy-*) it sent are removed and its x-request-id is
  // replaced unless preserve_external_request_id.
  bool use_remote_address = false;
  bool preserve_external_request_id = false;
  bool skip_xff_append = false;
  bool generate_request_id = true;
};

struct Cluster {
  std::string name;
  enum class Type { Static, StrictDns, LogicalDns } type = Type::Static;
  std::vector<SocketAddress> endpoints;
  std::chrono::milliseconds connect_timeout{5000};
  bool http2 = false;  // accepted for gRPC clusters
};

struct Node {
  std::string id;
  std::string cluster;
  std::map<std::string, std::string> metadata;  // string values (others as JSON text)
};

struct Bootstrap {
  std::string source;  // file name, for messages
  Node node;
  std::optional<SocketAddress> admin;
  std::vector<Listener> listeners;
  std::map<std::string, Cluster> clusters;
};

// Parses and validates a bootstrap file (YAML or JSON), loads every plugin's code (local files
// relative to the working directory, then to the config file's directory; inline; or remote with
// sha256) and checks that every route's cluster exists. nullptr with `error` on failure.
std::shared_ptr<Bootstrap> loadBootstrap(const std::string& path, std::string* error);
std::shared_ptr<Bootstrap> parseBootstrap(const std::string& text, const std::string& source,
                                          const std::string& base_dir, std::string* error);

}  // namespace wasm_proxy
