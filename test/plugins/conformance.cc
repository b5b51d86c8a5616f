// The host conformance plugin: each request path exercises one area of the ABI and reports what
// it saw in request headers (x-got-*) or logs, so host tests can assert exact behaviour.
//
// Configuration (plain text): "reject" refuses it; "tick:<ms>" starts a tick; anything else is
// accepted. The VM configuration is echoed in a log line on start.
#include <cstdlib>
#include <string>

#include "proxy_wasm/sdk.h"

using namespace proxy_wasm;

namespace {

// Records a gRPC stream's events ("md:server-md=hello;msg:echo:a;...;close:0") and resumes the
// HTTP stream that opened it with them.
class ChatHandler : public GrpcStreamHandler {
 public:
  ChatHandler(StreamRef stream, RootContext* root) : stream_(stream), root_(root) {}
  void onReceiveInitialMetadata(uint32_t) override { record("md", GrpcReceiveInitialMetadata); }
  void onReceive(size_t size) override {
    auto b = getBufferBytes(BufferType::GrpcReceiveBuffer, 0, size);
    seen_ += "msg:" + (b ? b->toString() : std::string("?")) + ";";
  }
  void onReceiveTrailingMetadata(uint32_t) override {
    record("trailer", GrpcReceiveTrailingMetadata);
  }
  void onRemoteClose(GrpcStatus status) override {
    seen_ += strCat("close:", static_cast<uint32_t>(status));
    const std::string seen = seen_;
    root_->withStream(stream_, [seen](HttpContext& s) {
      (void)s.replaceRequestHeader("x-grpc-stream", seen);
      s.continueRequest();
    });
  }

 private:
  static constexpr MapType GrpcReceiveInitialMetadata = MapType::GrpcReceiveInitialMetadata;
  static constexpr MapType GrpcReceiveTrailingMetadata = MapType::GrpcReceiveTrailingMetadata;
  void record(const char* what, MapType type) {
    auto pairs = getHeaderMapPairs(type);
    if (!pairs) return;
    for (const auto& [k, v] : pairs->pairs()) {
      if (k.substr(0, 7) == "server-") seen_ += strCat(what, ":", k, "=", v, ";");
    }
  }
  StreamRef stream_;
  RootContext* root_;
  std::string seen_;
};

class Root : public RootContext {
 public:
  using RootContext::RootContext;

  bool onStart(std::string_view vm_configuration) override {
    logInfo("on_vm_start vm_config=", vm_configuration);
    auto q = registerSharedQueue("conformance_queue");
    if (q) queue_ = *q;
    return true;
  }

  bool onConfigure(std::string_view configuration) override {
    logInfo("on_configure config=", configuration);
    if (configuration == "reject") return false;
    if (configuration.substr(0, 5) == "tick:") {
      setTickPeriod(
          std::chrono::milliseconds(std::atoi(std::string(configuration.substr(5)).c_str())));
    }
    return true;
  }

  void onTick() override {
    ++ticks_;
    logInfo("tick ", ticks_);
    // Resume every stream parked on /pause-tick.
    for (StreamRef ref : parked_) {
      withStream(ref, [](HttpContext& s) {
        (void)s.addRequestHeader("x-resumed-by", "tick");
        s.continueRequest();
      });
    }
    parked_.clear();
  }

  void onQueueReady(uint32_t queue_id) override {
    while (true) {
      auto item = dequeueSharedQueue(queue_id);
      if (!item) break;
      logInfo("dequeued ", item->view());
    }
  }

  bool onDone() override {
    logInfo("root on_done");
    return true;
  }

  uint32_t queue_ = 0;
  int ticks_ = 0;
  std::vector<StreamRef> parked_;
  Counter requests_{"conformance.requests", {"path"}};
  Gauge last_size_{"conformance.last_header_count"};
  Histogram sizes_{"conformance.header_bytes"};
};

std::string str(uint64_t v) {
  return strCat(v);
}

class Stream : public HttpContext {
 public:
  using HttpContext::HttpContext;

  FilterHeadersStatus onRequestHeaders(uint32_t headers, bool) override {
    Root& root = rootAs<Root>();
    std::string path = requestHeader(":path").value_or("");
    root.requests_.increment(1, {path});
    root.last_size_.set(headers);
    root.sizes_.record(getHeaderMapSize(MapType::HttpRequestHeaders).value_or(0));

    // x-pause-callout: <ms>  pause on the headers until an HTTP callout answered after <ms>
    // comes back, then resume (the pattern of auth plugins); x-pause-body-callout does the same
    // at the end of the request body.
    if (auto delay = requestHeader("x-pause-callout")) {
      return pauseOnCallout(*delay) ? FilterHeadersStatus::StopIteration
                                    : FilterHeadersStatus::Continue;
    }
    if (path == "/fidelity") {
      // What Envoy answers: header pairs in arrival order, absent attributes NotFound, the other
      // direction's body an empty buffer, "the rest from N" ranges clamped.
      std::string order;
      if (auto pairs = getHeaderMapPairs(MapType::HttpRequestHeaders)) {
        for (const auto& [k, v] : pairs->pairs()) {
          if (k.substr(0, 2) == "x-") order += strCat(k, "=", v, ";");
        }
      }
      (void)replaceRequestHeader("x-got-order", order);
      auto found = [](PropertyPath p) {
        auto v = getProperty(p);
        return v ? strCat("ok:", v->view()) : strCat("error:", static_cast<uint32_t>(v.error()));
      };
      (void)replaceRequestHeader("x-got-referer", found({"request", "referer"}));
      (void)replaceRequestHeader("x-got-useragent", found({"request", "useragent"}));
      (void)replaceRequestHeader("x-got-response-code", found({"response", "code"}));
      auto other = getBufferBytes(BufferType::HttpResponseBody, 0, 10);
      (void)replaceRequestHeader("x-got-other-body",
                                 other ? strCat("ok:", other->size())
                                       : strCat("error:", static_cast<uint32_t>(other.error())));
      return FilterHeadersStatus::Continue;
    }
    if (path == "/local-json") {
      sendLocalResponse(403, R"({"denied":true})", {{"content-type", "application/json"}});
      return FilterHeadersStatus::StopIteration;
    }
    if (path == "/headers") {
      // Read 3 headers, add, replace, remove.
      (void)replaceRequestHeader("x-got-a", requestHeader("a").value_or("<none>"));
      (void)replaceRequestHeader("x-got-b", requestHeader("B").value_or("<none>"));
      (void)replaceRequestHeader(
          "x-got-missing",
          getHeaderMapValue(MapType::HttpRequestHeaders, "missing").ok() ? "present" : "not-found");
      (void)addRequestHeader("x-added", "1");
      (void)replaceRequestHeader("x-replace", "new");
      (void)removeRequestHeader("x-remove");
      (void)replaceRequestHeader("x-got-count", str(headers));
      return FilterHeadersStatus::Continue;
    }
    if (path == "/set-pairs") {
      (void)setHeaderMapPairs(MapType::HttpRequestHeaders,
                              {{":path", "/rewritten"}, {"only", "this"}});
      return FilterHeadersStatus::Continue;
    }
    if (path == "/local-reply") {
      sendLocalResponse(418, "teapot", {{"x-local", "1"}}, "my details here");
      return FilterHeadersStatus::Continue;  // the host forces stop after a local reply
    }
    if (path == "/pause-tick") {
      root.parked_.push_back(ref());
      return FilterHeadersStatus::StopIteration;
    }
    if (path == "/callout") {
      auto token = httpCall(
          "auth_cluster", {{":method", "POST"}, {":path", "/check"}, {":authority", "auth"}},
          "payload", {}, std::chrono::milliseconds(1000),
          [](HttpContext& self, const HttpCallResponse& r) {
            if (r.failed()) {
              sendLocalResponse(503, "callout failed", {}, "callout_failed");
              return;
            }
            (void)self.addRequestHeader("x-callout-status", str(r.status()));
            (void)self.addRequestHeader("x-callout-body", r.body());
            (void)self.addRequestHeader("x-callout-header", r.header("x-reply").value_or("<none>"));
            self.continueRequest();
          });
      if (!token) {
        sendLocalResponse(500, strCat("http call failed: ", static_cast<uint32_t>(token.error())));
        return FilterHeadersStatus::StopIteration;
      }
      return FilterHeadersStatus::StopIteration;
    }
    if (path == "/grpc") {
      // x-grpc-method picks the method; x-grpc-upstream: proto names the cluster by a serialized
      // envoy.config.core.v3.GrpcService {envoy_grpc {cluster_name}} instead of by name.
      const std::string method = requestHeader("x-grpc-method").value_or("Method");
      std::string upstream = "grpc_cluster";
      if (requestHeader("x-grpc-upstream").value_or("") == "proto") {
        const std::string inner = std::string(1, '\x0a') + char(upstream.size()) + upstream;
        upstream = std::string(1, '\x0a') + char(inner.size()) + inner;
      }
      auto token = grpcCall(
          upstream, "pkg.Service", method, {{"md", "1"}}, "request",
          std::chrono::milliseconds(1000), [](HttpContext& self, const GrpcCallResponse& r) {
            (void)self.addRequestHeader("x-grpc-status", str(static_cast<uint32_t>(r.status())));
            (void)self.addRequestHeader("x-grpc-message", r.ok() ? r.message() : r.statusMessage());
            self.continueRequest();
          });
      if (!token) {
        (void)replaceRequestHeader("x-grpc-call-result", str(static_cast<uint32_t>(token.error())));
        return FilterHeadersStatus::Continue;
      }
      return FilterHeadersStatus::StopIteration;
    }
    if (path == "/grpc-stream") {
      // A bidi stream: sends "a" then "b" with end_of_stream; on the remote close, the request
      // goes on carrying what the stream saw (x-grpc-stream: the events in order).
      RootContext* owner = HttpContext::root();
      auto handler = std::make_unique<ChatHandler>(ref(), owner);
      auto stream = owner->grpcStream("grpc_cluster", "pkg.Service", "Chat", {{"md", "s"}},
                                      std::move(handler));
      if (!stream) {
        (void)replaceRequestHeader("x-grpc-call-result",
                                   str(static_cast<uint32_t>(stream.error())));
        return FilterHeadersStatus::Continue;
      }
      (void)(*stream)->send("a");
      (void)(*stream)->send("b", true);
      return FilterHeadersStatus::StopIteration;
    }
    if (path == "/properties") {
      (void)replaceRequestHeader("x-plugin-name", getPropertyString({"plugin_name"}).value_or("?"));
      (void)replaceRequestHeader("x-plugin-root-id",
                                 getPropertyString({"plugin_root_id"}).value_or("?"));
      (void)replaceRequestHeader("x-plugin-vm-id",
                                 getPropertyString({"plugin_vm_id"}).value_or("?"));
      (void)replaceRequestHeader("x-node-id", getPropertyString({"node", "id"}).value_or("?"));
      (void)replaceRequestHeader(
          "x-source-port",
          str(static_cast<uint64_t>(getPropertyInt64({"source", "port"}).value_or(-1))));
      (void)replaceRequestHeader("x-header-prop",
                                 getPropertyString({"request", "headers", "a"}).value_or("?"));
      (void)setProperty({"my_state"}, "kept");
      (void)replaceRequestHeader("x-state", getPropertyString({"my_state"}).value_or("?"));
      (void)replaceRequestHeader("x-missing-prop",
                                 getProperty({"no", "such"}).ok() ? "found" : "not-found");
      return FilterHeadersStatus::Continue;
    }
    if (path == "/shared") {
      // Increment a shared counter with CAS until it sticks.
      for (int attempt = 0; attempt < 100; ++attempt) {
        auto cur = getSharedData("counter");
        uint64_t n = cur ? std::strtoull(cur->value.toString().c_str(), nullptr, 10) : 0;
        if (setSharedData("counter", str(n + 1), cur ? cur->cas : 0) == WasmResult::Ok) {
          (void)replaceRequestHeader("x-counter", str(n + 1));
          break;
        }
      }
      return FilterHeadersStatus::Continue;
    }
    if (path == "/queue") {
      auto q = resolveSharedQueue("", "conformance_queue");
      (void)replaceRequestHeader(
          "x-enqueue", q && enqueueSharedQueue(*q, "hello") == WasmResult::Ok ? "ok" : "failed");
      return FilterHeadersStatus::Continue;
    }
    if (path == "/env") {
      const char* v = std::getenv("PWX_TEST_ENV");
      (void)replaceRequestHeader("x-env", v != nullptr ? v : "<unset>");
      return FilterHeadersStatus::Continue;
    }
    if (path == "/time") {
      (void)replaceRequestHeader("x-time-ns", str(getCurrentTimeNanoseconds()));
      return FilterHeadersStatus::Continue;
    }
    if (path == "/log-level") {
      (void)replaceRequestHeader("x-log-level", str(static_cast<uint32_t>(getLogLevel())));
      return FilterHeadersStatus::Continue;
    }
    if (path == "/bad-enum") {
      // Out-of-range enums are refused by the host with BadArgument.
      char* d = nullptr;
      size_t s = 0;
      (void)replaceRequestHeader(
          "x-bad-map", str(static_cast<uint32_t>(proxy_get_header_map_pairs(99, &d, &s))));
      (void)replaceRequestHeader(
          "x-bad-buffer", str(static_cast<uint32_t>(proxy_get_buffer_bytes(99, 0, 1, &d, &s))));
      (void)replaceRequestHeader("x-bad-log", str(static_cast<uint32_t>(proxy_log(9, "x", 1))));
      return FilterHeadersStatus::Continue;
    }
    if (path == "/vm-global") {
      // Module-global state: plugins that share a VM count together.
      static uint64_t requests_in_this_vm = 0;
      (void)addRequestHeader("x-vm-count", str(++requests_in_this_vm));
      (void)addRequestHeader("x-vm-plugin", getPropertyString({"plugin_name"}).value_or("?"));
      return FilterHeadersStatus::Continue;
    }
    if (path == "/body") return FilterHeadersStatus::Continue;
    return FilterHeadersStatus::Continue;
  }

  // Starts a callout that resumes the request when it is answered; false if it could not start.
  bool pauseOnCallout(const std::string& delay_ms) {
    auto token = httpCall(
        "auth_cluster",
        {{":method", "GET"}, {":path", "/delay/" + delay_ms}, {":authority", "auth"}}, "", {},
        std::chrono::milliseconds(5000), [](HttpContext& self, const HttpCallResponse& r) {
          if (r.failed()) {
            sendLocalResponse(503, "callout failed", {}, "callout_failed");
            return;
          }
          (void)self.addRequestHeader("x-resumed-by", "callout");
          self.continueRequest();
        });
    return token.ok();
  }

  FilterDataStatus onRequestBody(size_t size, bool end_of_stream) override {
    const std::string path = requestHeader(":path").value_or("");
    if (auto delay = requestHeader("x-pause-body-callout")) {
      if (!end_of_stream || body_paused_) return FilterDataStatus::StopIterationAndBuffer;
      body_paused_ = true;
      return pauseOnCallout(*delay) ? FilterDataStatus::StopIterationAndBuffer
                                    : FilterDataStatus::Continue;
    }
    if (path == "/count") {  // streamed: every piece passes at once
      ++body_calls_;
      body_bytes_ += size;
      return FilterDataStatus::Continue;
    }
    if (path == "/fidelity") {  // "the rest of the buffer from 1"
      auto rest = getBufferBytes(BufferType::HttpRequestBody, 1, 0xffffffffu);
      logInfo("rest=",
              rest ? rest->toString() : strCat("error:", static_cast<uint32_t>(rest.error())));
      return FilterDataStatus::Continue;
    }
    if (path == "/shrink") {  // halves every piece but leaves content-length as it was
      auto piece = getBufferBytes(BufferType::HttpRequestBody, 0, size);
      std::string half = piece ? piece->toString().substr(0, size / 2) : "";
      (void)setBufferBytes(BufferType::HttpRequestBody, 0, size, half);
      return FilterDataStatus::Continue;
    }
    if (path != "/body") return FilterDataStatus::Continue;
    if (!end_of_stream) return FilterDataStatus::StopIterationAndBuffer;
    auto body = getBufferBytes(BufferType::HttpRequestBody, 0, size);
    std::string upper = body ? body->toString() : "";
    for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    (void)setBufferBytes(BufferType::HttpRequestBody, 0, size, upper);
    return FilterDataStatus::Continue;
  }

  FilterTrailersStatus onRequestTrailers(uint32_t) override {
    request_trailer_ = requestTrailer("x-checksum").value_or("<none>");
    (void)addHeaderMapValue(MapType::HttpRequestTrailers, "x-plugin-trailer", "added");
    return FilterTrailersStatus::Continue;
  }

  FilterHeadersStatus onResponseHeaders(uint32_t, bool) override {
    (void)addResponseHeader("x-response-seen", "1");
    if (body_calls_ != 0) {
      (void)addResponseHeader("x-request-body-calls", str(body_calls_));
      (void)addResponseHeader("x-request-body-bytes", str(body_bytes_));
    }
    if (!request_trailer_.empty()) (void)addResponseHeader("x-request-trailer", request_trailer_);
    return FilterHeadersStatus::Continue;
  }

  FilterTrailersStatus onResponseTrailers(uint32_t) override {
    const std::string upstream = responseTrailer("x-upstream-trailer").value_or("<none>");
    (void)addHeaderMapValue(MapType::HttpResponseTrailers, "x-plugin-saw", upstream);
    return FilterTrailersStatus::Continue;
  }

 private:
  bool body_paused_ = false;
  uint64_t body_calls_ = 0;
  uint64_t body_bytes_ = 0;
  std::string request_trailer_;

 public:
  void onLog() override { logInfo("on_log ", id(), " path=", requestHeader(":path").value_or("")); }
  void onDone() override { logInfo("on_done ", id()); }
  void onDelete() override { logInfo("on_delete ", id()); }
};

RegisterContextFactory register_conformance(rootFactory<Root>(), streamFactory<Stream>());

}  // namespace
