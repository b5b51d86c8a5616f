#include "proxy_wasm/sdk/api.h"

namespace proxy_wasm {
namespace {

uint32_t u32(BufferType t) {
  return static_cast<uint32_t>(t);
}
uint32_t u32(MapType t) {
  return static_cast<uint32_t>(t);
}
uint32_t u32(StreamType t) {
  return static_cast<uint32_t>(t);
}

// Clamps a size_t to the 32-bit range the ABI carries.
uint32_t clampU32(size_t v) {
  return v > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(v);
}

// `data`/`size` are references so that they are read after the hostcall in the same full
// expression has written them (argument evaluation order is unspecified).
Result<Buffer> bufferOrError(WasmResult r, char* const& data, const size_t& size) {
  if (r != WasmResult::Ok) {
    std::free(data);
    return unexpected(r);
  }
  return Buffer(data, size);
}

Result<uint32_t> idOrError(WasmResult r, const uint32_t& id) {
  if (r != WasmResult::Ok) return unexpected(r);
  return id;
}

}  // namespace

LogLevel getLogLevel() {
  uint32_t level = static_cast<uint32_t>(LogLevel::Info);
  if (proxy_get_log_level(&level) != WasmResult::Ok || level > abi::kMaxLogLevel) {
    return LogLevel::Info;
  }
  return static_cast<LogLevel>(level);
}

uint64_t getCurrentTimeNanoseconds() {
  uint64_t ns = 0;
  proxy_get_current_time_nanoseconds(&ns);
  return ns;
}

Result<Buffer> getBufferBytes(BufferType type, size_t start, size_t length) {
  char* data = nullptr;
  size_t size = 0;
  WasmResult r = proxy_get_buffer_bytes(u32(type), clampU32(start), clampU32(length), &data, &size);
  return bufferOrError(r, data, size);
}

Result<BufferStatus> getBufferStatus(BufferType type) {
  BufferStatus s;
  WasmResult r = proxy_get_buffer_status(u32(type), &s.size, &s.flags);
  if (r != WasmResult::Ok) return unexpected(r);
  return s;
}

Result<Buffer> getBuffer(BufferType type) {
  auto status = getBufferStatus(type);
  if (!status) return unexpected(status.error());
  if (status->size == 0) return Buffer();
  return getBufferBytes(type, 0, status->size);
}

WasmResult setBufferBytes(BufferType type, size_t start, size_t length, std::string_view data) {
  return proxy_set_buffer_bytes(u32(type), clampU32(start), clampU32(length), data.data(),
                                data.size());
}

Result<Buffer> getHeaderMapValue(MapType type, std::string_view key) {
  char* data = nullptr;
  size_t size = 0;
  return bufferOrError(proxy_get_header_map_value(u32(type), key.data(), key.size(), &data, &size),
                       data, size);
}

Result<Buffer> getHeaderMapPairs(MapType type) {
  char* data = nullptr;
  size_t size = 0;
  return bufferOrError(proxy_get_header_map_pairs(u32(type), &data, &size), data, size);
}

Result<HeaderList> getHeaderMap(MapType type) {
  auto buf = getHeaderMapPairs(type);
  if (!buf) return unexpected(buf.error());
  HeaderList out;
  for (auto& [k, v] : buf->pairs()) out.emplace_back(k, v);
  return out;
}

Result<size_t> getHeaderMapSize(MapType type) {
  size_t size = 0;
  WasmResult r = proxy_get_header_map_size(u32(type), &size);
  if (r != WasmResult::Ok) return unexpected(r);
  return size;
}

WasmResult setHeaderMapPairs(MapType type, const HeaderList& headers) {
  std::string encoded = abi::encodePairs(headers);
  return proxy_set_header_map_pairs(u32(type), encoded.data(), encoded.size());
}

WasmResult addHeaderMapValue(MapType type, std::string_view key, std::string_view value) {
  return proxy_add_header_map_value(u32(type), key.data(), key.size(), value.data(), value.size());
}

WasmResult replaceHeaderMapValue(MapType type, std::string_view key, std::string_view value) {
  return proxy_replace_header_map_value(u32(type), key.data(), key.size(), value.data(),
                                        value.size());
}

WasmResult removeHeaderMapValue(MapType type, std::string_view key) {
  return proxy_remove_header_map_value(u32(type), key.data(), key.size());
}

WasmResult continueStream(StreamType type) {
  return proxy_continue_stream(u32(type));
}
WasmResult closeStream(StreamType type) {
  return proxy_close_stream(u32(type));
}

WasmResult sendLocalResponse(uint32_t status, std::string_view body, const HeaderList& headers,
                             std::string_view details, GrpcStatus grpc_status) {
  std::string encoded = abi::encodePairs(headers);
  return proxy_send_local_response(status, details.data(), details.size(), body.data(), body.size(),
                                   encoded.data(), encoded.size(),
                                   static_cast<int32_t>(grpc_status));
}

Result<CallStatus> getStatus() {
  CallStatus s;
  char* data = nullptr;
  size_t size = 0;
  WasmResult r = proxy_get_status(&s.code, &data, &size);
  Buffer message(data, size);
  if (r != WasmResult::Ok) return unexpected(r);
  s.message = message.toString();
  return s;
}

WasmResult setEffectiveContext(uint32_t context_id) {
  return proxy_set_effective_context(context_id);
}
WasmResult done() {
  return proxy_done();
}
WasmResult setTickPeriodMilliseconds(uint32_t period_ms) {
  return proxy_set_tick_period_milliseconds(period_ms);
}

Result<uint32_t> dispatchHttpCall(std::string_view cluster, const HeaderList& headers,
                                  std::string_view body, const HeaderList& trailers,
                                  std::chrono::milliseconds timeout) {
  std::string h = abi::encodePairs(headers), t = abi::encodePairs(trailers);
  uint32_t token = 0;
  WasmResult r =
      proxy_http_call(cluster.data(), cluster.size(), h.data(), h.size(), body.data(), body.size(),
                      t.data(), t.size(), clampU32(static_cast<size_t>(timeout.count())), &token);
  return idOrError(r, token);
}

Result<uint32_t> dispatchGrpcCall(std::string_view service, std::string_view service_name,
                                  std::string_view method, const HeaderList& initial_metadata,
                                  std::string_view message, std::chrono::milliseconds timeout) {
  std::string md = abi::encodePairs(initial_metadata);
  uint32_t token = 0;
  WasmResult r =
      proxy_grpc_call(service.data(), service.size(), service_name.data(), service_name.size(),
                      method.data(), method.size(), md.data(), md.size(), message.data(),
                      message.size(), clampU32(static_cast<size_t>(timeout.count())), &token);
  return idOrError(r, token);
}

Result<uint32_t> openGrpcStream(std::string_view service, std::string_view service_name,
                                std::string_view method, const HeaderList& initial_metadata) {
  std::string md = abi::encodePairs(initial_metadata);
  uint32_t token = 0;
  WasmResult r =
      proxy_grpc_stream(service.data(), service.size(), service_name.data(), service_name.size(),
                        method.data(), method.size(), md.data(), md.size(), &token);
  return idOrError(r, token);
}

WasmResult grpcSend(uint32_t token, std::string_view message, bool end_of_stream) {
  return proxy_grpc_send(token, message.data(), message.size(), end_of_stream ? 1 : 0);
}
WasmResult grpcCancel(uint32_t token) {
  return proxy_grpc_cancel(token);
}
WasmResult grpcClose(uint32_t token) {
  return proxy_grpc_close(token);
}

Result<SharedData> getSharedData(std::string_view key) {
  char* data = nullptr;
  size_t size = 0;
  uint32_t cas = 0;
  WasmResult r = proxy_get_shared_data(key.data(), key.size(), &data, &size, &cas);
  Buffer value(data, size);
  if (r != WasmResult::Ok) return unexpected(r);
  return SharedData{std::move(value), cas};
}

WasmResult setSharedData(std::string_view key, std::string_view value, uint32_t cas) {
  return proxy_set_shared_data(key.data(), key.size(), value.data(), value.size(), cas);
}

Result<uint32_t> registerSharedQueue(std::string_view name) {
  uint32_t id = 0;
  return idOrError(proxy_register_shared_queue(name.data(), name.size(), &id), id);
}

Result<uint32_t> resolveSharedQueue(std::string_view vm_id, std::string_view name) {
  uint32_t id = 0;
  return idOrError(
      proxy_resolve_shared_queue(vm_id.data(), vm_id.size(), name.data(), name.size(), &id), id);
}

WasmResult enqueueSharedQueue(uint32_t queue_id, std::string_view data) {
  return proxy_enqueue_shared_queue(queue_id, data.data(), data.size());
}

Result<Buffer> dequeueSharedQueue(uint32_t queue_id) {
  char* data = nullptr;
  size_t size = 0;
  return bufferOrError(proxy_dequeue_shared_queue(queue_id, &data, &size), data, size);
}

Result<uint32_t> defineMetric(MetricType type, std::string_view name) {
  uint32_t id = 0;
  return idOrError(proxy_define_metric(static_cast<uint32_t>(type), name.data(), name.size(), &id),
                   id);
}
WasmResult incrementMetric(uint32_t metric_id, int64_t delta) {
  return proxy_increment_metric(metric_id, delta);
}
WasmResult recordMetric(uint32_t metric_id, uint64_t value) {
  return proxy_record_metric(metric_id, value);
}
Result<uint64_t> getMetric(uint32_t metric_id) {
  uint64_t value = 0;
  WasmResult r = proxy_get_metric(metric_id, &value);
  if (r != WasmResult::Ok) return unexpected(r);
  return value;
}

Result<Buffer> getProperty(PropertyPath path) {
  std::string encoded = abi::encodePropertyPath(path);
  char* data = nullptr;
  size_t size = 0;
  return bufferOrError(proxy_get_property(encoded.data(), encoded.size(), &data, &size), data,
                       size);
}

std::optional<std::string> getPropertyString(PropertyPath path) {
  auto v = getProperty(path);
  if (!v) return std::nullopt;
  return v->toString();
}

std::optional<int64_t> getPropertyInt64(PropertyPath path) {
  auto v = getProperty(path);
  if (!v) return std::nullopt;
  return abi::decodeInt64(v->view());
}

std::optional<bool> getPropertyBool(PropertyPath path) {
  auto v = getProperty(path);
  if (!v) return std::nullopt;
  return abi::decodeBool(v->view());
}

std::optional<HeaderList> getPropertyMap(PropertyPath path) {
  auto v = getProperty(path);
  if (!v) return std::nullopt;
  HeaderList out;
  for (auto& [k, val] : v->pairs()) out.emplace_back(k, val);
  return out;
}

WasmResult setProperty(PropertyPath path, std::string_view value) {
  std::string encoded = abi::encodePropertyPath(path);
  return proxy_set_property(encoded.data(), encoded.size(), value.data(), value.size());
}

Result<Buffer> callForeignFunction(std::string_view name, std::string_view arguments) {
  char* data = nullptr;
  size_t size = 0;
  return bufferOrError(proxy_call_foreign_function(name.data(), name.size(), arguments.data(),
                                                   arguments.size(), &data, &size),
                       data, size);
}

}  // namespace proxy_wasm
