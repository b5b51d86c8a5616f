// What one stream's properties say at log time (Envoy's attribute names), and the node's identity.
#include "access_log.h"

namespace grpc_access_logging {

using proxy_wasm::getPropertyInt64;
using proxy_wasm::getPropertyString;

namespace {

std::optional<uint64_t> nonNegative(std::optional<int64_t> v) {
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

}  // namespace

AccessEntry readAccessEntry(bool for_otlp) {
  AccessEntry e;
  // The request headers in one call: host, path, method, user agent, referer, request id and
  // traceparent are Envoy's request.* attributes read from them (each property read is a
  // hostcall plus an allocation in the plugin; a third of this plugin's cost per request).
  if (auto headers = proxy_wasm::getHeaderMapPairs(proxy_wasm::MapType::HttpRequestHeaders)) {
    for (const auto& [name, value] : headers->pairs()) {
      std::optional<std::string>* slot = nullptr;
      if (name == ":authority")
        slot = &e.host;
      else if (name == ":path")
        slot = &e.path;
      else if (name == ":method")
        slot = &e.method;
      else if (name == "user-agent")
        slot = &e.user_agent;
      else if (name == "referer")
        slot = &e.referer;
      else if (name == "x-request-id")
        slot = &e.request_id;
      else if (name == "traceparent")
        slot = &e.traceparent;
      if (slot != nullptr && !*slot) *slot = std::string(value);  // the first value, as Envoy
    }
  }
  if (e.path) {  // request.url_path and request.query
    const size_t q = e.path->find('?');
    if (q != std::string::npos) {
      e.query = e.path->substr(q + 1);
      e.path->resize(q);
    }
  }
  e.source_address = getPropertyString({"source", "address"});
  e.destination_address = getPropertyString({"destination", "address"});
  if (auto code = getPropertyInt64({"response", "code"}); code && *code > 0 && *code < 1000) {
    e.response_code = static_cast<uint32_t>(*code);
  }
  e.start_unix_ns = nonNegative(getPropertyInt64({"request", "time"}));
  e.duration_ns = nonNegative(getPropertyInt64({"request", "duration"}));
  e.observed_unix_ns = proxy_wasm::getCurrentTimeNanoseconds();
  if (for_otlp) {
    e.scheme = getPropertyString({"request", "scheme"});
    e.protocol = getPropertyString({"request", "protocol"});
  }
  return e;
}

NodeInfo readNodeInfo() {
  NodeInfo n;
  n.workload = getPropertyString({"node", "metadata", "WORKLOAD_NAME"});
  n.namespace_name = getPropertyString({"node", "metadata", "NAMESPACE"});
  n.node_id = getPropertyString({"node", "id"});
  n.cluster = getPropertyString({"node", "cluster"});
  return n;
}

}  // namespace grpc_access_logging
