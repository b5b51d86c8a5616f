// Hostcalls on buffers (bodies, callout answers, configurations) and header maps (the stream's
// headers and trailers, read-only callout and gRPC metadata), as the reference host answers them.
#include <functional>
#include <optional>

#include "../hostcall_env.h"
#include "proxy_wasm/abi/pairs.h"

namespace proxy_wasm::host {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// A header map of the current call: the stream's (writable) or a callout's (read-only).
struct MapRef {
  HeaderMap* writable = nullptr;
  const Pairs* readonly = nullptr;
  bool available() const { return writable != nullptr || readonly != nullptr; }
  void forEach(const std::function<void(std::string_view, std::string_view)>& f) const {
    if (writable != nullptr) {
      writable->forEach(f);
    } else if (readonly != nullptr) {
      for (auto& [k, v] : *readonly) f(k, v);
    }
  }
};

MapRef mapOf(HostcallEnv& env, MapType type) {
  MapRef ref;
  const HostcallEnv::CalloutResponse* callout = env.calloutResponse();
  switch (type) {
    case MapType::HttpRequestHeaders:
    case MapType::HttpRequestTrailers:
    case MapType::HttpResponseHeaders:
    case MapType::HttpResponseTrailers: {
      HostcallEnv::Context* c = env.currentContext();
      if (c != nullptr && c->stream != nullptr) ref.writable = c->stream->headers(type);
      break;
    }
    case MapType::GrpcReceiveInitialMetadata:
    case MapType::HttpCallResponseHeaders:
      if (callout != nullptr) ref.readonly = &callout->headers;
      break;
    case MapType::GrpcReceiveTrailingMetadata:
    case MapType::HttpCallResponseTrailers:
      if (callout != nullptr) ref.readonly = &callout->trailers;
      break;
  }
  return ref;
}

// The bytes of a buffer, or nullopt when it is not available in this callback; `*writable` is
// set for the stream's bodies.
std::optional<std::string_view> bufferOf(HostcallEnv& env, BufferType type,
                                         std::string** writable) {
  *writable = nullptr;
  HostcallEnv::Context* c = env.currentContext();
  switch (type) {
    case BufferType::HttpRequestBody:
    case BufferType::HttpResponseBody: {
      if (c == nullptr || c->stream == nullptr) return std::nullopt;
      std::string* body = c->stream->body(type);
      // As Envoy: a body the stream does not have here (the other direction's, say) reads as
      // an empty buffer; it cannot be written.
      if (body == nullptr) return std::string_view();
      *writable = body;
      return std::string_view(*body);
    }
    case BufferType::HttpCallResponseBody:
      if (env.calloutResponse() == nullptr) return std::nullopt;
      return std::string_view(env.calloutResponse()->body);
    case BufferType::GrpcReceiveBuffer:
      return env.grpcMessage();
    case BufferType::VmConfiguration:
      return std::string_view(env.config().configuration);
    case BufferType::PluginConfiguration: {
      HostcallEnv::Context* root = env.rootOf(c);
      if (root == nullptr || !root->in_configure || !root->plugin) return std::nullopt;
      return std::string_view(root->plugin->configuration);
    }
    default:
      return std::nullopt;
  }
}

// ---- buffers ----

WasmResult getBufferBytes(HostcallEnv& env, BufferType type, uint32_t start, uint32_t max_size,
                          GuestOut data) {
  std::string* unused;
  auto buf = bufferOf(env, type, &unused);
  if (!buf) return WasmResult::NotFound;
  // In 64 bits and clamped to the buffer, as cpp-host: (start, 0xffffffff) is "the rest".
  return data.write(env, start >= buf->size() ? std::string_view() : buf->substr(start, max_size));
}

WasmResult getBufferStatus(HostcallEnv& env, BufferType type, GuestSizeOut size,
                           GuestU32Out flags) {
  std::string* unused;
  auto buf = bufferOf(env, type, &unused);
  if (!buf) return WasmResult::NotFound;
  if (!size.write(env, static_cast<uint32_t>(buf->size())) || !flags.write(env, 0)) {
    return WasmResult::InvalidMemoryAccess;
  }
  return WasmResult::Ok;
}

WasmResult setBufferBytes(HostcallEnv& env, BufferType type, uint32_t start, uint32_t length,
                          GuestBytes data) {
  std::string* body;
  auto buf = bufferOf(env, type, &body);
  if (!buf) return WasmResult::NotFound;
  if (body == nullptr) return WasmResult::BadArgument;  // read-only buffer
  if (start == 0) {
    body->replace(0, std::min<size_t>(length, body->size()), data.view);
  } else if (start >= body->size()) {
    body->append(data.view);
  } else {
    return WasmResult::BadArgument;  // as Envoy: only prepend/replace-from-0 and append
  }
  return WasmResult::Ok;
}

// ---- header maps ----

WasmResult getHeaderMapSize(HostcallEnv& env, MapType type, GuestSizeOut size) {
  size_t bytes = 0;
  mapOf(env, type).forEach(
      [&](std::string_view k, std::string_view v) { bytes += k.size() + v.size(); });
  return size.write(env, static_cast<uint32_t>(bytes)) ? WasmResult::Ok
                                                       : WasmResult::InvalidMemoryAccess;
}

WasmResult getHeaderMapPairs(HostcallEnv& env, MapType type, GuestOut data) {
  std::vector<abi::PairView> pairs;
  mapOf(env, type).forEach(
      [&](std::string_view k, std::string_view v) { pairs.emplace_back(k, v); });
  // Encoded in host memory, then one allocation and copy into the plugin.
  return data.write(env, abi::encodePairs(pairs));
}

WasmResult setHeaderMapPairs(HostcallEnv& env, MapType type, GuestBytes data) {
  MapRef m = mapOf(env, type);
  if (m.writable == nullptr) return WasmResult::BadArgument;
  auto entries = decodeOwnedPairs(data.view);  // malformed: empty map, as the reference host
  m.writable->clear();
  for (auto& [k, v] : entries) m.writable->add(k, v);
  return WasmResult::Ok;
}

WasmResult getHeaderMapValue(HostcallEnv& env, MapType type, GuestBytes key, GuestOut value) {
  MapRef m = mapOf(env, type);
  if (!m.available()) return WasmResult::NotFound;
  // `key` points into plugin memory: it is used up before the copy out (which may move memory).
  std::optional<std::string_view> found;
  if (m.writable != nullptr) {
    found = m.writable->get(key.view);
  } else {
    const std::string lowered = lowerAscii(key.view);
    for (auto& [k, v] : *m.readonly) {
      if (k == lowered) {
        found = v;
        break;
      }
    }
  }
  if (!found) return WasmResult::NotFound;
  return value.write(env, *found);
}

// add and replace: one HeaderMap operation.
template <void (HeaderMap::*Op)(std::string_view, std::string_view)>
WasmResult setHeaderMapValue(HostcallEnv& env, MapType type, GuestBytes key, GuestBytes value) {
  MapRef m = mapOf(env, type);
  if (m.writable == nullptr) return WasmResult::BadArgument;
  (m.writable->*Op)(key.view, value.view);
  return WasmResult::Ok;
}

WasmResult removeHeaderMapValue(HostcallEnv& env, MapType type, GuestBytes key) {
  MapRef m = mapOf(env, type);
  if (m.writable == nullptr) return WasmResult::BadArgument;
  m.writable->remove(key.view);
  return WasmResult::Ok;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> decodeOwnedPairs(std::string_view bytes) {
  std::vector<abi::PairView> views;
  abi::decodePairs(bytes, views);
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(views.size());
  for (auto& [k, v] : views) out.emplace_back(k, v);
  return out;
}

std::vector<HostcallDef> bufferAndMapHostcalls() {
  return {
      PROXY_WASM_HOST_ENTRY(proxy_get_buffer_bytes, getBufferBytes),
      PROXY_WASM_HOST_ENTRY(proxy_get_buffer_status, getBufferStatus),
      PROXY_WASM_HOST_ENTRY(proxy_set_buffer_bytes, setBufferBytes),
      PROXY_WASM_HOST_ENTRY(proxy_get_header_map_size, getHeaderMapSize),
      PROXY_WASM_HOST_ENTRY(proxy_get_header_map_pairs, getHeaderMapPairs),
      PROXY_WASM_HOST_ENTRY(proxy_set_header_map_pairs, setHeaderMapPairs),
      PROXY_WASM_HOST_ENTRY(proxy_get_header_map_value, getHeaderMapValue),
      PROXY_WASM_HOST_ENTRY(proxy_add_header_map_value, setHeaderMapValue<&HeaderMap::add>),
      PROXY_WASM_HOST_ENTRY(proxy_replace_header_map_value, setHeaderMapValue<&HeaderMap::replace>),
      PROXY_WASM_HOST_ENTRY(proxy_remove_header_map_value, removeHeaderMapValue),
  };
}

}  // namespace proxy_wasm::host
