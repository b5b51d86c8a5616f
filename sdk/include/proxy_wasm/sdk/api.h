// Typed wrappers over every proxy-wasm 0.2.1 hostcall. Each returns a WasmResult or an
// Expected<T, WasmResult>; none aborts on an error status, and NotFound is an ordinary result.
//
// Rule for plugin authors: hosts forbid every hostcall except logging, time and randomness while
// the module initialises (static constructors) and inside the allocator. Keep global objects free
// of hostcalls; do the work in RootContext::onStart or onConfigure. The SDK's own globals obey
// this.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "proxy_wasm/abi/enums.h"
#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/abi/property.h"
#include "proxy_wasm/sdk/expected.h"
#include "proxy_wasm/sdk/hostcalls.h"

namespace proxy_wasm {

using abi::BufferType;
using abi::FilterDataStatus;
using abi::FilterHeadersStatus;
using abi::FilterMetadataStatus;
using abi::FilterStatus;
using abi::FilterTrailersStatus;
using abi::GrpcStatus;
using abi::LogLevel;
using abi::MapType;
using abi::MetricType;
using abi::PeerType;
using abi::StreamType;
using abi::WasmResult;

template <class T>
using Result = Expected<T, WasmResult>;

// An owning list of header (or metadata) entries, in order, duplicates allowed.
using HeaderList = std::vector<std::pair<std::string, std::string>>;
// A non-owning list of entries; views into a Buffer or into caller strings.
using HeaderViews = std::vector<abi::PairView>;

// Bytes the host allocated in the plugin's memory and handed over; freed on destruction.
class Buffer {
 public:
  Buffer() = default;
  Buffer(char* data, size_t size) : data_(data), size_(size) {}
  Buffer(Buffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      std::free(data_);
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(data_); }

  std::string_view view() const { return {data_ == nullptr ? "" : data_, size_}; }
  std::string toString() const { return std::string(view()); }
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Decodes the buffer as serialized pairs; malformed input gives an empty list.
  HeaderViews pairs() const {
    HeaderViews out;
    abi::decodePairs(view(), out);
    return out;
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

// ---- formatting and logging -------------------------------------------------------------------

namespace detail {
template <class T>
void appendOne(std::string& out, const T& v) {
  if constexpr (std::is_same_v<T, bool>) {
    out += v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, char>) {
    out.push_back(v);
  } else if constexpr (std::is_same_v<T, WasmResult>) {
    out += abi::toString(v);  // "CasMismatch", not 8
  } else if constexpr (std::is_integral_v<T> || std::is_enum_v<T>) {
    char buf[24];
    if constexpr (std::is_enum_v<T>) {
      auto r = std::to_chars(buf, buf + sizeof buf, static_cast<std::underlying_type_t<T>>(v));
      out.append(buf, r.ptr);
    } else {
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      out.append(buf, r.ptr);
    }
  } else {
    out += std::string_view(v);
  }
}
}  // namespace detail

// Concatenates strings, string views, characters, integers, WasmResults (by name), other enums
// (as numbers) and bools.
template <class... Args>
std::string strCat(const Args&... args) {
  std::string out;
  (detail::appendOne(out, args), ...);
  return out;
}

inline WasmResult log(LogLevel level, std::string_view message) {
  return proxy_log(static_cast<uint32_t>(level), message.data(), message.size());
}
LogLevel getLogLevel();
template <class... A>
void logTrace(const A&... a) {
  log(LogLevel::Trace, strCat(a...));
}
template <class... A>
void logDebug(const A&... a) {
  log(LogLevel::Debug, strCat(a...));
}
template <class... A>
void logInfo(const A&... a) {
  log(LogLevel::Info, strCat(a...));
}
template <class... A>
void logWarn(const A&... a) {
  log(LogLevel::Warn, strCat(a...));
}
template <class... A>
void logError(const A&... a) {
  log(LogLevel::Error, strCat(a...));
}
template <class... A>
void logCritical(const A&... a) {
  log(LogLevel::Critical, strCat(a...));
}

// ---- time --------------------------------------------------------------------------------------

uint64_t getCurrentTimeNanoseconds();

// ---- buffers -----------------------------------------------------------------------------------

struct BufferStatus {
  size_t size = 0;
  uint32_t flags = 0;
};
Result<Buffer> getBufferBytes(BufferType type, size_t start, size_t length);
// The whole buffer (start 0, its current size).
Result<Buffer> getBuffer(BufferType type);
Result<BufferStatus> getBufferStatus(BufferType type);
// Replaces `length` bytes at `start` with `data`. Hosts like Envoy support start == 0 (replace the
// first `length` bytes, so (0, size) replaces all) and start >= size (append).
[[nodiscard]] WasmResult setBufferBytes(BufferType type, size_t start, size_t length,
                                        std::string_view data);

// ---- header maps -------------------------------------------------------------------------------

Result<Buffer> getHeaderMapValue(MapType type, std::string_view key);
Result<Buffer> getHeaderMapPairs(MapType type);
Result<HeaderList> getHeaderMap(MapType type);
Result<size_t> getHeaderMapSize(MapType type);
[[nodiscard]] WasmResult setHeaderMapPairs(MapType type, const HeaderList& headers);
[[nodiscard]] WasmResult addHeaderMapValue(MapType type, std::string_view key,
                                           std::string_view value);
[[nodiscard]] WasmResult replaceHeaderMapValue(MapType type, std::string_view key,
                                               std::string_view value);
[[nodiscard]] WasmResult removeHeaderMapValue(MapType type, std::string_view key);

// ---- stream control ----------------------------------------------------------------------------

WasmResult continueStream(StreamType type);
WasmResult closeStream(StreamType type);
// Answers the current stream locally. `headers` are added to the reply; `details` is Envoy's
// response-code details (whitespace is not allowed there; hosts replace it).
WasmResult sendLocalResponse(uint32_t status, std::string_view body, const HeaderList& headers = {},
                             std::string_view details = {},
                             GrpcStatus grpc_status = GrpcStatus::InvalidCode);

// Status of the last callout of the current root (gRPC status + message, or 11 "reset" for HTTP).
struct CallStatus {
  uint32_t code = 0;
  std::string message;
};
Result<CallStatus> getStatus();

WasmResult setEffectiveContext(uint32_t context_id);
WasmResult done();
WasmResult setTickPeriodMilliseconds(uint32_t period_ms);

// ---- callouts (raw; RootContext and HttpContext offer callback-based forms) --------------------

Result<uint32_t> dispatchHttpCall(std::string_view cluster, const HeaderList& headers,
                                  std::string_view body, const HeaderList& trailers,
                                  std::chrono::milliseconds timeout);
Result<uint32_t> dispatchGrpcCall(std::string_view service, std::string_view service_name,
                                  std::string_view method, const HeaderList& initial_metadata,
                                  std::string_view message, std::chrono::milliseconds timeout);
Result<uint32_t> openGrpcStream(std::string_view service, std::string_view service_name,
                                std::string_view method, const HeaderList& initial_metadata);
[[nodiscard]] WasmResult grpcSend(uint32_t token, std::string_view message, bool end_of_stream);
WasmResult grpcCancel(uint32_t token);
WasmResult grpcClose(uint32_t token);

// ---- shared data and queues --------------------------------------------------------------------

struct SharedData {
  Buffer value;
  uint32_t cas = 0;
};
Result<SharedData> getSharedData(std::string_view key);
// cas == 0 writes unconditionally; otherwise CasMismatch unless the stored cas still equals it.
[[nodiscard]] WasmResult setSharedData(std::string_view key, std::string_view value,
                                       uint32_t cas = 0);

Result<uint32_t> registerSharedQueue(std::string_view name);
Result<uint32_t> resolveSharedQueue(std::string_view vm_id, std::string_view name);
[[nodiscard]] WasmResult enqueueSharedQueue(uint32_t queue_id, std::string_view data);
// Empty when the queue holds nothing.
Result<Buffer> dequeueSharedQueue(uint32_t queue_id);

// ---- metrics (raw; see metrics.h for Counter/Gauge/Histogram) ----------------------------------

Result<uint32_t> defineMetric(MetricType type, std::string_view name);
WasmResult incrementMetric(uint32_t metric_id, int64_t delta);
WasmResult recordMetric(uint32_t metric_id, uint64_t value);
Result<uint64_t> getMetric(uint32_t metric_id);

// ---- properties --------------------------------------------------------------------------------

// A property path such as {"request", "headers", "x-id"} or {"metadata", "filter_metadata", "ns",
// "key"} (dynamic metadata) or {"node", "id"}.
using PropertyPath = std::initializer_list<std::string_view>;
Result<Buffer> getProperty(PropertyPath path);
std::optional<std::string> getPropertyString(PropertyPath path);
std::optional<int64_t> getPropertyInt64(PropertyPath path);
std::optional<bool> getPropertyBool(PropertyPath path);
std::optional<HeaderList> getPropertyMap(PropertyPath path);
// Envoy stores the bytes as filter state readable back under the same path.
[[nodiscard]] WasmResult setProperty(PropertyPath path, std::string_view value);

// ---- foreign functions -------------------------------------------------------------------------

Result<Buffer> callForeignFunction(std::string_view name, std::string_view arguments);

}  // namespace proxy_wasm
