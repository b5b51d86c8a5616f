// Context registry and the dispatch of the proxy-wasm callbacks to the context objects. The stream
// callbacks are in context.h (detail::exportStreamCallbacks): a module exports those only for the
// methods its context classes override.
//
// Unknown context ids (a host bug or a context that failed to create) never trap: stream callbacks
// continue, lifecycle callbacks do nothing, and the first occurrence is logged.
#include "proxy_wasm/sdk/context.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "proxy_wasm/abi/id_table.h"

namespace proxy_wasm {
namespace {

struct Factories {
  RootFactory root;
  StreamFactory stream;
};

// A live context and what kind it is (the SDK is built without RTTI).
struct Entry {
  std::unique_ptr<ContextBase> context;
  RootContext* root = nullptr;
  HttpContext* stream = nullptr;
  // Roots only; null for an unregistered root. Points into factories() (filled at module
  // initialisation, before any context; its nodes never move), so that an entry stays cheap to
  // move: the registry moves entries as it grows and shrinks.
  const StreamFactory* stream_factory = nullptr;
};

// Function-local statics: constructed on first use, so registration from other translation
// units' static initialisers is safe whatever the link order.
std::unordered_map<std::string, Factories>& factories() {
  static auto* f = new std::unordered_map<std::string, Factories>();
  return *f;
}
// The live contexts by id. A stream's callbacks come one after another for the same id, so the
// entry found or inserted last is remembered until the table next changes.
class ContextRegistry {
 public:
  Entry* find(uint32_t id) {
    if (last_ != nullptr && id == last_id_) return last_;
    Entry* e = entries_.find(id);
    if (e != nullptr) remember(id, e);
    return e;
  }
  Entry& insert(uint32_t id, Entry entry) {
    Entry& e = entries_.insert(id, std::move(entry));
    remember(id, &e);
    return e;
  }
  // The entry is destroyed after it has left the table: its context's destructor may look up
  // other contexts.
  void erase(uint32_t id) {
    last_ = nullptr;
    std::optional<Entry> gone = entries_.take(id);
  }
  template <class F>
  void forEach(F&& f) {
    entries_.forEach(std::forward<F>(f));
  }

 private:
  void remember(uint32_t id, Entry* e) {
    last_id_ = id;
    last_ = e;
  }
  abi::IdTable<Entry> entries_;
  uint32_t last_id_ = 0;
  Entry* last_ = nullptr;
};

// Holds a value for the whole program and never destroys it: contexts may still be live at exit,
// and their destructors may use the SDK. Constant-initialised, so the value exists before any
// static initialiser runs (whatever the link order) and using it needs no guard and no pointer.
template <class T>
union Immortal {
  constexpr Immortal() : value() {}
  ~Immortal() {}
  T value;
};

// Read on every callback: a global beside the SDK's other state rather than a function-local
// static on the heap (its guard and its pointer cost two more cache lines per callback).
constinit Immortal<ContextRegistry> registry;

ContextRegistry& contexts() {
  return registry.value;
}
uint64_t next_stream_serial = 1;

// The memory of ended stream contexts, kept for the next ones: blocks of one size (a plugin's
// stream class), at most kKept of them; any other size goes to the global allocator. Under
// AddressSanitizer (native tests) nothing is kept, so a use after free is still caught.
class StreamBlocks {
 public:
  void* take(size_t size) {
    if (size == size_ && count_ > 0) return blocks_[--count_];
    return ::operator new(size);
  }
  void give(void* p, size_t size) {
    if (count_ == 0) size_ = size;
    if (kKeep && size == size_ && count_ < kKept) {
      blocks_[count_++] = p;
      return;
    }
    ::operator delete(p, size);
  }

 private:
#if defined(__SANITIZE_ADDRESS__)
  static constexpr bool kKeep = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  static constexpr bool kKeep = false;
#else
  static constexpr bool kKeep = true;
#endif
#else
  static constexpr bool kKeep = true;
#endif
  static constexpr size_t kKept = 32;
  size_t size_ = 0;
  size_t count_ = 0;
  void* blocks_[kKept] = {};
};
constinit StreamBlocks stream_blocks;

Entry* findEntry(uint32_t id) {
  return contexts().find(id);
}

RootContext* findRoot(uint32_t id) {
  Entry* e = findEntry(id);
  return e == nullptr ? nullptr : e->root;
}

HttpContext* findStream(uint32_t id) {
  Entry* e = findEntry(id);
  return e == nullptr ? nullptr : e->stream;
}

void logUnknown(std::string_view callback, uint32_t id) {
  logWarn("proxy-wasm sdk: ", callback, " for unknown context id ", id);
}

// Stands in for a root_id nobody registered: refuses the configuration with a clear message.
class UnregisteredRoot : public RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view) override {
    std::string known;
    for (auto& [name, f] : factories()) {
      (void)f;
      known += known.empty() ? "" : ", ";
      known += "'" + name + "'";
    }
    logError("no root context registered for root_id '", rootId(),
             "' (registered: ", known.empty() ? "none" : known, ")");
    return false;
  }
};

std::string configurationOf(BufferType type, uint32_t size) {
  if (size == 0) return {};
  auto buf = getBufferBytes(type, 0, size);
  return buf ? buf->toString() : std::string();
}

}  // namespace

// ---- ContextBase / RootContext / HttpContext ----------------------------------------------------

ContextBase::ContextBase(uint32_t id) : id_(id) {}

RootContext::RootContext(uint32_t id, std::string_view root_id)
    : ContextBase(id), root_id_(root_id) {}
RootContext::~RootContext() = default;

WasmResult RootContext::setTickPeriod(std::chrono::milliseconds period) {
  return setTickPeriodMilliseconds(static_cast<uint32_t>(period.count()));
}

Result<uint32_t> RootContext::httpCall(std::string_view cluster, const HeaderList& headers,
                                       std::string_view body, const HeaderList& trailers,
                                       std::chrono::milliseconds timeout,
                                       HttpCallCallback callback) {
  auto token = dispatchHttpCall(cluster, headers, body, trailers, timeout);
  if (token) http_calls_[*token] = std::move(callback);
  return token;
}

Result<uint32_t> RootContext::grpcCall(std::string_view service, std::string_view service_name,
                                       std::string_view method, const HeaderList& initial_metadata,
                                       std::string_view message, std::chrono::milliseconds timeout,
                                       GrpcCallCallback callback) {
  auto token = dispatchGrpcCall(service, service_name, method, initial_metadata, message, timeout);
  if (token) grpc_calls_[*token] = std::move(callback);
  return token;
}

Result<GrpcStreamHandler*> RootContext::grpcStream(std::string_view service,
                                                   std::string_view service_name,
                                                   std::string_view method,
                                                   const HeaderList& initial_metadata,
                                                   std::unique_ptr<GrpcStreamHandler> handler) {
  auto token = openGrpcStream(service, service_name, method, initial_metadata);
  if (!token) return unexpected(token.error());
  handler->token_ = *token;
  handler->root_ = this;
  GrpcStreamHandler* raw = handler.get();
  streams_[*token] = std::move(handler);
  return raw;
}

void RootContext::cancelCall(uint32_t token) {
  if (http_calls_.erase(token) > 0) return;  // HTTP calls cannot be cancelled on the wire
  if (grpc_calls_.erase(token) > 0 || streams_.erase(token) > 0) grpcCancel(token);
}

bool RootContext::withStream(StreamRef ref, const std::function<void(HttpContext&)>& fn) {
  HttpContext* stream = findStream(ref.id);
  if (stream == nullptr || stream->ref().serial != ref.serial) return false;
  stream->setEffectiveContext();
  fn(*stream);
  return true;
}

void RootContext::onHttpCallResponse(uint32_t token, uint32_t headers, size_t body_size,
                                     uint32_t trailers) {
  auto it = http_calls_.find(token);
  if (it == http_calls_.end()) return;
  HttpCallCallback cb = std::move(it->second);
  http_calls_.erase(it);
  cb(HttpCallResponse(headers, body_size, trailers));
}

void RootContext::onGrpcReceiveInitialMetadata(uint32_t token, uint32_t elements) {
  auto it = streams_.find(token);
  if (it != streams_.end()) it->second->onReceiveInitialMetadata(elements);
}

void RootContext::onGrpcReceive(uint32_t token, size_t message_size) {
  if (auto it = grpc_calls_.find(token); it != grpc_calls_.end()) {
    GrpcCallCallback cb = std::move(it->second);
    grpc_calls_.erase(it);
    cb(GrpcCallResponse(GrpcStatus::Ok, message_size));
    return;
  }
  if (auto it = streams_.find(token); it != streams_.end()) it->second->onReceive(message_size);
}

void RootContext::onGrpcReceiveTrailingMetadata(uint32_t token, uint32_t elements) {
  auto it = streams_.find(token);
  if (it != streams_.end()) it->second->onReceiveTrailingMetadata(elements);
}

void RootContext::onGrpcClose(uint32_t token, GrpcStatus status) {
  if (auto it = grpc_calls_.find(token); it != grpc_calls_.end()) {
    GrpcCallCallback cb = std::move(it->second);
    grpc_calls_.erase(it);
    cb(GrpcCallResponse(status, 0));
    return;
  }
  if (auto it = streams_.find(token); it != streams_.end()) {
    std::unique_ptr<GrpcStreamHandler> handler = std::move(it->second);
    streams_.erase(it);
    handler->onRemoteClose(status);
  }
}

void GrpcStreamHandler::reset() {
  grpcCancel(token_);
  if (root_ != nullptr) root_->streams_.erase(token_);  // destroys *this; nothing may follow
}

uint32_t HttpCallResponse::status() const {
  if (failed()) return 0;
  auto v = getHeaderMapValue(MapType::HttpCallResponseHeaders, ":status");
  if (!v) return 0;
  uint32_t code = 0;
  auto s = v->view();
  auto r = std::from_chars(s.data(), s.data() + s.size(), code);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() ? code : 0;
}

std::optional<std::string> HttpCallResponse::header(std::string_view name) const {
  auto v = getHeaderMapValue(MapType::HttpCallResponseHeaders, name);
  if (!v) return std::nullopt;
  return v->toString();
}

HeaderList HttpCallResponse::headers() const {
  return getHeaderMap(MapType::HttpCallResponseHeaders).value_or(HeaderList{});
}

HeaderList HttpCallResponse::trailers() const {
  if (trailers_ == 0) return {};
  return getHeaderMap(MapType::HttpCallResponseTrailers).value_or(HeaderList{});
}

std::string HttpCallResponse::body() const {
  if (body_size_ == 0) return {};
  auto b = getBufferBytes(BufferType::HttpCallResponseBody, 0, body_size_);
  return b ? b->toString() : std::string();
}

std::string GrpcCallResponse::message() const {
  if (message_size_ == 0) return {};
  auto b = getBufferBytes(BufferType::GrpcReceiveBuffer, 0, message_size_);
  return b ? b->toString() : std::string();
}

std::string GrpcCallResponse::statusMessage() const {
  auto s = getStatus();
  return s ? s->message : std::string();
}

HttpContext::HttpContext(uint32_t id, RootContext* root)
    : ContextBase(id), root_(root), serial_(next_stream_serial++) {}
HttpContext::~HttpContext() = default;

void* HttpContext::operator new(size_t size) {
  return stream_blocks.take(size);
}
void HttpContext::operator delete(void* p, size_t size) {
  stream_blocks.give(p, size);
}

namespace {
std::optional<std::string> firstValue(MapType type, std::string_view name) {
  auto v = getHeaderMapValue(type, name);
  if (!v) return std::nullopt;
  return v->toString();
}
}  // namespace

std::optional<std::string> HttpContext::requestHeader(std::string_view name) const {
  return firstValue(MapType::HttpRequestHeaders, name);
}
std::optional<std::string> HttpContext::responseHeader(std::string_view name) const {
  return firstValue(MapType::HttpResponseHeaders, name);
}
std::optional<std::string> HttpContext::requestTrailer(std::string_view name) const {
  return firstValue(MapType::HttpRequestTrailers, name);
}
std::optional<std::string> HttpContext::responseTrailer(std::string_view name) const {
  return firstValue(MapType::HttpResponseTrailers, name);
}
HeaderList HttpContext::requestHeaders() const {
  return getHeaderMap(MapType::HttpRequestHeaders).value_or(HeaderList{});
}
HeaderList HttpContext::responseHeaders() const {
  return getHeaderMap(MapType::HttpResponseHeaders).value_or(HeaderList{});
}
WasmResult HttpContext::addRequestHeader(std::string_view name, std::string_view value) {
  return addHeaderMapValue(MapType::HttpRequestHeaders, name, value);
}
WasmResult HttpContext::replaceRequestHeader(std::string_view name, std::string_view value) {
  return replaceHeaderMapValue(MapType::HttpRequestHeaders, name, value);
}
WasmResult HttpContext::removeRequestHeader(std::string_view name) {
  return removeHeaderMapValue(MapType::HttpRequestHeaders, name);
}
WasmResult HttpContext::addResponseHeader(std::string_view name, std::string_view value) {
  return addHeaderMapValue(MapType::HttpResponseHeaders, name, value);
}
WasmResult HttpContext::replaceResponseHeader(std::string_view name, std::string_view value) {
  return replaceHeaderMapValue(MapType::HttpResponseHeaders, name, value);
}
WasmResult HttpContext::removeResponseHeader(std::string_view name) {
  return removeHeaderMapValue(MapType::HttpResponseHeaders, name);
}
std::string HttpContext::requestBody() const {
  auto b = getBuffer(BufferType::HttpRequestBody);
  return b ? b->toString() : std::string();
}
std::string HttpContext::responseBody() const {
  auto b = getBuffer(BufferType::HttpResponseBody);
  return b ? b->toString() : std::string();
}

Result<uint32_t> HttpContext::httpCall(std::string_view cluster, const HeaderList& headers,
                                       std::string_view body, const HeaderList& trailers,
                                       std::chrono::milliseconds timeout,
                                       StreamHttpCallback callback) {
  StreamRef self = ref();
  RootContext* root = root_;
  return root_->httpCall(cluster, headers, body, trailers, timeout,
                         [root, self, cb = std::move(callback)](const HttpCallResponse& response) {
                           if (!root->withStream(self, [&](HttpContext& s) { cb(s, response); })) {
                             logDebug("proxy-wasm sdk: stream ", self.id,
                                      " ended before its HTTP call answered");
                           }
                         });
}

Result<uint32_t> HttpContext::grpcCall(std::string_view service, std::string_view service_name,
                                       std::string_view method, const HeaderList& initial_metadata,
                                       std::string_view message, std::chrono::milliseconds timeout,
                                       StreamGrpcCallback callback) {
  StreamRef self = ref();
  RootContext* root = root_;
  return root_->grpcCall(service, service_name, method, initial_metadata, message, timeout,
                         [root, self, cb = std::move(callback)](const GrpcCallResponse& response) {
                           if (!root->withStream(self, [&](HttpContext& s) { cb(s, response); })) {
                             logDebug("proxy-wasm sdk: stream ", self.id,
                                      " ended before its gRPC call answered");
                           }
                         });
}

// ---- registry ------------------------------------------------------------------------------

void detail::registerFactories(RootFactory root, StreamFactory stream, std::string_view root_id) {
  factories()[std::string(root_id)] = Factories{std::move(root), std::move(stream)};
}

ContextBase* getContext(uint32_t id) {
  Entry* e = findEntry(id);
  return e == nullptr ? nullptr : e->context.get();
}
RootContext* getRootContext(uint32_t id) {
  return findRoot(id);
}
HttpContext* getHttpContext(uint32_t id) {
  return findStream(id);
}

}  // namespace proxy_wasm

// ---- exported callbacks ----------------------------------------------------------------------

using namespace proxy_wasm;  // NOLINT: this section only maps C entry points onto the classes.

extern "C" {

PROXY_WASM_EXPORT(proxy_on_context_create)
void proxy_on_context_create(uint32_t context_id, uint32_t parent_context_id) {
  auto& all = contexts();
  if (all.find(context_id) != nullptr) {
    logError("proxy-wasm sdk: context id ", context_id, " created twice");
    return;
  }
  Entry entry;
  if (parent_context_id == 0) {
    std::string root_id = getPropertyString({"plugin_root_id"}).value_or("");
    auto& f = factories();
    auto it = f.find(root_id);
    if (it == f.end() && !root_id.empty()) {
      it = f.find("");
      if (it != f.end()) {
        logDebug("proxy-wasm sdk: root_id '", root_id, "' not registered; using the default");
      }
    }
    if (it == f.end() || !it->second.root) {
      entry.context = std::make_unique<UnregisteredRoot>(context_id, root_id);
    } else {
      entry.context = it->second.root(context_id, root_id);
      entry.stream_factory = &it->second.stream;
    }
    entry.root = static_cast<RootContext*>(entry.context.get());
  } else {
    Entry* parent = findEntry(parent_context_id);
    if (parent == nullptr || parent->root == nullptr) {
      logUnknown("proxy_on_context_create (parent)", parent_context_id);
      return;
    }
    if (parent->stream_factory != nullptr && *parent->stream_factory) {
      entry.context = (*parent->stream_factory)(context_id, parent->root);
    } else {
      entry.context = std::make_unique<HttpContext>(context_id, parent->root);
    }
    entry.stream = static_cast<HttpContext*>(entry.context.get());
  }
  all.insert(context_id, std::move(entry)).context->onCreate();
}

PROXY_WASM_EXPORT(proxy_on_vm_start)
uint32_t proxy_on_vm_start(uint32_t root_context_id, uint32_t vm_configuration_size) {
  RootContext* root = findRoot(root_context_id);
  if (root == nullptr) {
    // Some hosts pass 0 here; start every root that exists instead.
    bool ok = true;
    std::string cfg = configurationOf(BufferType::VmConfiguration, vm_configuration_size);
    std::vector<RootContext*> roots;  // collected first: onStart may change the registry
    contexts().forEach([&](uint32_t, Entry& e) {
      if (e.root != nullptr) roots.push_back(e.root);
    });
    for (RootContext* r : roots) ok = r->onStart(cfg) && ok;
    return ok ? 1 : 0;
  }
  return root->onStart(configurationOf(BufferType::VmConfiguration, vm_configuration_size)) ? 1 : 0;
}

PROXY_WASM_EXPORT(proxy_validate_configuration)
uint32_t proxy_validate_configuration(uint32_t root_context_id, uint32_t configuration_size) {
  RootContext* root = findRoot(root_context_id);
  if (root == nullptr) return 0;
  return root->validateConfiguration(
             configurationOf(BufferType::PluginConfiguration, configuration_size))
             ? 1
             : 0;
}

PROXY_WASM_EXPORT(proxy_on_configure)
uint32_t proxy_on_configure(uint32_t root_context_id, uint32_t plugin_configuration_size) {
  RootContext* root = findRoot(root_context_id);
  if (root == nullptr) {
    logUnknown("proxy_on_configure", root_context_id);
    return 0;
  }
  return root->onConfigure(
             configurationOf(BufferType::PluginConfiguration, plugin_configuration_size))
             ? 1
             : 0;
}

PROXY_WASM_EXPORT(proxy_on_tick)
void proxy_on_tick(uint32_t root_context_id) {
  if (RootContext* root = findRoot(root_context_id)) root->onTick();
}

PROXY_WASM_EXPORT(proxy_on_queue_ready)
void proxy_on_queue_ready(uint32_t root_context_id, uint32_t queue_id) {
  if (RootContext* root = findRoot(root_context_id)) root->onQueueReady(queue_id);
}

PROXY_WASM_EXPORT(proxy_on_foreign_function)
void proxy_on_foreign_function(uint32_t context_id, uint32_t function_id, uint32_t arguments_size) {
  if (Entry* e = findEntry(context_id)) e->context->onForeignFunction(function_id, arguments_size);
}

PROXY_WASM_EXPORT(proxy_on_delete)
void proxy_on_delete(uint32_t context_id) {
  Entry* e = findEntry(context_id);
  if (e == nullptr) return;
  e->context->onDelete();
  contexts().erase(context_id);  // by key: onDelete may have created or deleted other contexts
}

PROXY_WASM_EXPORT(proxy_on_http_call_response)
void proxy_on_http_call_response(uint32_t root_context_id, uint32_t token, uint32_t headers,
                                 uint32_t body_size, uint32_t trailers) {
  if (RootContext* root = findRoot(root_context_id)) {
    root->onHttpCallResponse(token, headers, body_size, trailers);
  }
}

PROXY_WASM_EXPORT(proxy_on_grpc_receive_initial_metadata)
void proxy_on_grpc_receive_initial_metadata(uint32_t root_context_id, uint32_t token,
                                            uint32_t elements) {
  if (RootContext* root = findRoot(root_context_id)) {
    root->onGrpcReceiveInitialMetadata(token, elements);
  }
}

PROXY_WASM_EXPORT(proxy_on_grpc_receive)
void proxy_on_grpc_receive(uint32_t root_context_id, uint32_t token, uint32_t message_size) {
  if (RootContext* root = findRoot(root_context_id)) root->onGrpcReceive(token, message_size);
}

PROXY_WASM_EXPORT(proxy_on_grpc_receive_trailing_metadata)
void proxy_on_grpc_receive_trailing_metadata(uint32_t root_context_id, uint32_t token,
                                             uint32_t elements) {
  if (RootContext* root = findRoot(root_context_id)) {
    root->onGrpcReceiveTrailingMetadata(token, elements);
  }
}

PROXY_WASM_EXPORT(proxy_on_grpc_close)
void proxy_on_grpc_close(uint32_t root_context_id, uint32_t token, uint32_t status_code) {
  if (RootContext* root = findRoot(root_context_id)) {
    root->onGrpcClose(token, static_cast<GrpcStatus>(status_code));
  }
}

}  // extern "C"
