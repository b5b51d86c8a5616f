#include "filters/wasm_filter.h"

#include "filters/wasm_properties.h"

namespace wasm_proxy {

using proxy_wasm::host::BufferType;
using proxy_wasm::host::FilterDataStatus;
using proxy_wasm::host::FilterHeadersStatus;
using proxy_wasm::host::FilterTrailersStatus;
using proxy_wasm::host::MapType;
using proxy_wasm::host::StreamType;
using proxy_wasm::host::WasmResult;

namespace {

// Headers: any stop is StopAllIteration (no body callbacks until resumed), as Envoy treats
// proxy-wasm's StopIteration.
HeadersStatus fromHost(FilterHeadersStatus s) {
  return s == FilterHeadersStatus::Continue ? HeadersStatus::Continue
                                            : HeadersStatus::StopIteration;
}
DataStatus fromHost(FilterDataStatus s) {
  return s == FilterDataStatus::Continue ? DataStatus::Continue
                                         : DataStatus::StopIterationAndBuffer;
}
TrailersStatus fromHost(FilterTrailersStatus s) {
  return s == FilterTrailersStatus::Continue ? TrailersStatus::Continue
                                             : TrailersStatus::StopIteration;
}

// Points `slot` at `data` for the duration of one data callback.
struct BodyScope {
  BodyScope(std::string*& slot, std::string& data) : slot_(slot) { slot_ = &data; }
  ~BodyScope() { slot_ = nullptr; }
  std::string*& slot_;
};

}  // namespace

WasmHttpFilter::WasmHttpFilter(StreamFilterCallbacks& callbacks,
                               std::shared_ptr<proxy_wasm::host::Vm> vm, uint32_t root_context_id,
                               bool fail_open)
    : callbacks_(callbacks), vm_(std::move(vm)), fail_open_(fail_open) {
  id_ = vm_->createStream(root_context_id, this);
}

WasmHttpFilter::~WasmHttpFilter() {
  onStreamComplete();
}

void WasmHttpFilter::onStreamComplete() {
  if (id_ == 0) return;
  vm_->endStream(std::exchange(id_, 0));
}

HeadersStatus WasmHttpFilter::decodeHeaders(bool end_stream) {
  const auto n = static_cast<uint32_t>(callbacks_.stream().request.headers.size());
  const auto status = fromHost(vm_->onRequestHeaders(id_, n, end_stream));
  // ABI 0.2.1 in Envoy: header changes by a plugin choose the route again.
  callbacks_.clearRouteCache();
  return status;
}

DataStatus WasmHttpFilter::decodeData(std::string& body, bool end_stream) {
  BodyScope scope(body_[0], body);
  return fromHost(vm_->onRequestBody(id_, static_cast<uint32_t>(body.size()), end_stream));
}

TrailersStatus WasmHttpFilter::decodeTrailers() {
  const auto n = static_cast<uint32_t>(callbacks_.stream().request.trailers.size());
  return fromHost(vm_->onRequestTrailers(id_, n));
}

HeadersStatus WasmHttpFilter::encodeHeaders(bool end_stream) {
  const auto n = static_cast<uint32_t>(callbacks_.stream().response.headers.size());
  return fromHost(vm_->onResponseHeaders(id_, n, end_stream));
}

DataStatus WasmHttpFilter::encodeData(std::string& body, bool end_stream) {
  BodyScope scope(body_[1], body);
  return fromHost(vm_->onResponseBody(id_, static_cast<uint32_t>(body.size()), end_stream));
}

TrailersStatus WasmHttpFilter::encodeTrailers() {
  const auto n = static_cast<uint32_t>(callbacks_.stream().response.trailers.size());
  return fromHost(vm_->onResponseTrailers(id_, n));
}

proxy_wasm::host::HeaderMap* WasmHttpFilter::headers(MapType type) {
  HttpStream& s = callbacks_.stream();
  switch (type) {
    case MapType::HttpRequestHeaders:
      return &s.request.headers;
    case MapType::HttpRequestTrailers:
      return &s.request.trailers;
    case MapType::HttpResponseHeaders:
      return s.response_started ? &s.response.headers : nullptr;
    case MapType::HttpResponseTrailers:
      return s.response_started ? &s.response.trailers : nullptr;
    default:
      return nullptr;
  }
}

std::string* WasmHttpFilter::body(BufferType type) {
  const int dir = type == BufferType::HttpRequestBody    ? 0
                  : type == BufferType::HttpResponseBody ? 1
                                                         : -1;
  if (dir < 0) return nullptr;
  if (body_[dir] != nullptr) return body_[dir];
  no_body_.clear();
  return &no_body_;
}

void WasmHttpFilter::sendLocalReply(proxy_wasm::host::LocalReply reply) {
  if (vm_->failed()) failure_replied_ = true;
  callbacks_.sendLocalReply(std::move(reply));
}

void WasmHttpFilter::continueStream(StreamType type) {
  if (type == StreamType::Request) {
    callbacks_.continueDecoding();
  } else {
    callbacks_.continueEncoding();
  }
}

void WasmHttpFilter::closeStream(StreamType) {
  callbacks_.resetStream();
}

WasmResult WasmHttpFilter::getProperty(std::string_view path, std::string* value) {
  HttpStream& s = callbacks_.stream();
  const WasmResult r = streamProperty(s, callbacks_.route(), path, value);
  if (r != WasmResult::NotFound) return r;
  // Envoy's fallback: filter state written by proxy_set_property under the same path.
  if (auto it = s.info.filter_state.find(path); it != s.info.filter_state.end()) {
    value->assign(it->second);
    return WasmResult::Ok;
  }
  return WasmResult::NotFound;
}

WasmResult WasmHttpFilter::setProperty(std::string_view path, std::string_view value) {
  callbacks_.stream().info.filter_state[std::string(path)] = std::string(value);
  return WasmResult::Ok;
}

}  // namespace wasm_proxy
