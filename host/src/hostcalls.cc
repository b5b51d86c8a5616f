// Every hostcall: validation of enums and of every pointer/length against the plugin's memory
// (InvalidMemoryAccess, never a host crash), then the action on the current (or effective)
// context. Statuses follow the reference host so that SDKs that trap on unexpected statuses (Rust)
// keep working.
#include "hostcalls.h"

#include <openssl/rand.h>

#include <cstring>

#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/host/shared_state.h"
#include "proxy_wasm/host/vm.h"

namespace proxy_wasm::host {

namespace errno_ = abi::wasi_errno;

// Friend of Vm: the implementations reach its internals.
struct Hostcalls {
  using ProxyImpl = WasmResult (*)(Vm&, const uint64_t*);
  using WasiImpl = uint32_t (*)(Vm&, const uint64_t*);

  template <ProxyImpl F, bool kAllowedInRestricted = false>
  static bool proxy(void* user, const uint64_t* a, uint64_t* r) {
    Vm& vm = *static_cast<Vm*>(user);
    if (!kAllowedInRestricted && vm.restricted_)
      return restricted(vm, &proxy<F, kAllowedInRestricted>);
    r[0] = static_cast<uint32_t>(F(vm, a));
    return vm.aborted_reason_.empty();
  }

  template <WasiImpl F, bool kAllowedInRestricted = false>
  static bool wasi(void* user, const uint64_t* a, uint64_t* r) {
    Vm& vm = *static_cast<Vm*>(user);
    if (!kAllowedInRestricted && vm.restricted_)
      return restricted(vm, &wasi<F, kAllowedInRestricted>);
    r[0] = F(vm, a);
    return vm.aborted_reason_.empty();
  }

  static bool restricted(Vm& vm, HostFunction self) {
    const HostcallDef* def = findHostcallByFunction(self);
    vm.aborted_reason_ = std::string("hostcall ") + (def != nullptr ? def->name : "?") +
                         " is not allowed " +
                         (vm.depth_ > 1 || vm.current_callback_ == "malloc"
                              ? "inside the allocator"
                              : "during module initialisation (static constructors)") +
                         " (called from " + std::string(vm.current_callback_) + ")";
    return false;
  }

  static uint32_t u32(uint64_t v) { return static_cast<uint32_t>(v); }

  // ---- helpers over the current context ----

  struct MapRef {
    HeaderMap* writable = nullptr;
    const std::vector<std::pair<std::string, std::string>>* readonly = nullptr;
    bool available() const { return writable != nullptr || readonly != nullptr; }
  };

  static MapRef mapOf(Vm& vm, uint32_t type) {
    MapRef ref;
    switch (static_cast<MapType>(type)) {
      case MapType::HttpRequestHeaders:
      case MapType::HttpRequestTrailers:
      case MapType::HttpResponseHeaders:
      case MapType::HttpResponseTrailers: {
        Vm::Context* c = vm.currentContext();
        if (c != nullptr && c->stream != nullptr) {
          ref.writable = c->stream->headers(static_cast<MapType>(type));
        }
        break;
      }
      case MapType::GrpcReceiveInitialMetadata:
      case MapType::HttpCallResponseHeaders:
        if (vm.callout_response_ != nullptr) ref.readonly = &vm.callout_response_->headers;
        break;
      case MapType::GrpcReceiveTrailingMetadata:
      case MapType::HttpCallResponseTrailers:
        if (vm.callout_response_ != nullptr) ref.readonly = &vm.callout_response_->trailers;
        break;
    }
    return ref;
  }

  static void forEach(const MapRef& m,
                      const std::function<void(std::string_view, std::string_view)>& f) {
    if (m.writable != nullptr) {
      m.writable->forEach(f);
    } else if (m.readonly != nullptr) {
      for (auto& [k, v] : *m.readonly) f(k, v);
    }
  }

  // Returns the bytes of a buffer, or nullopt when it is not available in this callback.
  static std::optional<std::string_view> bufferOf(Vm& vm, uint32_t type,
                                                  std::string** mutable_out) {
    *mutable_out = nullptr;
    Vm::Context* c = vm.currentContext();
    switch (static_cast<BufferType>(type)) {
      case BufferType::HttpRequestBody:
      case BufferType::HttpResponseBody: {
        if (c == nullptr || c->stream == nullptr) return std::nullopt;
        std::string* body = c->stream->body(static_cast<BufferType>(type));
        // As Envoy: a body the stream does not have here (the other direction's, say) reads as
        // an empty buffer; it cannot be written.
        if (body == nullptr) return std::string_view();
        *mutable_out = body;
        return std::string_view(*body);
      }
      case BufferType::HttpCallResponseBody:
        if (vm.callout_response_ == nullptr) return std::nullopt;
        return std::string_view(vm.callout_response_->body);
      case BufferType::GrpcReceiveBuffer:
        return std::string_view(vm.grpc_message_);
      case BufferType::VmConfiguration:
        return std::string_view(vm.config_.configuration);
      case BufferType::PluginConfiguration: {
        Vm::Context* root = vm.rootOf(c);
        if (root == nullptr || !root->in_configure || !root->plugin) return std::nullopt;
        return std::string_view(root->plugin->configuration);
      }
      default:
        return std::nullopt;
    }
  }

  static std::vector<std::pair<std::string, std::string>> decodeOwned(std::string_view bytes) {
    std::vector<abi::PairView> views;
    abi::decodePairs(bytes, views);
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(views.size());
    for (auto& [k, v] : views) out.emplace_back(k, v);
    return out;
  }

  // ---- logging, time, lifecycle ----

  static WasmResult log(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxLogLevel) return WasmResult::BadArgument;
    std::string_view msg;
    if (!vm.read(u32(a[1]), u32(a[2]), &msg)) return WasmResult::InvalidMemoryAccess;
    vm.logFromPlugin(static_cast<LogLevel>(a[0]), msg);
    return WasmResult::Ok;
  }
  static WasmResult getLogLevel(Vm& vm, const uint64_t* a) {
    return vm.writeU32(u32(a[0]), static_cast<uint32_t>(vm.host_.logLevel()))
               ? WasmResult::Ok
               : WasmResult::InvalidMemoryAccess;
  }
  static WasmResult getCurrentTime(Vm& vm, const uint64_t* a) {
    return vm.writeU64(u32(a[0]), vm.host_.realtimeNanos()) ? WasmResult::Ok
                                                            : WasmResult::InvalidMemoryAccess;
  }
  static WasmResult setTickPeriod(Vm& vm, const uint64_t* a) {
    Vm::Context* root = vm.rootOf(vm.currentContext());
    if (root == nullptr) return WasmResult::NotFound;
    vm.host_.setTickPeriod(vm, root->id, u32(a[0]));
    return WasmResult::Ok;
  }
  static WasmResult done(Vm& vm, const uint64_t*) {
    Vm::Context* root = vm.rootOf(vm.currentContext());
    if (root == nullptr || !root->pending_done) return WasmResult::NotFound;
    const uint32_t id = root->id;
    root->pending_done = false;
    vm.deferred_.push_back([&vm, id] {
      vm.call(Vm::kOnDelete, id, {id});
      vm.contexts_.erase(id);
      vm.host_.onPluginDone(vm, id);
    });
    return WasmResult::Ok;
  }
  static WasmResult setEffectiveContext(Vm& vm, const uint64_t* a) {
    if (vm.context(u32(a[0])) == nullptr) return WasmResult::BadArgument;
    vm.effective_context_ = u32(a[0]);
    return WasmResult::Ok;
  }

  // ---- buffers ----

  static WasmResult getBufferBytes(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxBufferType) return WasmResult::BadArgument;
    // In 64 bits and clamped to the buffer, as cpp-host: (start, 0xffffffff) is "the rest".
    const uint32_t start = u32(a[1]), max = u32(a[2]);
    std::string* unused;
    auto buf = bufferOf(vm, u32(a[0]), &unused);
    if (!buf) return WasmResult::NotFound;
    std::string_view bytes = start >= buf->size() ? std::string_view() : buf->substr(start, max);
    return vm.copyOut(bytes, u32(a[3]), u32(a[4]));
  }
  static WasmResult getBufferStatus(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxBufferType) return WasmResult::BadArgument;
    std::string* unused;
    auto buf = bufferOf(vm, u32(a[0]), &unused);
    if (!buf) return WasmResult::NotFound;
    if (!vm.writeU32(u32(a[1]), static_cast<uint32_t>(buf->size())) || !vm.writeU32(u32(a[2]), 0)) {
      return WasmResult::InvalidMemoryAccess;
    }
    return WasmResult::Ok;
  }
  static WasmResult setBufferBytes(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxBufferType) return WasmResult::BadArgument;
    std::string_view data;
    if (!vm.read(u32(a[3]), u32(a[4]), &data)) return WasmResult::InvalidMemoryAccess;
    std::string* body;
    auto buf = bufferOf(vm, u32(a[0]), &body);
    if (!buf) return WasmResult::NotFound;
    if (body == nullptr) return WasmResult::BadArgument;  // read-only buffer
    const uint32_t start = u32(a[1]), length = u32(a[2]);
    if (start == 0) {
      body->replace(0, std::min<size_t>(length, body->size()), data);
    } else if (start >= body->size()) {
      body->append(data);
    } else {
      return WasmResult::BadArgument;  // as Envoy: only prepend/replace-from-0 and append
    }
    return WasmResult::Ok;
  }

  // ---- header maps ----

  static WasmResult getHeaderMapSize(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxMapType) return WasmResult::BadArgument;
    MapRef m = mapOf(vm, u32(a[0]));
    size_t bytes = 0;
    forEach(m, [&](std::string_view k, std::string_view v) { bytes += k.size() + v.size(); });
    return vm.writeU32(u32(a[1]), static_cast<uint32_t>(bytes)) ? WasmResult::Ok
                                                                : WasmResult::InvalidMemoryAccess;
  }
  static WasmResult getHeaderMapPairs(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxMapType) return WasmResult::BadArgument;
    MapRef m = mapOf(vm, u32(a[0]));
    std::vector<abi::PairView> pairs;
    forEach(m, [&](std::string_view k, std::string_view v) { pairs.emplace_back(k, v); });
    // Encode in host memory, then one allocation and copy into the plugin.
    std::string encoded = abi::encodePairs(pairs);
    return vm.copyOut(encoded, u32(a[1]), u32(a[2]));
  }
  static WasmResult setHeaderMapPairs(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxMapType) return WasmResult::BadArgument;
    std::string_view bytes;
    if (!vm.read(u32(a[1]), u32(a[2]), &bytes)) return WasmResult::InvalidMemoryAccess;
    MapRef m = mapOf(vm, u32(a[0]));
    if (m.writable == nullptr) return WasmResult::BadArgument;
    auto entries = decodeOwned(bytes);  // malformed: empty map, as the reference host
    m.writable->clear();
    for (auto& [k, v] : entries) m.writable->add(k, v);
    return WasmResult::Ok;
  }
  static WasmResult getHeaderMapValue(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxMapType) return WasmResult::BadArgument;
    std::string_view key;
    if (!vm.read(u32(a[1]), u32(a[2]), &key)) return WasmResult::InvalidMemoryAccess;
    MapRef m = mapOf(vm, u32(a[0]));
    if (!m.available()) return WasmResult::NotFound;
    // `key` points into plugin memory: it is used up before copyOut (which may move memory).
    std::optional<std::string_view> value;
    if (m.writable != nullptr) {
      value = m.writable->get(key);
    } else {
      std::string lowered = lowerAscii(key);
      for (auto& [k, v] : *m.readonly) {
        if (k == lowered) {
          value = v;
          break;
        }
      }
    }
    if (!value) return WasmResult::NotFound;
    return vm.copyOut(*value, u32(a[3]), u32(a[4]));
  }
  // add and replace: (map, key, value) -> one HeaderMap operation.
  template <void (HeaderMap::*Op)(std::string_view, std::string_view)>
  static WasmResult setHeaderMapValue(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxMapType) return WasmResult::BadArgument;
    std::string_view key, value;
    if (!vm.read(u32(a[1]), u32(a[2]), &key) || !vm.read(u32(a[3]), u32(a[4]), &value)) {
      return WasmResult::InvalidMemoryAccess;
    }
    MapRef m = mapOf(vm, u32(a[0]));
    if (m.writable == nullptr) return WasmResult::BadArgument;
    (m.writable->*Op)(key, value);
    return WasmResult::Ok;
  }
  static WasmResult removeHeaderMapValue(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxMapType) return WasmResult::BadArgument;
    std::string_view key;
    if (!vm.read(u32(a[1]), u32(a[2]), &key)) return WasmResult::InvalidMemoryAccess;
    MapRef m = mapOf(vm, u32(a[0]));
    if (m.writable == nullptr) return WasmResult::BadArgument;
    m.writable->remove(key);
    return WasmResult::Ok;
  }

  // ---- stream control ----

  // Defers an action on the current stream until the outermost VM call returns; the action is
  // dropped if the stream context is gone by then.
  static WasmResult onStream(Vm& vm, const char* what, std::function<void(StreamHost&)> action) {
    Vm::Context* c = vm.currentContext();
    if (c == nullptr || c->stream == nullptr) {
      vm.logFromPlugin(LogLevel::Warn,
                       std::string(what) +
                           " called on a root context does nothing; call "
                           "proxy_set_effective_context with the stream's id first");
      return WasmResult::Ok;
    }
    const uint32_t id = c->id;
    vm.deferred_.push_back([&vm, id, action = std::move(action)] {
      Vm::Context* s = vm.context(id);
      if (s != nullptr && s->stream != nullptr) action(*s->stream);
    });
    return WasmResult::Ok;
  }
  static WasmResult continueStream(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxStreamType) return WasmResult::BadArgument;
    if (a[0] > 1) return WasmResult::Unimplemented;
    auto type = static_cast<StreamType>(a[0]);
    return onStream(vm, "proxy_continue_stream", [type](StreamHost& s) { s.continueStream(type); });
  }
  static WasmResult closeStream(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxStreamType) return WasmResult::BadArgument;
    if (a[0] > 1) return WasmResult::Unimplemented;
    auto type = static_cast<StreamType>(a[0]);
    return onStream(vm, "proxy_close_stream", [type](StreamHost& s) { s.closeStream(type); });
  }
  static WasmResult sendLocalResponse(Vm& vm, const uint64_t* a) {
    std::string_view details, body, headers;
    if (!vm.read(u32(a[1]), u32(a[2]), &details) || !vm.read(u32(a[3]), u32(a[4]), &body) ||
        !vm.read(u32(a[5]), u32(a[6]), &headers)) {
      return WasmResult::InvalidMemoryAccess;
    }
    LocalReply reply;
    reply.status = u32(a[0]);
    reply.body = std::string(body);
    reply.headers = decodeOwned(headers);
    reply.details = std::string(details);
    for (char& ch : reply.details) {
      if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') ch = '_';
    }
    const int32_t grpc = static_cast<int32_t>(u32(a[7]));
    reply.grpc_status = grpc >= 0 && grpc <= 16 ? grpc : -1;
    Vm::Context* c = vm.currentContext();
    if (c != nullptr && c->stream != nullptr) c->local_reply_sent = true;
    return onStream(
        vm, "proxy_send_local_response",
        [reply = std::move(reply)](StreamHost& s) mutable { s.sendLocalReply(std::move(reply)); });
  }
  static WasmResult getStatus(Vm& vm, const uint64_t* a) {
    if (!vm.writeU32(u32(a[0]), vm.last_status_.first)) return WasmResult::InvalidMemoryAccess;
    std::string message = vm.last_status_.second;
    return vm.copyOut(message, u32(a[1]), u32(a[2]));
  }

  // ---- callouts ----

  static bool hasHeader(const std::vector<std::pair<std::string, std::string>>& h,
                        std::string_view key) {
    for (auto& [k, v] : h) {
      if (k == key) return true;
    }
    return false;
  }
  static WasmResult httpCall(Vm& vm, const uint64_t* a) {
    std::string_view cluster, headers, body, trailers;
    if (!vm.read(u32(a[0]), u32(a[1]), &cluster) || !vm.read(u32(a[2]), u32(a[3]), &headers) ||
        !vm.read(u32(a[4]), u32(a[5]), &body) || !vm.read(u32(a[6]), u32(a[7]), &trailers) ||
        !vm.writeU32(u32(a[9]), 0)) {
      return WasmResult::InvalidMemoryAccess;
    }
    HttpCallRequest req;
    req.cluster = std::string(cluster);
    req.headers = decodeOwned(headers);
    for (auto& [k, v] : req.headers) k = lowerAscii(k);
    req.body = std::string(body);
    req.trailers = decodeOwned(trailers);
    req.timeout_ms = u32(a[8]);
    if (!hasHeader(req.headers, ":method") || !hasHeader(req.headers, ":path") ||
        !hasHeader(req.headers, ":authority")) {
      return WasmResult::BadArgument;
    }
    Vm::Context* root = vm.rootOf(vm.currentContext());
    if (root == nullptr) return WasmResult::BadArgument;
    vm.next_callout_ += 4;
    const uint32_t token = vm.next_callout_ + abi::kHttpCallIdTag;
    WasmResult r = vm.host_.httpCall(vm, root->id, token, std::move(req));
    if (r != WasmResult::Ok) return r;
    vm.writeU32(u32(a[9]), token);
    return WasmResult::Ok;
  }
  static WasmResult grpcRequest(Vm& vm, const uint64_t* a, GrpcCallRequest* req) {
    std::string_view service, service_name, method, metadata;
    if (!vm.read(u32(a[0]), u32(a[1]), &service) || !vm.read(u32(a[2]), u32(a[3]), &service_name) ||
        !vm.read(u32(a[4]), u32(a[5]), &method) || !vm.read(u32(a[6]), u32(a[7]), &metadata)) {
      return WasmResult::InvalidMemoryAccess;
    }
    req->service = std::string(service);
    req->service_name = std::string(service_name);
    req->method = std::string(method);
    req->initial_metadata = decodeOwned(metadata);
    return WasmResult::Ok;
  }
  static WasmResult grpcCall(Vm& vm, const uint64_t* a) {
    GrpcCallRequest req;
    if (WasmResult r = grpcRequest(vm, a, &req); r != WasmResult::Ok) return r;
    std::string_view message;
    if (!vm.read(u32(a[8]), u32(a[9]), &message) || !vm.writeU32(u32(a[11]), 0)) {
      return WasmResult::InvalidMemoryAccess;
    }
    req.message = std::string(message);
    req.timeout_ms = u32(a[10]);
    Vm::Context* root = vm.rootOf(vm.currentContext());
    if (root == nullptr) return WasmResult::BadArgument;
    vm.next_callout_ += 4;
    const uint32_t token = vm.next_callout_ + abi::kGrpcCallIdTag;
    WasmResult r = vm.host_.grpcCall(vm, root->id, token, std::move(req));
    if (r != WasmResult::Ok) return r;
    vm.writeU32(u32(a[11]), token);
    return WasmResult::Ok;
  }
  static WasmResult grpcStream(Vm& vm, const uint64_t* a) {
    GrpcCallRequest req;
    if (WasmResult r = grpcRequest(vm, a, &req); r != WasmResult::Ok) return r;
    if (!vm.writeU32(u32(a[8]), 0)) return WasmResult::InvalidMemoryAccess;
    Vm::Context* root = vm.rootOf(vm.currentContext());
    if (root == nullptr) return WasmResult::BadArgument;
    vm.next_callout_ += 4;
    const uint32_t token = vm.next_callout_ + abi::kGrpcStreamIdTag;
    WasmResult r = vm.host_.grpcStream(vm, root->id, token, std::move(req));
    if (r != WasmResult::Ok) return r;
    vm.grpc_streams_[token] = root->id;
    vm.writeU32(u32(a[8]), token);
    return WasmResult::Ok;
  }
  static WasmResult grpcSend(Vm& vm, const uint64_t* a) {
    const uint32_t token = u32(a[0]);
    if (token % 4 != abi::kGrpcStreamIdTag) return WasmResult::BadArgument;
    if (vm.grpc_streams_.count(token) == 0) return WasmResult::NotFound;
    std::string_view message;
    if (!vm.read(u32(a[1]), u32(a[2]), &message)) return WasmResult::InvalidMemoryAccess;
    return vm.host_.grpcSend(vm, token, message, a[3] != 0);
  }
  static WasmResult grpcCancel(Vm& vm, const uint64_t* a) {
    vm.grpc_streams_.erase(u32(a[0]));
    return vm.host_.grpcCancel(vm, u32(a[0]));
  }
  static WasmResult grpcClose(Vm& vm, const uint64_t* a) {
    return vm.host_.grpcClose(vm, u32(a[0]));
  }

  // ---- shared data and queues ----

  static WasmResult getSharedData(Vm& vm, const uint64_t* a) {
    std::string_view key;
    if (!vm.read(u32(a[0]), u32(a[1]), &key)) return WasmResult::InvalidMemoryAccess;
    std::string value;
    uint32_t cas = 0;
    WasmResult r = SharedData::instance().get(vm.config_.vm_id, key, &value, &cas);
    if (r != WasmResult::Ok) return r;
    if (!vm.writeU32(u32(a[4]), cas)) return WasmResult::InvalidMemoryAccess;
    return vm.copyOut(value, u32(a[2]), u32(a[3]));
  }
  static WasmResult setSharedData(Vm& vm, const uint64_t* a) {
    std::string_view key, value;
    if (!vm.read(u32(a[0]), u32(a[1]), &key) || !vm.read(u32(a[2]), u32(a[3]), &value)) {
      return WasmResult::InvalidMemoryAccess;
    }
    return SharedData::instance().set(vm.config_.vm_id, key, value, u32(a[4]));
  }
  static WasmResult registerSharedQueue(Vm& vm, const uint64_t* a) {
    std::string_view name;
    if (!vm.read(u32(a[0]), u32(a[1]), &name)) return WasmResult::InvalidMemoryAccess;
    Vm::Context* root = vm.rootOf(vm.currentContext());
    if (root == nullptr) return WasmResult::NotFound;
    const uint32_t root_id = root->id;
    std::weak_ptr<bool> alive = vm.alive_;
    VmHost* host = &vm.host_;
    Vm* self = &vm;
    uint32_t id = SharedQueues::instance().registerQueue(
        vm.config_.vm_id, name, [alive, host, self, root_id](uint32_t queue) {
          host->post([alive, self, root_id, queue] {
            if (auto a = alive.lock(); a && *a) self->onQueueReady(root_id, queue);
          });
        });
    return vm.writeU32(u32(a[2]), id) ? WasmResult::Ok : WasmResult::InvalidMemoryAccess;
  }
  static WasmResult resolveSharedQueue(Vm& vm, const uint64_t* a) {
    std::string_view vm_id, name;
    if (!vm.read(u32(a[0]), u32(a[1]), &vm_id) || !vm.read(u32(a[2]), u32(a[3]), &name)) {
      return WasmResult::InvalidMemoryAccess;
    }
    auto id = SharedQueues::instance().resolve(
        vm_id.empty() ? std::string_view(vm.config_.vm_id) : vm_id, name);
    if (!id) return WasmResult::NotFound;
    return vm.writeU32(u32(a[4]), *id) ? WasmResult::Ok : WasmResult::InvalidMemoryAccess;
  }
  static WasmResult enqueueSharedQueue(Vm& vm, const uint64_t* a) {
    std::string_view data;
    if (!vm.read(u32(a[1]), u32(a[2]), &data)) return WasmResult::InvalidMemoryAccess;
    return SharedQueues::instance().enqueue(u32(a[0]), data);
  }
  static WasmResult dequeueSharedQueue(Vm& vm, const uint64_t* a) {
    MemoryView m = vm.instance_->memory();
    if (uint64_t{u32(a[1])} + 4 > m.size || uint64_t{u32(a[2])} + 4 > m.size) {
      return WasmResult::InvalidMemoryAccess;
    }
    std::string data;
    WasmResult r = SharedQueues::instance().dequeue(u32(a[0]), &data);
    if (r != WasmResult::Ok) return r;
    return vm.copyOut(data, u32(a[1]), u32(a[2]));
  }

  // ---- metrics ----

  static WasmResult defineMetric(Vm& vm, const uint64_t* a) {
    if (a[0] > abi::kMaxMetricType) return WasmResult::BadArgument;
    std::string_view name;
    if (!vm.read(u32(a[1]), u32(a[2]), &name)) return WasmResult::InvalidMemoryAccess;
    Metric* m = MetricsRegistry::instance().define(static_cast<MetricType>(a[0]), name);
    if (m == nullptr) return WasmResult::BadArgument;  // same name, another type
    vm.next_metric_ += 4;
    const uint32_t id = vm.next_metric_ + u32(a[0]);
    vm.metrics_[id] = m;
    return vm.writeU32(u32(a[3]), id) ? WasmResult::Ok : WasmResult::InvalidMemoryAccess;
  }
  static Metric* metric(Vm& vm, uint64_t id) {
    auto it = vm.metrics_.find(u32(id));
    return it == vm.metrics_.end() ? nullptr : it->second;
  }
  static WasmResult incrementMetric(Vm& vm, const uint64_t* a) {
    Metric* m = metric(vm, a[0]);
    if (m == nullptr) return WasmResult::NotFound;
    const auto delta = static_cast<int64_t>(a[1]);
    if (m->type() == MetricType::Histogram) return WasmResult::BadArgument;
    if (m->type() == MetricType::Counter && delta <= 0) return WasmResult::BadArgument;
    m->add(delta);
    return WasmResult::Ok;
  }
  static WasmResult recordMetric(Vm& vm, const uint64_t* a) {
    Metric* m = metric(vm, a[0]);
    if (m == nullptr) return WasmResult::NotFound;
    switch (m->type()) {
      case MetricType::Counter:
        m->add(static_cast<int64_t>(a[1]));
        break;
      case MetricType::Gauge:
        m->set(static_cast<int64_t>(a[1]));
        break;
      case MetricType::Histogram:
        m->record(a[1]);
        break;
    }
    return WasmResult::Ok;
  }
  static WasmResult getMetric(Vm& vm, const uint64_t* a) {
    Metric* m = metric(vm, a[0]);
    if (m == nullptr) return WasmResult::NotFound;
    if (m->type() == MetricType::Histogram) return WasmResult::BadArgument;
    return vm.writeU64(u32(a[1]), static_cast<uint64_t>(m->value()))
               ? WasmResult::Ok
               : WasmResult::InvalidMemoryAccess;
  }

  // ---- properties ----

  static WasmResult getProperty(Vm& vm, const uint64_t* a) {
    std::string_view raw;
    if (!vm.read(u32(a[0]), u32(a[1]), &raw)) return WasmResult::InvalidMemoryAccess;
    std::string path(raw);
    if (!path.empty() && path.back() == '\0') path.pop_back();
    std::string value;
    WasmResult r = WasmResult::NotFound;
    const PluginConfig* plugin = vm.currentPlugin();
    if (path == "plugin_name" && plugin != nullptr) {
      value = plugin->name, r = WasmResult::Ok;
    } else if (path == "plugin_root_id" && plugin != nullptr) {
      value = plugin->root_id, r = WasmResult::Ok;
    } else if (path == "plugin_vm_id") {
      value = vm.config_.vm_id, r = WasmResult::Ok;
    } else {
      Vm::Context* c = vm.currentContext();
      if (c != nullptr && c->stream != nullptr) r = c->stream->getProperty(path, &value);
      if (r == WasmResult::NotFound) r = vm.host_.getProperty(path, &value);
    }
    if (r != WasmResult::Ok) return r;
    return vm.copyOut(value, u32(a[2]), u32(a[3]));
  }
  static WasmResult setProperty(Vm& vm, const uint64_t* a) {
    std::string_view raw, value;
    if (!vm.read(u32(a[0]), u32(a[1]), &raw) || !vm.read(u32(a[2]), u32(a[3]), &value)) {
      return WasmResult::InvalidMemoryAccess;
    }
    std::string path(raw);
    if (!path.empty() && path.back() == '\0') path.pop_back();
    Vm::Context* c = vm.currentContext();
    if (c == nullptr || c->stream == nullptr) return WasmResult::NotFound;
    return c->stream->setProperty(path, value);
  }
  static WasmResult callForeignFunction(Vm& vm, const uint64_t* a) {
    std::string_view name, args;
    if (!vm.read(u32(a[0]), u32(a[1]), &name) || !vm.read(u32(a[2]), u32(a[3]), &args)) {
      return WasmResult::InvalidMemoryAccess;
    }
    return WasmResult::NotFound;  // no foreign functions are registered
  }

  // ---- WASI ----

  static uint32_t fdWrite(Vm& vm, const uint64_t* a) {
    const uint32_t fd = u32(a[0]);
    if (fd != 1 && fd != 2) return errno_::kBadf;
    std::string text;
    for (uint32_t i = 0; i < u32(a[2]); ++i) {
      std::string_view iov, chunk;
      if (!vm.read(u32(a[1]) + 8 * i, 8, &iov)) return errno_::kFault;
      uint32_t ptr, len;
      std::memcpy(&ptr, iov.data(), 4);
      std::memcpy(&len, iov.data() + 4, 4);
      if (!vm.read(ptr, len, &chunk)) return errno_::kFault;
      text.append(chunk);
    }
    const size_t written = text.size();
    if (!text.empty() && text.back() == '\n') text.pop_back();
    vm.logFromPlugin(fd == 1 ? LogLevel::Info : LogLevel::Error, text);
    return vm.writeU32(u32(a[3]), static_cast<uint32_t>(written)) ? errno_::kSuccess
                                                                  : errno_::kFault;
  }
  static uint32_t fdPwrite(Vm& vm, const uint64_t* a) {
    const uint64_t b[4] = {a[0], a[1], a[2], a[4]};  // offset ignored
    return fdWrite(vm, b);
  }
  static uint32_t fdFdstatGet(Vm& vm, const uint64_t* a) {
    const uint32_t fd = u32(a[0]);
    if (fd > 2) return errno_::kBadf;
    MemoryView m = vm.instance_->memory();
    if (uint64_t{u32(a[1])} + 24 > m.size) return errno_::kFault;
    std::memset(m.data + u32(a[1]), 0, 24);
    m.data[u32(a[1])] = 2;                        // character device
    if (fd != 0) m.data[u32(a[1]) + 8] = 1 << 6;  // rights: fd_write
    return errno_::kSuccess;
  }
  static uint32_t environSizesGet(Vm& vm, const uint64_t* a) {
    uint32_t bytes = 0;
    for (auto& [k, v] : vm.config_.environment) bytes += k.size() + 1 + v.size() + 1;
    return vm.writeU32(u32(a[0]), static_cast<uint32_t>(vm.config_.environment.size())) &&
                   vm.writeU32(u32(a[1]), bytes)
               ? errno_::kSuccess
               : errno_::kFault;
  }
  static uint32_t environGet(Vm& vm, const uint64_t* a) {
    uint32_t ptrs = u32(a[0]), buf = u32(a[1]);
    for (auto& [k, v] : vm.config_.environment) {
      std::string entry = k + "=" + v;
      entry.push_back('\0');
      MemoryView m = vm.instance_->memory();
      if (uint64_t{buf} + entry.size() > m.size || !vm.writeU32(ptrs, buf)) return errno_::kFault;
      std::memcpy(m.data + buf, entry.data(), entry.size());
      ptrs += 4;
      buf += static_cast<uint32_t>(entry.size());
    }
    return errno_::kSuccess;
  }
  static uint32_t argsSizesGet(Vm& vm, const uint64_t* a) {
    return vm.writeU32(u32(a[0]), 0) && vm.writeU32(u32(a[1]), 0) ? errno_::kSuccess
                                                                  : errno_::kFault;
  }
  static uint32_t success(Vm&, const uint64_t*) { return errno_::kSuccess; }
  static uint32_t clockTimeGet(Vm& vm, const uint64_t* a) {
    uint64_t t;
    switch (u32(a[0])) {
      case 0:
        t = vm.host_.realtimeNanos();
        break;
      case 1:
        t = vm.host_.monotonicNanos();
        break;
      default:
        return errno_::kNotsup;
    }
    return vm.writeU64(u32(a[2]), t) ? errno_::kSuccess : errno_::kFault;
  }
  static uint32_t clockResGet(Vm& vm, const uint64_t* a) {
    if (u32(a[0]) > 1) return errno_::kNotsup;
    return vm.writeU64(u32(a[1]), 1) ? errno_::kSuccess : errno_::kFault;
  }
  static uint32_t randomGet(Vm& vm, const uint64_t* a) {
    const uint32_t len = u32(a[1]);
    if (len > 64 * 1024) return errno_::kInval;
    std::string bytes(len, '\0');
    if (len > 0 &&
        RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(len)) != 1) {
      return errno_::kInval;
    }
    MemoryView m = vm.instance_->memory();
    if (uint64_t{u32(a[0])} + len > m.size) return errno_::kFault;
    std::memcpy(m.data + u32(a[0]), bytes.data(), len);
    return errno_::kSuccess;
  }
  static uint32_t pollOneoff(Vm& vm, const uint64_t* a) {
    return vm.writeU32(u32(a[3]), 0) ? errno_::kSuccess : errno_::kFault;
  }
  static bool procExit(void* user, const uint64_t* a, uint64_t*) {
    Vm& vm = *static_cast<Vm*>(user);
    vm.aborted_reason_ = "proc_exit(" + std::to_string(u32(a[0])) + ") called";
    return false;
  }
  template <uint32_t Errno>
  static uint32_t stub(Vm&, const uint64_t*) {
    return Errno;
  }

  // Emscripten helpers accepted by the reference host.
  static bool notifyMemoryGrowth(void*, const uint64_t*, uint64_t*) { return true; }
  static bool pthreadEqual(void*, const uint64_t* a, uint64_t* r) {
    r[0] = u32(a[0]) == u32(a[1]) ? 1 : 0;
    return true;
  }
};

namespace {

FuncType sig(const char* s) {
  FuncType t;
  bool results = false;
  for (const char* p = s; *p != '\0'; ++p) {
    if (*p == '_') {
      results = true;
      continue;
    }
    ValType v = *p == 'I' ? ValType::I64 : ValType::I32;
    (results ? t.results : t.params).push_back(v);
  }
  return t;
}

using H = Hostcalls;
constexpr uint32_t kSpipe = 70;

const std::vector<HostcallDef>& table() {
  static const std::vector<HostcallDef> t = {
      // proxy-wasm 0.2.x
      {"env", "proxy_log", sig("iii_i"), &H::proxy<&H::log, true>},
      {"env", "proxy_get_log_level", sig("i_i"), &H::proxy<&H::getLogLevel, true>},
      {"env", "proxy_get_current_time_nanoseconds", sig("i_i"),
       &H::proxy<&H::getCurrentTime, true>},
      {"env", "proxy_set_tick_period_milliseconds", sig("i_i"), &H::proxy<&H::setTickPeriod>},
      {"env", "proxy_done", sig("_i"), &H::proxy<&H::done>},
      {"env", "proxy_set_effective_context", sig("i_i"), &H::proxy<&H::setEffectiveContext>},
      {"env", "proxy_get_buffer_bytes", sig("iiiii_i"), &H::proxy<&H::getBufferBytes>},
      {"env", "proxy_get_buffer_status", sig("iii_i"), &H::proxy<&H::getBufferStatus>},
      {"env", "proxy_set_buffer_bytes", sig("iiiii_i"), &H::proxy<&H::setBufferBytes>},
      {"env", "proxy_get_header_map_size", sig("ii_i"), &H::proxy<&H::getHeaderMapSize>},
      {"env", "proxy_get_header_map_pairs", sig("iii_i"), &H::proxy<&H::getHeaderMapPairs>},
      {"env", "proxy_set_header_map_pairs", sig("iii_i"), &H::proxy<&H::setHeaderMapPairs>},
      {"env", "proxy_get_header_map_value", sig("iiiii_i"), &H::proxy<&H::getHeaderMapValue>},
      {"env", "proxy_add_header_map_value", sig("iiiii_i"),
       &H::proxy<&H::setHeaderMapValue<&HeaderMap::add>>},
      {"env", "proxy_replace_header_map_value", sig("iiiii_i"),
       &H::proxy<&H::setHeaderMapValue<&HeaderMap::replace>>},
      {"env", "proxy_remove_header_map_value", sig("iii_i"), &H::proxy<&H::removeHeaderMapValue>},
      {"env", "proxy_continue_stream", sig("i_i"), &H::proxy<&H::continueStream>},
      {"env", "proxy_close_stream", sig("i_i"), &H::proxy<&H::closeStream>},
      {"env", "proxy_send_local_response", sig("iiiiiiii_i"), &H::proxy<&H::sendLocalResponse>},
      {"env", "proxy_get_status", sig("iii_i"), &H::proxy<&H::getStatus>},
      {"env", "proxy_http_call", sig("iiiiiiiiii_i"), &H::proxy<&H::httpCall>},
      {"env", "proxy_grpc_call", sig("iiiiiiiiiiii_i"), &H::proxy<&H::grpcCall>},
      {"env", "proxy_grpc_stream", sig("iiiiiiiii_i"), &H::proxy<&H::grpcStream>},
      {"env", "proxy_grpc_send", sig("iiii_i"), &H::proxy<&H::grpcSend>},
      {"env", "proxy_grpc_cancel", sig("i_i"), &H::proxy<&H::grpcCancel>},
      {"env", "proxy_grpc_close", sig("i_i"), &H::proxy<&H::grpcClose>},
      {"env", "proxy_get_shared_data", sig("iiiii_i"), &H::proxy<&H::getSharedData>},
      {"env", "proxy_set_shared_data", sig("iiiii_i"), &H::proxy<&H::setSharedData>},
      {"env", "proxy_register_shared_queue", sig("iii_i"), &H::proxy<&H::registerSharedQueue>},
      {"env", "proxy_resolve_shared_queue", sig("iiiii_i"), &H::proxy<&H::resolveSharedQueue>},
      {"env", "proxy_enqueue_shared_queue", sig("iii_i"), &H::proxy<&H::enqueueSharedQueue>},
      {"env", "proxy_dequeue_shared_queue", sig("iii_i"), &H::proxy<&H::dequeueSharedQueue>},
      {"env", "proxy_define_metric", sig("iiii_i"), &H::proxy<&H::defineMetric>},
      {"env", "proxy_increment_metric", sig("iI_i"), &H::proxy<&H::incrementMetric>},
      {"env", "proxy_record_metric", sig("iI_i"), &H::proxy<&H::recordMetric>},
      {"env", "proxy_get_metric", sig("ii_i"), &H::proxy<&H::getMetric>},
      {"env", "proxy_get_property", sig("iiii_i"), &H::proxy<&H::getProperty>},
      {"env", "proxy_set_property", sig("iiii_i"), &H::proxy<&H::setProperty>},
      {"env", "proxy_call_foreign_function", sig("iiiiii_i"), &H::proxy<&H::callForeignFunction>},
      // Emscripten compatibility
      {"env", "emscripten_notify_memory_growth", sig("i"), &H::notifyMemoryGrowth},
      {"env", "pthread_equal", sig("ii_i"), &H::pthreadEqual},
      // WASI preview 1
      {"wasi", "fd_write", sig("iiii_i"), &H::wasi<&H::fdWrite, true>},
      {"wasi", "fd_pwrite", sig("iiiIi_i"), &H::wasi<&H::fdPwrite, true>},
      {"wasi", "fd_read", sig("iiii_i"), &H::wasi<&H::stub<errno_::kNosys>, true>},
      {"wasi", "fd_pread", sig("iiiIi_i"), &H::wasi<&H::stub<errno_::kNosys>, true>},
      {"wasi", "fd_close", sig("i_i"), &H::wasi<&H::success, true>},
      {"wasi", "fd_seek", sig("iIii_i"), &H::wasi<&H::stub<kSpipe>, true>},
      {"wasi", "fd_tell", sig("ii_i"), &H::wasi<&H::stub<kSpipe>, true>},
      {"wasi", "fd_sync", sig("i_i"), &H::wasi<&H::success, true>},
      {"wasi", "fd_datasync", sig("i_i"), &H::wasi<&H::success, true>},
      {"wasi", "fd_advise", sig("iIIi_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "fd_allocate", sig("iII_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "fd_fdstat_get", sig("ii_i"), &H::wasi<&H::fdFdstatGet, true>},
      {"wasi", "fd_fdstat_set_flags", sig("ii_i"), &H::wasi<&H::stub<errno_::kNosys>, true>},
      {"wasi", "fd_fdstat_set_rights", sig("iII_i"), &H::wasi<&H::stub<errno_::kNosys>, true>},
      {"wasi", "fd_filestat_get", sig("ii_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "fd_filestat_set_size", sig("iI_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "fd_filestat_set_times", sig("iIIi_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "fd_prestat_get", sig("ii_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "fd_prestat_dir_name", sig("iii_i"), &H::wasi<&H::stub<errno_::kNosys>, true>},
      {"wasi", "fd_readdir", sig("iiiIi_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "fd_renumber", sig("ii_i"), &H::wasi<&H::stub<errno_::kBadf>, true>},
      {"wasi", "path_open", sig("iiiiiIIii_i"), &H::wasi<&H::stub<errno_::kNoent>, true>},
      {"wasi", "path_create_directory", sig("iii_i"),
       &H::wasi<&H::stub<errno_::kNotcapable>, true>},
      {"wasi", "path_filestat_get", sig("iiiii_i"), &H::wasi<&H::stub<errno_::kNoent>, true>},
      {"wasi", "path_filestat_set_times", sig("iiiiIIi_i"),
       &H::wasi<&H::stub<errno_::kNotcapable>, true>},
      {"wasi", "path_link", sig("iiiiiii_i"), &H::wasi<&H::stub<errno_::kNotcapable>, true>},
      {"wasi", "path_readlink", sig("iiiiii_i"), &H::wasi<&H::stub<errno_::kNoent>, true>},
      {"wasi", "path_remove_directory", sig("iii_i"),
       &H::wasi<&H::stub<errno_::kNotcapable>, true>},
      {"wasi", "path_rename", sig("iiiiii_i"), &H::wasi<&H::stub<errno_::kNotcapable>, true>},
      {"wasi", "path_symlink", sig("iiiii_i"), &H::wasi<&H::stub<errno_::kNotcapable>, true>},
      {"wasi", "path_unlink_file", sig("iii_i"), &H::wasi<&H::stub<errno_::kNotcapable>, true>},
      {"wasi", "environ_get", sig("ii_i"), &H::wasi<&H::environGet, true>},
      {"wasi", "environ_sizes_get", sig("ii_i"), &H::wasi<&H::environSizesGet, true>},
      {"wasi", "args_get", sig("ii_i"), &H::wasi<&H::success, true>},
      {"wasi", "args_sizes_get", sig("ii_i"), &H::wasi<&H::argsSizesGet, true>},
      {"wasi", "clock_time_get", sig("iIi_i"), &H::wasi<&H::clockTimeGet, true>},
      {"wasi", "clock_res_get", sig("ii_i"), &H::wasi<&H::clockResGet, true>},
      {"wasi", "random_get", sig("ii_i"), &H::wasi<&H::randomGet, true>},
      {"wasi", "poll_oneoff", sig("iiii_i"), &H::wasi<&H::pollOneoff, true>},
      {"wasi", "sched_yield", sig("_i"), &H::wasi<&H::success, true>},
      {"wasi", "proc_exit", sig("i"), &H::procExit},
      {"wasi", "proc_raise", sig("i_i"), &H::wasi<&H::stub<errno_::kNosys>, true>},
      {"wasi", "sock_accept", sig("iii_i"), &H::wasi<&H::stub<errno_::kNotsup>, true>},
      {"wasi", "sock_recv", sig("iiiiii_i"), &H::wasi<&H::stub<errno_::kNotsup>, true>},
      {"wasi", "sock_send", sig("iiiii_i"), &H::wasi<&H::stub<errno_::kNotsup>, true>},
      {"wasi", "sock_shutdown", sig("ii_i"), &H::wasi<&H::stub<errno_::kNotsup>, true>},
  };
  return t;
}

}  // namespace

const HostcallDef* findHostcall(std::string_view module, std::string_view name) {
  std::string_view m = module;
  if (m == "wasi_snapshot_preview1" || m == "wasi_unstable")
    m = "wasi";
  else if (m != "env")
    return nullptr;
  for (const HostcallDef& d : table()) {
    if (m == d.module && name == d.name) return &d;
  }
  return nullptr;
}

const HostcallDef* findHostcallByFunction(HostFunction fn) {
  for (const HostcallDef& d : table()) {
    if (d.function == fn) return &d;
  }
  return nullptr;
}

}  // namespace proxy_wasm::host
