// Contexts: the objects a plugin author subclasses.
//
//  * RootContext: one per plugin per VM (per worker thread in Envoy). Receives configuration,
//    ticks, queue notifications and every callout answer. Owns shared state of the plugin.
//  * HttpContext: one per HTTP stream (or TCP connection). Receives the stream's callbacks and acts
//    on that stream.
//
// Register both with a root_id:
//
//   static proxy_wasm::RegisterContextFactory reg(
//       proxy_wasm::rootFactory<MyRoot>(), proxy_wasm::streamFactory<MyStream>(), "my_root_id");
//
// Async work on a stream (callouts, ticks) goes through HttpContext::httpCall / grpcCall or
// RootContext::withStream: the SDK checks that the stream is still alive and sets the effective
// context before running your code, so continueRequest() and sendLocalResponse() act on the right
// stream, and a stream that ended while you waited is never touched.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include "proxy_wasm/sdk/api.h"

namespace proxy_wasm {

class HttpContext;

namespace detail {
// The stream type a callout callback takes first, when it is a class derived from HttpContext
// (a lambda `[](MyStream& self, const HttpCallResponse& r) {...}`); void otherwise.
template <class M>
struct CalloutSelfOf {  // not a (Stream&, const Response&) call operator
  using type = void;
};
template <class C, class R, class A, class B>
struct CalloutSelfOf<R (C::*)(A, B) const> {
  using type = std::conditional_t<
      std::is_lvalue_reference_v<A> && std::is_base_of_v<HttpContext, std::remove_reference_t<A>> &&
          !std::is_same_v<HttpContext, std::remove_cv_t<std::remove_reference_t<A>>>,
      std::remove_reference_t<A>, void>;
};
template <class C, class R, class A, class B>
struct CalloutSelfOf<R (C::*)(A, B)> : CalloutSelfOf<R (C::*)(A, B) const> {};
template <class F, class = void>
struct CalloutSelf {  // function pointers, generic lambdas: no stream type to find
  using type = void;
};
template <class F>
struct CalloutSelf<F, std::void_t<decltype(&F::operator())>>
    : CalloutSelfOf<decltype(&F::operator())> {};
template <class F>
using CalloutSelfT = typename CalloutSelf<std::decay_t<F>>::type;
}  // namespace detail

class RootContext;
class HttpContext;

class ContextBase {
 public:
  explicit ContextBase(uint32_t id);
  virtual ~ContextBase() = default;
  ContextBase(const ContextBase&) = delete;
  ContextBase& operator=(const ContextBase&) = delete;

  uint32_t id() const { return id_; }
  // Makes this context the target of the following hostcalls in the current callback.
  WasmResult setEffectiveContext() const { return proxy_wasm::setEffectiveContext(id_); }

  virtual void onCreate() {}
  // Called by the host just before the context is destroyed.
  virtual void onDelete() {}
  virtual void onForeignFunction(uint32_t /*function_id*/, size_t /*arguments_size*/) {}

 private:
  uint32_t id_;
};

// A weak reference to a stream: survives the stream, and tells whether it is still alive.
struct StreamRef {
  uint32_t id = 0;
  uint64_t serial = 0;
};

// The answer to an HTTP callout, readable only inside the callback that receives it.
class HttpCallResponse {
 public:
  HttpCallResponse(uint32_t headers, size_t body_size, uint32_t trailers)
      : headers_(headers), body_size_(body_size), trailers_(trailers) {}
  // True when the call failed without a response (connection failure, reset, timeout).
  bool failed() const { return headers_ == 0; }
  // The :status of the response, 0 when failed or absent.
  uint32_t status() const;
  std::optional<std::string> header(std::string_view name) const;
  HeaderList headers() const;
  HeaderList trailers() const;
  std::string body() const;
  size_t bodySize() const { return body_size_; }

 private:
  uint32_t headers_;
  size_t body_size_;
  uint32_t trailers_;
};

// The answer to a unary gRPC call: status OK with the response message, or the failure status.
class GrpcCallResponse {
 public:
  GrpcCallResponse(GrpcStatus status, size_t message_size)
      : status_(status), message_size_(message_size) {}
  GrpcStatus status() const { return status_; }
  bool ok() const { return status_ == GrpcStatus::Ok; }
  // The response message (OK) or empty.
  std::string message() const;
  // The status message from the host (failures).
  std::string statusMessage() const;

 private:
  GrpcStatus status_;
  size_t message_size_;
};

// Receives the events of one gRPC stream opened with RootContext::grpcStream. Owned by the root;
// destroyed after onRemoteClose or after reset().
class GrpcStreamHandler {
 public:
  virtual ~GrpcStreamHandler() = default;
  virtual void onReceiveInitialMetadata(uint32_t /*elements*/) {}
  virtual void onReceive(size_t message_size) = 0;
  virtual void onReceiveTrailingMetadata(uint32_t /*elements*/) {}
  virtual void onRemoteClose(GrpcStatus status) = 0;

  uint32_t token() const { return token_; }
  [[nodiscard]] WasmResult send(std::string_view message, bool end_of_stream = false) {
    return grpcSend(token_, message, end_of_stream);
  }
  // Half-closes locally; remote messages may still arrive.
  WasmResult close() { return grpcClose(token_); }
  // Cancels the stream; no further events arrive and the handler is destroyed.
  void reset();

 private:
  friend class RootContext;
  uint32_t token_ = 0;
  RootContext* root_ = nullptr;
};

class RootContext : public ContextBase {
 public:
  RootContext(uint32_t id, std::string_view root_id);
  ~RootContext() override;

  std::string_view rootId() const { return root_id_; }

  // Lifecycle. Returning false from onStart or onConfigure rejects the plugin.
  virtual bool validateConfiguration(std::string_view /*configuration*/) { return true; }
  virtual bool onStart(std::string_view /*vm_configuration*/) { return true; }
  virtual bool onConfigure(std::string_view /*configuration*/) { return true; }
  virtual void onTick() {}
  virtual void onQueueReady(uint32_t /*queue_id*/) {}
  // Return false to finish asynchronously, then call done().
  virtual bool onDone() { return true; }
  WasmResult done() { return proxy_wasm::done(); }

  WasmResult setTickPeriod(std::chrono::milliseconds period);

  // HTTP callout owned by this root. The callback runs in this root's context.
  using HttpCallCallback = std::function<void(const HttpCallResponse&)>;
  Result<uint32_t> httpCall(std::string_view cluster, const HeaderList& headers,
                            std::string_view body, const HeaderList& trailers,
                            std::chrono::milliseconds timeout, HttpCallCallback callback);

  using GrpcCallCallback = std::function<void(const GrpcCallResponse&)>;
  Result<uint32_t> grpcCall(std::string_view service, std::string_view service_name,
                            std::string_view method, const HeaderList& initial_metadata,
                            std::string_view message, std::chrono::milliseconds timeout,
                            GrpcCallCallback callback);
  // Opens a bidirectional stream; the handler receives its events. Returns the handler.
  Result<GrpcStreamHandler*> grpcStream(std::string_view service, std::string_view service_name,
                                        std::string_view method, const HeaderList& initial_metadata,
                                        std::unique_ptr<GrpcStreamHandler> handler);
  // Cancels a pending HTTP/gRPC call or stream; its callback never runs.
  void cancelCall(uint32_t token);
  size_t pendingCalls() const { return http_calls_.size() + grpc_calls_.size() + streams_.size(); }

  // Runs `fn` on the stream if it is still alive, with the effective context set to it.
  // Returns false (and does nothing) when the stream has ended.
  bool withStream(StreamRef ref, const std::function<void(HttpContext&)>& fn);

  // Low-level callout entry points. The defaults dispatch to the callbacks above; override only
  // to take full control.
  virtual void onHttpCallResponse(uint32_t token, uint32_t headers, size_t body_size,
                                  uint32_t trailers);
  virtual void onGrpcReceiveInitialMetadata(uint32_t token, uint32_t elements);
  virtual void onGrpcReceive(uint32_t token, size_t message_size);
  virtual void onGrpcReceiveTrailingMetadata(uint32_t token, uint32_t elements);
  virtual void onGrpcClose(uint32_t token, GrpcStatus status);

 private:
  friend class GrpcStreamHandler;
  std::string root_id_;
  std::unordered_map<uint32_t, HttpCallCallback> http_calls_;
  std::unordered_map<uint32_t, GrpcCallCallback> grpc_calls_;
  std::unordered_map<uint32_t, std::unique_ptr<GrpcStreamHandler>> streams_;
};

// The per-stream context. Subclass it and override the callbacks you need; every default
// continues. The TCP callbacks are here too: the same context type serves network filters.
class HttpContext : public ContextBase {
 public:
  HttpContext(uint32_t id, RootContext* root);
  ~HttpContext() override;

  // A stream context lives for one request: the SDK keeps the memory of a few ended ones for the
  // next streams instead of returning it to malloc every time (derived classes inherit this).
  static void* operator new(size_t size);
  static void operator delete(void* p, size_t size);
  static void* operator new(size_t size, std::align_val_t align) {
    return ::operator new(size, align);
  }
  static void operator delete(void* p, size_t size, std::align_val_t align) {
    ::operator delete(p, size, align);
  }

  RootContext* root() const { return root_; }
  template <class T>
  T& rootAs() const {
    return *static_cast<T*>(root_);
  }
  // A weak reference usable from later callbacks (see RootContext::withStream).
  StreamRef ref() const { return {id(), serial_}; }

  // HTTP callbacks.
  virtual FilterHeadersStatus onRequestHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterDataStatus onRequestBody(size_t /*body_size*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onRequestTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }
  virtual FilterMetadataStatus onRequestMetadata(uint32_t /*elements*/) {
    return FilterMetadataStatus::Continue;
  }
  virtual FilterHeadersStatus onResponseHeaders(uint32_t /*headers*/, bool /*end_of_stream*/) {
    return FilterHeadersStatus::Continue;
  }
  virtual FilterDataStatus onResponseBody(size_t /*body_size*/, bool /*end_of_stream*/) {
    return FilterDataStatus::Continue;
  }
  virtual FilterTrailersStatus onResponseTrailers(uint32_t /*trailers*/) {
    return FilterTrailersStatus::Continue;
  }
  virtual FilterMetadataStatus onResponseMetadata(uint32_t /*elements*/) {
    return FilterMetadataStatus::Continue;
  }
  // Access-log time: headers of both directions are readable. Hosts call onLog and onDone in
  // either order (Envoy: onLog first); do not depend on the order.
  virtual void onLog() {}
  virtual void onDone() {}

  // TCP callbacks.
  virtual FilterStatus onNewConnection() { return FilterStatus::Continue; }
  virtual FilterStatus onDownstreamData(size_t /*size*/, bool /*end_of_stream*/) {
    return FilterStatus::Continue;
  }
  virtual FilterStatus onUpstreamData(size_t /*size*/, bool /*end_of_stream*/) {
    return FilterStatus::Continue;
  }
  virtual void onDownstreamConnectionClose(PeerType) {}
  virtual void onUpstreamConnectionClose(PeerType) {}

  // Header helpers (first value of a header; nullopt when absent).
  std::optional<std::string> requestHeader(std::string_view name) const;
  std::optional<std::string> responseHeader(std::string_view name) const;
  HeaderList requestHeaders() const;
  HeaderList responseHeaders() const;
  [[nodiscard]] WasmResult addRequestHeader(std::string_view name, std::string_view value);
  [[nodiscard]] WasmResult replaceRequestHeader(std::string_view name, std::string_view value);
  [[nodiscard]] WasmResult removeRequestHeader(std::string_view name);
  [[nodiscard]] WasmResult addResponseHeader(std::string_view name, std::string_view value);
  [[nodiscard]] WasmResult replaceResponseHeader(std::string_view name, std::string_view value);
  [[nodiscard]] WasmResult removeResponseHeader(std::string_view name);
  std::optional<std::string> requestTrailer(std::string_view name) const;
  std::optional<std::string> responseTrailer(std::string_view name) const;
  std::string requestBody() const;
  std::string responseBody() const;

  WasmResult continueRequest() { return continueStream(StreamType::Request); }
  WasmResult continueResponse() { return continueStream(StreamType::Response); }
  WasmResult closeRequest() { return closeStream(StreamType::Request); }
  WasmResult closeResponse() { return closeStream(StreamType::Response); }

  // HTTP callout on behalf of this stream. The callback runs with this stream as the effective
  // context, and only if the stream is still alive when the answer arrives.
  using StreamHttpCallback = std::function<void(HttpContext&, const HttpCallResponse&)>;
  Result<uint32_t> httpCall(std::string_view cluster, const HeaderList& headers,
                            std::string_view body, const HeaderList& trailers,
                            std::chrono::milliseconds timeout, StreamHttpCallback callback);
  using StreamGrpcCallback = std::function<void(HttpContext&, const GrpcCallResponse&)>;
  Result<uint32_t> grpcCall(std::string_view service, std::string_view service_name,
                            std::string_view method, const HeaderList& initial_metadata,
                            std::string_view message, std::chrono::milliseconds timeout,
                            StreamGrpcCallback callback);

  // The same with a callback that takes the author's own stream type first, so it needs no cast:
  //   httpCall("keys", headers, "", {}, 500ms, [](MyStream& self, const HttpCallResponse& r) {..});
  template <class F, class Self = detail::CalloutSelfT<F>>
    requires(!std::is_void_v<Self>)
  Result<uint32_t> httpCall(std::string_view cluster, const HeaderList& headers,
                            std::string_view body, const HeaderList& trailers,
                            std::chrono::milliseconds timeout, F callback) {
    return httpCall(cluster, headers, body, trailers, timeout,
                    StreamHttpCallback([f = std::move(callback)](
                                           HttpContext& self, const HttpCallResponse& r) mutable {
                      f(static_cast<Self&>(self), r);
                    }));
  }
  template <class F, class Self = detail::CalloutSelfT<F>>
    requires(!std::is_void_v<Self>)
  Result<uint32_t> grpcCall(std::string_view service, std::string_view service_name,
                            std::string_view method, const HeaderList& initial_metadata,
                            std::string_view message, std::chrono::milliseconds timeout,
                            F callback) {
    return grpcCall(service, service_name, method, initial_metadata, message, timeout,
                    StreamGrpcCallback([f = std::move(callback)](
                                           HttpContext& self, const GrpcCallResponse& r) mutable {
                      f(static_cast<Self&>(self), r);
                    }));
  }

 private:
  RootContext* root_;
  uint64_t serial_;
};

// ---- registration --------------------------------------------------------------------------

using RootFactory = std::function<std::unique_ptr<RootContext>(uint32_t id, std::string_view)>;
using StreamFactory = std::function<std::unique_ptr<HttpContext>(uint32_t id, RootContext*)>;

// Looks up a live context by id (nullptr if none): for tests and advanced plugins.
ContextBase* getContext(uint32_t id);
RootContext* getRootContext(uint32_t id);
HttpContext* getHttpContext(uint32_t id);

namespace detail {

// Calls `method` on stream `id`; its result as the ABI's u32 (0, Continue, for an unknown stream).
template <auto method, class... Args>
uint32_t onStream(uint32_t id, Args... args) {
  HttpContext* s = getHttpContext(id);
  if (s == nullptr) return 0;
  if constexpr (std::is_void_v<decltype((s->*method)(args...))>) {
    (s->*method)(args...);
    return 0;
  } else {
    return uint32_t((s->*method)(args...));
  }
}

// The stream callbacks a plugin exports only when it needs them. Every callback is optional in
// the ABI: a host skips one the module does not export (Envoy: Continue for a stream callback,
// "done" for proxy_on_done). A call into a plugin is most of a trivial callback's cost, so a
// module exports a stream callback only when a context class it registers overrides the method
// behind it: the scaffold (onRequestHeaders, onResponseHeaders) takes 4 calls per request, not 7.
//
// rootFactory<T>() and streamFactory<T>() instantiate the exports for what T overrides; a factory
// of a class the SDK cannot see (any other callable) instantiates them all. Each export is a
// function template, emitted (and so exported) only in a module that instantiates it. Not the
// members of one class template: export_name marks a function used, so instantiating the class
// would emit them all.
template <class Tag>
PROXY_WASM_EXPORT(proxy_on_request_headers)
uint32_t exportRequestHeaders(uint32_t id, uint32_t headers, uint32_t end_of_stream) {
  return onStream<&HttpContext::onRequestHeaders>(id, headers, end_of_stream != 0);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_request_body)
uint32_t exportRequestBody(uint32_t id, uint32_t body_size, uint32_t end_of_stream) {
  return onStream<&HttpContext::onRequestBody>(id, body_size, end_of_stream != 0);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_request_trailers)
uint32_t exportRequestTrailers(uint32_t id, uint32_t trailers) {
  return onStream<&HttpContext::onRequestTrailers>(id, trailers);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_request_metadata)
uint32_t exportRequestMetadata(uint32_t id, uint32_t elements) {
  return onStream<&HttpContext::onRequestMetadata>(id, elements);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_response_headers)
uint32_t exportResponseHeaders(uint32_t id, uint32_t headers, uint32_t end_of_stream) {
  return onStream<&HttpContext::onResponseHeaders>(id, headers, end_of_stream != 0);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_response_body)
uint32_t exportResponseBody(uint32_t id, uint32_t body_size, uint32_t end_of_stream) {
  return onStream<&HttpContext::onResponseBody>(id, body_size, end_of_stream != 0);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_response_trailers)
uint32_t exportResponseTrailers(uint32_t id, uint32_t trailers) {
  return onStream<&HttpContext::onResponseTrailers>(id, trailers);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_response_metadata)
uint32_t exportResponseMetadata(uint32_t id, uint32_t elements) {
  return onStream<&HttpContext::onResponseMetadata>(id, elements);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_log)
void exportLog(uint32_t id) {
  onStream<&HttpContext::onLog>(id);
}

// For streams and roots (RootContext::onDone may finish later).
template <class Tag>
PROXY_WASM_EXPORT(proxy_on_done)
uint32_t exportDone(uint32_t id) {
  if (HttpContext* s = getHttpContext(id)) {
    s->onDone();
    return 1;
  }
  RootContext* r = getRootContext(id);
  return r == nullptr || r->onDone() ? 1 : 0;
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_new_connection)
uint32_t exportNewConnection(uint32_t id) {
  return onStream<&HttpContext::onNewConnection>(id);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_downstream_data)
uint32_t exportDownstreamData(uint32_t id, uint32_t data_size, uint32_t end_of_stream) {
  return onStream<&HttpContext::onDownstreamData>(id, data_size, end_of_stream != 0);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_upstream_data)
uint32_t exportUpstreamData(uint32_t id, uint32_t data_size, uint32_t end_of_stream) {
  return onStream<&HttpContext::onUpstreamData>(id, data_size, end_of_stream != 0);
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_downstream_connection_close)
void exportDownstreamConnectionClose(uint32_t id, uint32_t peer_type) {
  onStream<&HttpContext::onDownstreamConnectionClose>(id, PeerType(peer_type));
}

template <class Tag>
PROXY_WASM_EXPORT(proxy_on_upstream_connection_close)
void exportUpstreamConnectionClose(uint32_t id, uint32_t peer_type) {
  onStream<&HttpContext::onUpstreamConnectionClose>(id, PeerType(peer_type));
}

// Instantiates an export and keeps it: a volatile store the compiler cannot drop.
inline void (*volatile kept_export)() = nullptr;
template <class F>
void keepExport(F* f) {
  kept_export = reinterpret_cast<void (*)()>(f);
}

// Whether T overrides Base::method: &T::method then names another class, or is not one function
// (T overloads the name: assumed overridden). Only where T is a template parameter.
#define PROXY_WASM_SDK_OVERRIDES(T, Base, method) \
  (!requires { requires std::is_same_v<decltype(&T::method), decltype(&Base::method)>; })

// `All` exports every stream callback; otherwise those that T (an HttpContext) overrides. The
// exports depend on T, so that only an instantiation for some T emits them (callers pass a type
// that depends on their own template parameters, for the same reason).
template <class T, bool All = false>
void exportStreamCallbacks() {
  using Tag = std::enable_if_t<sizeof(T) != 0>;
#define PROXY_WASM_EXPORT_IF_OVERRIDDEN(method, exported) \
  if constexpr (All || PROXY_WASM_SDK_OVERRIDES(T, HttpContext, method)) keepExport(&exported<Tag>);
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onRequestHeaders, exportRequestHeaders)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onRequestBody, exportRequestBody)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onRequestTrailers, exportRequestTrailers)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onRequestMetadata, exportRequestMetadata)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onResponseHeaders, exportResponseHeaders)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onResponseBody, exportResponseBody)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onResponseTrailers, exportResponseTrailers)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onResponseMetadata, exportResponseMetadata)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onLog, exportLog)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onDone, exportDone)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onNewConnection, exportNewConnection)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onDownstreamData, exportDownstreamData)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onUpstreamData, exportUpstreamData)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onDownstreamConnectionClose, exportDownstreamConnectionClose)
  PROXY_WASM_EXPORT_IF_OVERRIDDEN(onUpstreamConnectionClose, exportUpstreamConnectionClose)
#undef PROXY_WASM_EXPORT_IF_OVERRIDDEN
}

// A root's one stream-time callback: proxy_on_done, when T (a RootContext) overrides onDone.
template <class T, bool All = false>
void exportRootCallbacks() {
  using Tag = std::enable_if_t<sizeof(T) != 0>;
  if constexpr (All || PROXY_WASM_SDK_OVERRIDES(T, RootContext, onDone))
    keepExport(&exportDone<Tag>);
}

void registerFactories(RootFactory root, StreamFactory stream, std::string_view root_id);

}  // namespace detail

// A factory of a known context class, made by rootFactory<T>() or streamFactory<T>(): the plugin
// exports only the stream callbacks that class overrides. Converts to the plain factory.
template <class Factory>
struct ClassFactory {
  Factory make;
  operator Factory() const& { return make; }
  operator Factory() && { return std::move(make); }
  template <class... Args>
  auto operator()(Args&&... args) const {
    return make(std::forward<Args>(args)...);
  }
};

template <class T>
ClassFactory<RootFactory> rootFactory() {
  static_assert(std::is_base_of_v<RootContext, T>,
                "rootFactory<T>: T must derive from RootContext");
  detail::exportRootCallbacks<T>();
  return {[](uint32_t id, std::string_view root_id) -> std::unique_ptr<RootContext> {
    return std::make_unique<T>(id, root_id);
  }};
}
template <class T>
ClassFactory<StreamFactory> streamFactory() {
  static_assert(std::is_base_of_v<HttpContext, T>,
                "streamFactory<T>: T must derive from HttpContext");
  detail::exportStreamCallbacks<T>();
  return {[](uint32_t id, RootContext* root) -> std::unique_ptr<HttpContext> {
    return std::make_unique<T>(id, root);
  }};
}

// Registers the factories of a plugin under `root_id` (the plugin config's root_id; "" is the
// default). Meant for a namespace-scope static; it makes no hostcall. When the host asks for a
// root_id that nobody registered, the "" registration is used if there is one; otherwise the
// plugin refuses its configuration with an error naming the root_id.
//
// Factories made by rootFactory<T>() and streamFactory<T>() export only the stream callbacks their
// classes override (see detail::exportStreamCallbacks); any other callable (or an empty factory)
// exports every stream callback.
struct RegisterContextFactory {
  template <class Root = RootFactory, class Stream = StreamFactory>
    requires std::is_convertible_v<Root, RootFactory> &&
             std::is_convertible_v<Stream, StreamFactory>
  RegisterContextFactory(Root root, Stream stream, std::string_view root_id = "") {
    if constexpr (!std::is_same_v<Root, ClassFactory<RootFactory>>) {
      detail::exportRootCallbacks<Root, /*all=*/true>();  // dependent: instantiated only here
    }
    if constexpr (!std::is_same_v<Stream, ClassFactory<StreamFactory>>) {
      detail::exportStreamCallbacks<Stream, /*all=*/true>();
    }
    detail::registerFactories(std::move(root), std::move(stream), root_id);
  }
};

}  // namespace proxy_wasm
