#include "filters/wasm_properties.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <span>
#include <vector>

#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/abi/property.h"

namespace wasm_proxy {

using proxy_wasm::abi::WasmResult;

namespace {

uint64_t realtimeNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// What a getter sees: the stream, its route and the path segments after "top.field".
struct Scope {
  const HttpStream& stream;
  const Route* route;
  const std::vector<std::string_view>& rest;
  std::string* value;

  WasmResult ok(std::string_view v) const {
    value->assign(v);
    return WasmResult::Ok;
  }
  WasmResult present(std::optional<std::string_view> v) const {
    return v && !v->empty() ? ok(*v) : WasmResult::NotFound;
  }
  WasmResult i64(int64_t v) const { return ok(proxy_wasm::abi::encodeInt64(v)); }
  // A header map whole (without pseudo-headers), or one header when a segment follows.
  WasmResult headers(const VectorHeaderMap& m) const {
    if (rest.size() == 1) return present(m.get(rest[0]));
    if (!rest.empty()) return WasmResult::NotFound;
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& [k, v] : m.entries()) {
      if (!k.empty() && k[0] != ':') pairs.emplace_back(k, v);
    }
    return ok(proxy_wasm::abi::encodePairs(pairs));
  }
  const Message& request() const { return stream.request; }
  const ConnectionInfo& connection() const { return *stream.info.connection; }
  std::string_view path() const { return request().header(":path"); }
};

using Getter = WasmResult (*)(const Scope&);

WasmResult responseOnly(const Scope& s, WasmResult (*f)(const Scope&)) {
  return s.stream.response_started ? f(s) : WasmResult::NotFound;
}

WasmResult upstreamPort(const Scope& s) {
  const std::string& a = s.stream.info.upstream_address;
  if (a.empty()) return WasmResult::NotFound;
  int64_t port = 0;
  const size_t colon = a.rfind(':');
  std::from_chars(a.data() + colon + 1, a.data() + a.size(), port);
  return s.i64(port);
}

// A Struct value as Envoy's CEL layer hands it to plugins: strings raw, numbers as 8-byte
// doubles, bools as one byte, objects as pairs of encoded values, lists as pairs whose keys are
// the encoded elements.
std::string encodeJson(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return proxy_wasm::abi::encodeBool(v.get<bool>());
  if (v.is_number()) return proxy_wasm::abi::encodeDouble(v.get<double>());
  std::vector<std::pair<std::string, std::string>> pairs;
  if (v.is_object()) {
    for (const auto& [k, e] : v.items()) pairs.emplace_back(k, encodeJson(e));
  } else if (v.is_array()) {
    for (const auto& e : v) pairs.emplace_back(encodeJson(e), "");
  } else {
    return "";
  }
  return proxy_wasm::abi::encodePairs(pairs);
}

// The value at `path` (object keys, list indexes) inside `v`, or null.
const nlohmann::json* jsonAt(const nlohmann::json& v, std::span<const std::string_view> path) {
  const nlohmann::json* cur = &v;
  for (std::string_view seg : path) {
    if (cur->is_object()) {
      auto it = cur->find(seg);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      size_t i = 0;
      auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), i);
      if (ec != std::errc() || end != seg.data() + seg.size() || i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
  }
  return cur;
}

// Sorted by key ("top.field", or "top" for single-segment names), for binary search.
constexpr std::array<std::pair<std::string_view, Getter>, 34> kTable{{
    {"cluster_name",
     [](const Scope& s) { return s.route ? s.present(s.route->cluster) : WasmResult::NotFound; }},
    {"connection.id", [](const Scope& s) { return s.i64(int64_t(s.connection().id)); }},
    {"connection.mtls", [](const Scope& s) { return s.ok(proxy_wasm::abi::encodeBool(false)); }},
    {"connection_id", [](const Scope& s) { return s.i64(int64_t(s.connection().id)); }},
    {"destination.address",
     [](const Scope& s) {
       return s.ok(s.connection().destination_address + ":" +
                   std::to_string(s.connection().destination_port));
     }},
    {"destination.port", [](const Scope& s) { return s.i64(s.connection().destination_port); }},
    {"metadata.filter_metadata",
     [](const Scope& s) {
       const auto& md = s.stream.info.dynamic_metadata;
       if (s.rest.empty()) return WasmResult::NotFound;
       auto ns = md.find(s.rest[0]);
       if (ns == md.end()) return WasmResult::NotFound;
       const nlohmann::json* v = jsonAt(ns->second, {s.rest.begin() + 1, s.rest.end()});
       return v == nullptr ? WasmResult::NotFound : s.ok(encodeJson(*v));
     }},
    {"request.duration",
     [](const Scope& s) { return s.i64(int64_t(realtimeNs() - s.stream.info.start_ns)); }},
    {"request.headers", [](const Scope& s) { return s.headers(s.request().headers); }},
    {"request.host",
     [](const Scope& s) { return s.present(s.request().headers.get(":authority")); }},
    {"request.id",
     [](const Scope& s) { return s.present(s.request().headers.get("x-request-id")); }},
    {"request.method",
     [](const Scope& s) { return s.present(s.request().headers.get(":method")); }},
    {"request.path", [](const Scope& s) { return s.present(s.path()); }},
    {"request.protocol",
     [](const Scope& s) { return s.ok(s.request().version == 10 ? "HTTP/1.0" : "HTTP/1.1"); }},
    {"request.query",
     [](const Scope& s) {
       const size_t q = s.path().find('?');
       return q == std::string_view::npos ? WasmResult::NotFound : s.ok(s.path().substr(q + 1));
     }},
    {"request.referer",
     [](const Scope& s) { return s.present(s.request().headers.get("referer")); }},
    {"request.scheme",
     [](const Scope& s) { return s.present(s.request().headers.get(":scheme")); }},
    {"request.size", [](const Scope& s) { return s.i64(int64_t(s.request().bodySize())); }},
    {"request.time", [](const Scope& s) { return s.i64(int64_t(s.stream.info.start_ns)); }},
    {"request.total_size",
     [](const Scope& s) {
       int64_t n = int64_t(s.request().bodySize());
       for (const auto& [k, v] : s.request().headers.entries()) n += k.size() + v.size() + 4;
       return s.i64(n);
     }},
    {"request.url_path",
     [](const Scope& s) { return s.ok(s.path().substr(0, s.path().find('?'))); }},
    {"request.useragent",
     [](const Scope& s) { return s.present(s.request().headers.get("user-agent")); }},
    {"response.code",
     [](const Scope& s) {
       return responseOnly(s, [](const Scope& r) { return r.i64(r.stream.response.status()); });
     }},
    {"response.code_details",
     [](const Scope& s) {
       return responseOnly(
           s, [](const Scope& r) { return r.present(r.stream.info.response_code_details); });
     }},
    {"response.headers",
     [](const Scope& s) {
       return responseOnly(s, [](const Scope& r) { return r.headers(r.stream.response.headers); });
     }},
    {"response.size",
     [](const Scope& s) {
       return responseOnly(
           s, [](const Scope& r) { return r.i64(int64_t(r.stream.response.bodySize())); });
     }},
    {"response.trailers",
     [](const Scope& s) {
       return responseOnly(s, [](const Scope& r) { return r.headers(r.stream.response.trailers); });
     }},
    {"route_name",
     [](const Scope& s) { return s.route ? s.present(s.route->name) : WasmResult::NotFound; }},
    {"source.address",
     [](const Scope& s) {
       return s.ok(s.connection().source_address + ":" +
                   std::to_string(s.connection().source_port));
     }},
    {"source.port", [](const Scope& s) { return s.i64(s.connection().source_port); }},
    {"upstream.address", [](const Scope& s) { return s.present(s.stream.info.upstream_address); }},
    {"upstream.port", upstreamPort},
    {"xds.cluster_name",
     [](const Scope& s) { return s.route ? s.present(s.route->cluster) : WasmResult::NotFound; }},
    {"xds.route_name",
     [](const Scope& s) { return s.route ? s.present(s.route->name) : WasmResult::NotFound; }},
}};

constexpr bool sorted() {
  for (size_t i = 1; i < kTable.size(); ++i) {
    if (!(kTable[i - 1].first < kTable[i].first)) return false;
  }
  return true;
}
static_assert(sorted(), "the property table is searched by binary search");

Getter find(std::string_view key) {
  auto it = std::lower_bound(kTable.begin(), kTable.end(), key,
                             [](const auto& e, std::string_view k) { return e.first < k; });
  return it != kTable.end() && it->first == key ? it->second : nullptr;
}

}  // namespace

WasmResult streamProperty(const HttpStream& stream, const Route* route, std::string_view path,
                          std::string* value) {
  std::vector<std::string_view> seg;
  proxy_wasm::abi::splitPropertyPath(path, [&](std::string_view s) { seg.push_back(s); });
  if (seg.empty()) return WasmResult::NotFound;
  // "top" alone, or "top.field" with the rest as arguments.
  for (size_t used = std::min<size_t>(seg.size(), 2); used >= 1; --used) {
    std::string key(seg[0]);
    if (used == 2) key.append(".").append(seg[1]);
    if (Getter g = find(key)) {
      std::vector<std::string_view> rest(seg.begin() + static_cast<long>(used), seg.end());
      const bool takes_rest = key == "request.headers" || key == "response.headers" ||
                              key == "response.trailers" || key == "metadata.filter_metadata";
      if (!rest.empty() && !takes_rest) return WasmResult::NotFound;
      return g(Scope{stream, route, rest, value});
    }
  }
  return WasmResult::NotFound;
}

}  // namespace wasm_proxy
