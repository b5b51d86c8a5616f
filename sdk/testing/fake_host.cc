#include "fake_host.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/abi/property.h"

using namespace proxy_wasm;  // NOLINT

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Copies bytes into freshly malloc'ed memory, as a host does through the plugin's allocator.
WasmResult give(std::string_view bytes, char** data, size_t* size) {
  *data = nullptr;
  *size = bytes.size();
  if (bytes.empty()) return WasmResult::Ok;
  *data = static_cast<char*>(std::malloc(bytes.size()));
  std::memcpy(*data, bytes.data(), bytes.size());
  return WasmResult::Ok;
}

HeaderList decode(const char* data, size_t size) {
  HeaderViews views;
  abi::decodePairs(std::string_view(data, size), views);
  HeaderList out;
  for (auto& [k, v] : views) out.emplace_back(lower(k), std::string(v));
  return out;
}

HeaderList lowered(HeaderList headers) {
  for (auto& [k, v] : headers) k = lower(k);
  return headers;
}

}  // namespace

namespace proxy_wasm::testing {

FakeHost& FakeHost::instance() {
  static FakeHost host;
  return host;
}

template <class F>
auto FakeHost::enter(uint32_t context, F&& f) {
  uint32_t saved_current = current_, saved_effective = effective_;
  current_ = context;
  effective_ = 0;
  struct Restore {
    FakeHost* h;
    uint32_t c, e;
    ~Restore() {
      h->current_ = c;
      h->effective_ = e;
    }
  } restore{this, saved_current, saved_effective};
  return f();
}

HeaderList* FakeHost::map(uint32_t type) {
  auto it = streams_.find(current());
  switch (static_cast<MapType>(type)) {
    case MapType::HttpRequestHeaders:
      return it == streams_.end() ? nullptr : &it->second.request_headers;
    case MapType::HttpRequestTrailers:
      return it == streams_.end() ? nullptr : &it->second.request_trailers;
    case MapType::HttpResponseHeaders:
      return it == streams_.end() ? nullptr : &it->second.response_headers;
    case MapType::HttpResponseTrailers:
      return it == streams_.end() ? nullptr : &it->second.response_trailers;
    case MapType::HttpCallResponseHeaders:
    case MapType::GrpcReceiveInitialMetadata:
      return &call_headers_;
    case MapType::HttpCallResponseTrailers:
    case MapType::GrpcReceiveTrailingMetadata:
      return &call_trailers_;
  }
  return nullptr;
}

std::string* FakeHost::buffer(uint32_t type) {
  auto it = streams_.find(current());
  switch (static_cast<BufferType>(type)) {
    case BufferType::HttpRequestBody:
      return it == streams_.end() ? nullptr : &it->second.request_body;
    case BufferType::HttpResponseBody:
      return it == streams_.end() ? nullptr : &it->second.response_body;
    case BufferType::HttpCallResponseBody:
      return &call_body_;
    case BufferType::GrpcReceiveBuffer:
      return &grpc_message_;
    case BufferType::VmConfiguration:
      return &vm_configuration_;
    case BufferType::PluginConfiguration: {
      auto r = roots_.find(current());
      return r == roots_.end() || !r->second.in_configure ? nullptr : &r->second.configuration;
    }
    default:
      return nullptr;
  }
}

std::optional<uint32_t> FakeHost::startPlugin(std::string_view plugin_configuration,
                                              std::string_view root_id,
                                              std::string_view vm_configuration) {
  uint32_t id = next_context_++;
  roots_[id].configuration = std::string(plugin_configuration);
  vm_configuration_ = std::string(vm_configuration);
  properties_[abi::encodePropertyPath({"plugin_root_id"})] = std::string(root_id);
  enter(id, [&] { proxy_on_context_create(id, 0); });
  if (enter(id, [&] { return proxy_on_vm_start(id, vm_configuration_.size()); }) == 0) {
    return std::nullopt;
  }
  roots_[id].in_configure = true;
  uint32_t ok = enter(id, [&] { return proxy_on_configure(id, roots_[id].configuration.size()); });
  roots_[id].in_configure = false;
  if (ok == 0) return std::nullopt;
  return id;
}

void FakeHost::stopPlugin(uint32_t root) {
  if (enter(root, [&] { return proxy_on_done(root); }) != 0) {
    enter(root, [&] { proxy_on_delete(root); });
  }
  roots_.erase(root);
}

uint32_t FakeHost::createStream(uint32_t root) {
  uint32_t id = next_context_++;
  streams_[id].root_id = root;
  enter(id, [&] { proxy_on_context_create(id, root); });
  return id;
}

FilterHeadersStatus FakeHost::sendRequestHeaders(uint32_t s, HeaderList headers, bool eos) {
  streams_[s].request_headers = lowered(std::move(headers));
  auto n = static_cast<uint32_t>(streams_[s].request_headers.size());
  return static_cast<FilterHeadersStatus>(
      enter(s, [&] { return proxy_on_request_headers(s, n, eos ? 1 : 0); }));
}

FilterDataStatus FakeHost::sendRequestBody(uint32_t s, std::string_view chunk, bool eos) {
  streams_[s].request_body += chunk;
  auto n = static_cast<uint32_t>(streams_[s].request_body.size());
  return static_cast<FilterDataStatus>(
      enter(s, [&] { return proxy_on_request_body(s, n, eos ? 1 : 0); }));
}

FilterTrailersStatus FakeHost::sendRequestTrailers(uint32_t s, HeaderList trailers) {
  streams_[s].request_trailers = lowered(std::move(trailers));
  auto n = static_cast<uint32_t>(streams_[s].request_trailers.size());
  return static_cast<FilterTrailersStatus>(
      enter(s, [&] { return proxy_on_request_trailers(s, n); }));
}

FilterHeadersStatus FakeHost::sendResponseHeaders(uint32_t s, HeaderList headers, bool eos) {
  streams_[s].response_headers = lowered(std::move(headers));
  auto n = static_cast<uint32_t>(streams_[s].response_headers.size());
  return static_cast<FilterHeadersStatus>(
      enter(s, [&] { return proxy_on_response_headers(s, n, eos ? 1 : 0); }));
}

FilterDataStatus FakeHost::sendResponseBody(uint32_t s, std::string_view chunk, bool eos) {
  streams_[s].response_body += chunk;
  auto n = static_cast<uint32_t>(streams_[s].response_body.size());
  return static_cast<FilterDataStatus>(
      enter(s, [&] { return proxy_on_response_body(s, n, eos ? 1 : 0); }));
}

FilterTrailersStatus FakeHost::sendResponseTrailers(uint32_t s, HeaderList trailers) {
  streams_[s].response_trailers = lowered(std::move(trailers));
  auto n = static_cast<uint32_t>(streams_[s].response_trailers.size());
  return static_cast<FilterTrailersStatus>(
      enter(s, [&] { return proxy_on_response_trailers(s, n); }));
}

void FakeHost::completeStream(uint32_t s) {
  enter(s, [&] { proxy_on_log(s); });
  enter(s, [&] { proxy_on_done(s); });
  enter(s, [&] { proxy_on_delete(s); });
}

void FakeHost::advanceTime(uint64_t ns) {
  uint64_t target = now_ns_ + ns;
  for (;;) {
    uint32_t due = 0;
    uint64_t when = target + 1;
    for (auto& [id, r] : roots_) {
      if (r.tick_ms != 0 && r.next_tick_ns <= target && r.next_tick_ns < when) {
        due = id;
        when = r.next_tick_ns;
      }
    }
    if (due == 0) break;
    now_ns_ = std::max(now_ns_, when);
    roots_[due].next_tick_ns = now_ns_ + uint64_t{roots_[due].tick_ms} * 1'000'000;
    enter(due, [&] { proxy_on_tick(due); });
  }
  now_ns_ = target;
}

void FakeHost::respondHttpCall(uint32_t token, HeaderList headers, std::string_view body,
                               HeaderList trailers) {
  auto it = std::find_if(http_calls_.begin(), http_calls_.end(),
                         [&](const HttpCall& c) { return c.token == token; });
  if (it == http_calls_.end()) return;
  uint32_t root = it->root_id;
  call_headers_ = lowered(std::move(headers));
  call_trailers_ = lowered(std::move(trailers));
  call_body_ = std::string(body);
  if (call_headers_.empty())
    last_status_ = {static_cast<uint32_t>(WasmResult::BrokenConnection), "reset"};
  enter(root, [&] {
    proxy_on_http_call_response(root, token, static_cast<uint32_t>(call_headers_.size()),
                                static_cast<uint32_t>(call_body_.size()),
                                static_cast<uint32_t>(call_trailers_.size()));
  });
  call_headers_.clear();
  call_trailers_.clear();
  call_body_.clear();
}

void FakeHost::respondGrpcCall(uint32_t token, GrpcStatus status, std::string_view message) {
  auto it = std::find_if(grpc_calls_.begin(), grpc_calls_.end(),
                         [&](const GrpcCall& c) { return c.token == token; });
  if (it == grpc_calls_.end()) return;
  uint32_t root = it->root_id;
  if (status == GrpcStatus::Ok) {
    grpc_message_ = std::string(message);
    enter(root,
          [&] { proxy_on_grpc_receive(root, token, static_cast<uint32_t>(grpc_message_.size())); });
    grpc_message_.clear();
  } else {
    last_status_ = {static_cast<uint32_t>(status), std::string(message)};
    enter(root, [&] { proxy_on_grpc_close(root, token, static_cast<uint32_t>(status)); });
  }
}

bool FakeHost::logged(std::string_view needle) const {
  return std::any_of(logs_.begin(), logs_.end(),
                     [&](const auto& l) { return l.second.find(needle) != std::string::npos; });
}

std::optional<uint64_t> FakeHost::metric(std::string_view name) const {
  for (auto& [id, m] : metrics_) {
    if (m.name == name) return m.value;
  }
  return std::nullopt;
}

}  // namespace proxy_wasm::testing

// ---- hostcalls ---------------------------------------------------------------------------------

using proxy_wasm::testing::FakeHost;

namespace {
FakeHost& H() {
  return FakeHost::instance();
}

std::string_view sv(const char* p, size_t n) {
  return {p == nullptr ? "" : p, n};
}
}  // namespace

extern "C" {

WasmResult proxy_log(uint32_t level, const char* message, size_t size) {
  if (level > abi::kMaxLogLevel) return WasmResult::BadArgument;
  H().logs_.emplace_back(static_cast<LogLevel>(level), std::string(sv(message, size)));
  return WasmResult::Ok;
}
WasmResult proxy_get_log_level(uint32_t* level) {
  *level = static_cast<uint32_t>(LogLevel::Trace);
  return WasmResult::Ok;
}
WasmResult proxy_get_current_time_nanoseconds(uint64_t* ns) {
  *ns = H().now_ns_;
  return WasmResult::Ok;
}
WasmResult proxy_set_tick_period_milliseconds(uint32_t period_ms) {
  uint32_t ctx = H().current();
  auto s = H().streams_.find(ctx);
  uint32_t root = s == H().streams_.end() ? ctx : s->second.root_id;
  auto& r = H().roots_[root];
  r.tick_ms = period_ms;
  r.next_tick_ns = H().now_ns_ + uint64_t{period_ms} * 1'000'000;
  return WasmResult::Ok;
}
WasmResult proxy_done() {
  return WasmResult::Ok;
}
WasmResult proxy_set_effective_context(uint32_t id) {
  if (H().streams_.count(id) == 0 && H().roots_.count(id) == 0) return WasmResult::BadArgument;
  H().effective_ = id;
  return WasmResult::Ok;
}

WasmResult proxy_get_buffer_bytes(uint32_t type, uint32_t start, uint32_t max_size, char** data,
                                  size_t* size) {
  if (type > abi::kMaxBufferType) return WasmResult::BadArgument;
  std::string* b = H().buffer(type);
  if (b == nullptr) return WasmResult::NotFound;
  if (start > b->size()) return give({}, data, size);
  return give(std::string_view(*b).substr(start, max_size), data, size);
}
WasmResult proxy_get_buffer_status(uint32_t type, size_t* size, uint32_t* flags) {
  if (type > abi::kMaxBufferType) return WasmResult::BadArgument;
  std::string* b = H().buffer(type);
  if (b == nullptr) return WasmResult::NotFound;
  *size = b->size();
  *flags = 0;
  return WasmResult::Ok;
}
WasmResult proxy_set_buffer_bytes(uint32_t type, uint32_t start, uint32_t length, const char* data,
                                  size_t data_size) {
  if (type > abi::kMaxBufferType) return WasmResult::BadArgument;
  auto t = static_cast<BufferType>(type);
  if (t != BufferType::HttpRequestBody && t != BufferType::HttpResponseBody) {
    return WasmResult::BadArgument;
  }
  std::string* b = H().buffer(type);
  if (b == nullptr) return WasmResult::NotFound;
  if (start == 0) {
    b->erase(0, length);
    b->insert(0, sv(data, data_size));
  } else if (start >= b->size()) {
    b->append(sv(data, data_size));
  } else {
    return WasmResult::BadArgument;
  }
  return WasmResult::Ok;
}

WasmResult proxy_get_header_map_size(uint32_t type, size_t* size) {
  if (type > abi::kMaxMapType) return WasmResult::BadArgument;
  HeaderList* m = H().map(type);
  if (m == nullptr) return WasmResult::NotFound;
  size_t bytes = 0;
  for (auto& [k, v] : *m) bytes += k.size() + v.size();
  *size = bytes;
  return WasmResult::Ok;
}
WasmResult proxy_get_header_map_pairs(uint32_t type, char** data, size_t* size) {
  if (type > abi::kMaxMapType) return WasmResult::BadArgument;
  HeaderList* m = H().map(type);
  if (m == nullptr) return give({}, data, size);
  return give(abi::encodePairs(*m), data, size);
}
WasmResult proxy_set_header_map_pairs(uint32_t type, const char* data, size_t size) {
  if (type > abi::kMaxMapType) return WasmResult::BadArgument;
  HeaderList* m = H().map(type);
  if (m == nullptr) return WasmResult::BadArgument;
  *m = decode(data, size);
  return WasmResult::Ok;
}
WasmResult proxy_get_header_map_value(uint32_t type, const char* key, size_t key_size, char** value,
                                      size_t* value_size) {
  if (type > abi::kMaxMapType) return WasmResult::BadArgument;
  HeaderList* m = H().map(type);
  if (m == nullptr) return WasmResult::BadArgument;
  std::string k = lower(sv(key, key_size));
  for (auto& [name, v] : *m) {
    if (name == k) return give(v, value, value_size);
  }
  return WasmResult::NotFound;
}
WasmResult proxy_add_header_map_value(uint32_t type, const char* key, size_t key_size,
                                      const char* value, size_t value_size) {
  if (type > abi::kMaxMapType) return WasmResult::BadArgument;
  HeaderList* m = H().map(type);
  if (m == nullptr) return WasmResult::BadArgument;
  std::string k = lower(sv(key, key_size));
  m->emplace_back(std::move(k), std::string(sv(value, value_size)));
  return WasmResult::Ok;
}
WasmResult proxy_remove_header_map_value(uint32_t type, const char* key, size_t key_size) {
  if (type > abi::kMaxMapType) return WasmResult::BadArgument;
  HeaderList* m = H().map(type);
  if (m == nullptr) return WasmResult::BadArgument;
  std::string k = lower(sv(key, key_size));
  m->erase(std::remove_if(m->begin(), m->end(), [&](auto& p) { return p.first == k; }), m->end());
  return WasmResult::Ok;
}
WasmResult proxy_replace_header_map_value(uint32_t type, const char* key, size_t key_size,
                                          const char* value, size_t value_size) {
  WasmResult r = proxy_remove_header_map_value(type, key, key_size);
  if (r != WasmResult::Ok) return r;
  return proxy_add_header_map_value(type, key, key_size, value, value_size);
}

WasmResult proxy_continue_stream(uint32_t type) {
  if (type > abi::kMaxStreamType) return WasmResult::BadArgument;
  auto it = H().streams_.find(H().current());
  if (it == H().streams_.end()) return WasmResult::NotFound;
  (type == 0 ? it->second.request_continued : it->second.response_continued) = true;
  return WasmResult::Ok;
}
WasmResult proxy_close_stream(uint32_t type) {
  if (type > abi::kMaxStreamType) return WasmResult::BadArgument;
  auto it = H().streams_.find(H().current());
  if (it == H().streams_.end()) return WasmResult::NotFound;
  it->second.closed = true;
  return WasmResult::Ok;
}
WasmResult proxy_send_local_response(uint32_t status, const char* details, size_t details_size,
                                     const char* body, size_t body_size, const char* headers,
                                     size_t headers_size, int32_t grpc_status) {
  auto it = H().streams_.find(H().current());
  if (it == H().streams_.end()) return WasmResult::Ok;  // Envoy: a no-op on a root context
  it->second.local_reply = proxy_wasm::testing::LocalReply{
      status, std::string(sv(body, body_size)), decode(headers, headers_size),
      std::string(sv(details, details_size)), grpc_status};
  return WasmResult::Ok;
}
WasmResult proxy_get_status(uint32_t* code, char** message, size_t* size) {
  *code = H().last_status_.code;
  return give(H().last_status_.message, message, size);
}

WasmResult proxy_http_call(const char* upstream, size_t upstream_size, const char* headers,
                           size_t headers_size, const char* body, size_t body_size,
                           const char* trailers, size_t trailers_size, uint32_t timeout_ms,
                           uint32_t* token) {
  proxy_wasm::testing::HttpCall call;
  call.cluster = std::string(sv(upstream, upstream_size));
  call.headers = decode(headers, headers_size);
  call.body = std::string(sv(body, body_size));
  call.trailers = decode(trailers, trailers_size);
  call.timeout_ms = timeout_ms;
  auto has = [&](std::string_view k) {
    return std::any_of(call.headers.begin(), call.headers.end(),
                       [&](auto& p) { return p.first == k; });
  };
  if (call.cluster.empty() || !has(":method") || !has(":path") || !has(":authority")) {
    return WasmResult::BadArgument;
  }
  uint32_t ctx = H().current();
  auto s = H().streams_.find(ctx);
  call.root_id = s == H().streams_.end() ? ctx : s->second.root_id;
  H().next_callout_ += 4;
  call.token = H().next_callout_;
  *token = call.token;
  H().http_calls_.push_back(std::move(call));
  return WasmResult::Ok;
}

WasmResult proxy_grpc_call(const char* service, size_t service_size, const char* service_name,
                           size_t service_name_size, const char* method, size_t method_size,
                           const char* md, size_t md_size, const char* message, size_t message_size,
                           uint32_t timeout_ms, uint32_t* token) {
  proxy_wasm::testing::GrpcCall call;
  call.service = std::string(sv(service, service_size));
  call.service_name = std::string(sv(service_name, service_name_size));
  call.method = std::string(sv(method, method_size));
  call.initial_metadata = decode(md, md_size);
  call.message = std::string(sv(message, message_size));
  call.timeout_ms = timeout_ms;
  uint32_t ctx = H().current();
  auto s = H().streams_.find(ctx);
  call.root_id = s == H().streams_.end() ? ctx : s->second.root_id;
  H().next_callout_ += 4;
  call.token = H().next_callout_ + abi::kGrpcCallIdTag;
  *token = call.token;
  H().grpc_calls_.push_back(std::move(call));
  return WasmResult::Ok;
}
WasmResult proxy_grpc_stream(const char*, size_t, const char*, size_t, const char*, size_t,
                             const char*, size_t, uint32_t* token) {
  H().next_callout_ += 4;
  *token = H().next_callout_ + abi::kGrpcStreamIdTag;
  return WasmResult::Ok;
}
WasmResult proxy_grpc_send(uint32_t token, const char*, size_t, uint32_t) {
  return token % 4 == abi::kGrpcStreamIdTag ? WasmResult::Ok : WasmResult::BadArgument;
}
WasmResult proxy_grpc_cancel(uint32_t) {
  return WasmResult::Ok;
}
WasmResult proxy_grpc_close(uint32_t) {
  return WasmResult::Ok;
}

WasmResult proxy_get_shared_data(const char* key, size_t key_size, char** value, size_t* size,
                                 uint32_t* cas) {
  auto it = H().shared_data_.find(std::string(sv(key, key_size)));
  if (it == H().shared_data_.end()) return WasmResult::NotFound;
  *cas = it->second.second;
  return give(it->second.first, value, size);
}
WasmResult proxy_set_shared_data(const char* key, size_t key_size, const char* value,
                                 size_t value_size, uint32_t cas) {
  std::string k(sv(key, key_size));
  auto it = H().shared_data_.find(k);
  if (cas != 0 && it != H().shared_data_.end() && it->second.second != cas) {
    return WasmResult::CasMismatch;
  }
  uint32_t next = H().next_cas_++;
  if (H().next_cas_ == 0) H().next_cas_ = 1;
  H().shared_data_[k] = {std::string(sv(value, value_size)), next};
  return WasmResult::Ok;
}
WasmResult proxy_register_shared_queue(const char* name, size_t name_size, uint32_t* id) {
  std::string n(sv(name, name_size));
  for (auto& [qid, q] : H().queues_) {
    if (q.first == n) {
      *id = qid;
      H().queue_owner_[qid] = H().current();
      return WasmResult::Ok;
    }
  }
  *id = H().next_queue_++;
  H().queues_[*id].first = n;
  H().queue_owner_[*id] = H().current();
  return WasmResult::Ok;
}
WasmResult proxy_resolve_shared_queue(const char*, size_t, const char* name, size_t name_size,
                                      uint32_t* id) {
  std::string n(sv(name, name_size));
  for (auto& [qid, q] : H().queues_) {
    if (q.first == n) {
      *id = qid;
      return WasmResult::Ok;
    }
  }
  return WasmResult::NotFound;
}
WasmResult proxy_enqueue_shared_queue(uint32_t id, const char* data, size_t size) {
  auto it = H().queues_.find(id);
  if (it == H().queues_.end()) return WasmResult::NotFound;
  it->second.second.emplace_back(sv(data, size));
  return WasmResult::Ok;
}
WasmResult proxy_dequeue_shared_queue(uint32_t id, char** data, size_t* size) {
  auto it = H().queues_.find(id);
  if (it == H().queues_.end()) return WasmResult::NotFound;
  if (it->second.second.empty()) return WasmResult::Empty;
  std::string front = std::move(it->second.second.front());
  it->second.second.pop_front();
  return give(front, data, size);
}

WasmResult proxy_define_metric(uint32_t type, const char* name, size_t name_size, uint32_t* id) {
  if (type > abi::kMaxMetricType) return WasmResult::BadArgument;
  std::string n(sv(name, name_size));
  for (auto& [mid, m] : H().metrics_) {
    if (m.name == n && static_cast<uint32_t>(m.type) == type) {
      *id = mid;
      return WasmResult::Ok;
    }
  }
  H().next_metric_ += 4;
  *id = H().next_metric_ + type;
  H().metrics_[*id] = {static_cast<MetricType>(type), n, 0};
  return WasmResult::Ok;
}
WasmResult proxy_increment_metric(uint32_t id, int64_t delta) {
  auto it = H().metrics_.find(id);
  if (it == H().metrics_.end()) return WasmResult::NotFound;
  auto& m = it->second;
  if (m.type == MetricType::Histogram) return WasmResult::BadArgument;
  if (m.type == MetricType::Counter && delta <= 0) return WasmResult::BadArgument;
  m.value = static_cast<uint64_t>(static_cast<int64_t>(m.value) + delta);
  return WasmResult::Ok;
}
WasmResult proxy_record_metric(uint32_t id, uint64_t value) {
  auto it = H().metrics_.find(id);
  if (it == H().metrics_.end()) return WasmResult::NotFound;
  auto& m = it->second;
  if (m.type == MetricType::Counter) {
    m.value += value;
  } else {
    m.value = value;  // gauge: set; histogram: last sample
  }
  return WasmResult::Ok;
}
WasmResult proxy_get_metric(uint32_t id, uint64_t* value) {
  auto it = H().metrics_.find(id);
  if (it == H().metrics_.end()) return WasmResult::NotFound;
  if (it->second.type == MetricType::Histogram) return WasmResult::BadArgument;
  *value = it->second.value;
  return WasmResult::Ok;
}

WasmResult proxy_get_property(const char* path, size_t path_size, char** value, size_t* size) {
  std::string p(sv(path, path_size));
  if (!p.empty() && p.back() == '\0') p.pop_back();
  auto s = H().streams_.find(H().current());
  if (s != H().streams_.end()) {
    auto fs = s->second.filter_state.find(p);
    if (fs != s->second.filter_state.end()) return give(fs->second, value, size);
  }
  auto it = H().properties_.find(p);
  if (it == H().properties_.end()) return WasmResult::NotFound;
  return give(it->second, value, size);
}
WasmResult proxy_set_property(const char* path, size_t path_size, const char* value,
                              size_t value_size) {
  auto s = H().streams_.find(H().current());
  if (s == H().streams_.end()) return WasmResult::NotFound;
  std::string p(sv(path, path_size));
  if (!p.empty() && p.back() == '\0') p.pop_back();
  s->second.filter_state[p] = std::string(sv(value, value_size));
  return WasmResult::Ok;
}
WasmResult proxy_call_foreign_function(const char*, size_t, const char*, size_t, char**, size_t*) {
  return WasmResult::NotFound;
}

}  // extern "C"
