// What one stream's properties say at log time (Envoy's attribute names), and the node's identity.
#include "plugin.h"

namespace grpc_access_logging {

using proxy_wasm::getPropertyInt64;
using proxy_wasm::getPropertyString;

namespace {

std::optional<uint64_t> nonNegative(std::optional<int64_t> v) {
  if (!v || *v < 0) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

}  // namespace

AccessEntry readAccessEntry() {
  AccessEntry e;
  e.source_address = getPropertyString({"source", "address"});
  e.destination_address = getPropertyString({"destination", "address"});
  e.host = getPropertyString({"request", "host"});
  e.path = getPropertyString({"request", "url_path"});
  e.query = getPropertyString({"request", "query"});
  e.method = getPropertyString({"request", "method"});
  e.scheme = getPropertyString({"request", "scheme"});
  e.protocol = getPropertyString({"request", "protocol"});
  // Envoy's attribute is request.useragent (upstream asked for request.user_agent and so always
  // logged an empty user agent).
  e.user_agent = getPropertyString({"request", "useragent"});
  e.referer = getPropertyString({"request", "referer"});
  e.request_id = getPropertyString({"request", "id"});
  e.traceparent = getPropertyString({"request", "headers", "traceparent"});
  if (auto code = getPropertyInt64({"response", "code"}); code && *code > 0 && *code < 1000) {
    e.response_code = static_cast<uint32_t>(*code);
  }
  e.start_unix_ns = nonNegative(getPropertyInt64({"request", "time"}));
  e.duration_ns = nonNegative(getPropertyInt64({"request", "duration"}));
  e.observed_unix_ns = proxy_wasm::getCurrentTimeNanoseconds();
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
