#include "plugin_harness.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace proxy_wasm::host::testing {

std::string pluginPath(std::string_view name) {
  const char* dir = std::getenv("PWX_PLUGIN_DIR");
#ifdef PWX_DEFAULT_PLUGIN_DIR
  if (dir == nullptr) dir = PWX_DEFAULT_PLUGIN_DIR;
#endif
  return std::string(dir != nullptr ? dir : ".") + "/" + std::string(name) + ".wasm";
}

std::vector<std::string> allEngines() {
  return availableRuntimes();
}

std::optional<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- FakeStream --------------------------------------------------------------------------------

FakeStream::FakeStream(PluginHarness& harness, std::shared_ptr<Vm> vm, uint32_t root)
    : harness_(&harness), vm_(std::move(vm)) {
  id_ = vm_->createStream(root, this);
  harness_->streams_.insert(this);
}

FakeStream::~FakeStream() {
  end();
  if (harness_ != nullptr) harness_->streams_.erase(this);
}

void FakeStream::detach() {
  end();
  vm_.reset();
  harness_ = nullptr;
}

namespace {
void fill(VectorHeaderMap& map, const Headers& headers) {
  map.clear();
  map.reserve(headers.size());
  for (auto& [k, v] : headers) map.add(k, v);
}
}  // namespace

FilterHeadersStatus FakeStream::sendRequestHeaders(const Headers& headers, bool end_of_stream) {
  fill(request_headers, headers);
  return vm_->onRequestHeaders(id_, static_cast<uint32_t>(request_headers.size()), end_of_stream);
}

FilterDataStatus FakeStream::sendRequestBody(std::string_view chunk, bool end_of_stream) {
  request_body.append(chunk);
  return vm_->onRequestBody(id_, static_cast<uint32_t>(request_body.size()), end_of_stream);
}

FilterTrailersStatus FakeStream::sendRequestTrailers(const Headers& trailers) {
  fill(request_trailers, trailers);
  return vm_->onRequestTrailers(id_, static_cast<uint32_t>(request_trailers.size()));
}

FilterHeadersStatus FakeStream::sendResponseHeaders(const Headers& headers, bool end_of_stream) {
  fill(response_headers, headers);
  return vm_->onResponseHeaders(id_, static_cast<uint32_t>(response_headers.size()), end_of_stream);
}

FilterDataStatus FakeStream::sendResponseBody(std::string_view chunk, bool end_of_stream) {
  response_body.append(chunk);
  return vm_->onResponseBody(id_, static_cast<uint32_t>(response_body.size()), end_of_stream);
}

FilterTrailersStatus FakeStream::sendResponseTrailers(const Headers& trailers) {
  fill(response_trailers, trailers);
  return vm_->onResponseTrailers(id_, static_cast<uint32_t>(response_trailers.size()));
}

void FakeStream::end() {
  if (ended_ || !vm_) return;
  ended_ = true;
  vm_->endStream(id_);
}

HeaderMap* FakeStream::headers(MapType type) {
  switch (type) {
    case MapType::HttpRequestHeaders:
      return &request_headers;
    case MapType::HttpRequestTrailers:
      return &request_trailers;
    case MapType::HttpResponseHeaders:
      return &response_headers;
    case MapType::HttpResponseTrailers:
      return &response_trailers;
    default:
      return nullptr;
  }
}

std::string* FakeStream::body(BufferType type) {
  if (type == BufferType::HttpRequestBody && request_body_available) return &request_body;
  if (type == BufferType::HttpResponseBody && response_body_available) return &response_body;
  return nullptr;
}

void FakeStream::continueStream(StreamType type) {
  (type == StreamType::Request ? request_continued : response_continued)++;
}

void FakeStream::closeStream(StreamType type) {
  (type == StreamType::Request ? request_closed : response_closed)++;
}

WasmResult FakeStream::getProperty(std::string_view path, std::string* value) {
  auto fs = filter_state.find(std::string(path));
  if (fs != filter_state.end()) {
    *value = fs->second;
    return WasmResult::Ok;
  }
  auto it = properties.find(std::string(path));
  if (it != properties.end()) {
    *value = it->second;
    return WasmResult::Ok;
  }
  // request.headers.<name> from the request headers, as Envoy.
  const std::string prefix = std::string("request\0headers\0", 16);
  if (path.substr(0, prefix.size()) == prefix) {
    auto v = request_headers.get(path.substr(prefix.size()));
    if (!v) return WasmResult::NotFound;
    *value = std::string(*v);
    return WasmResult::Ok;
  }
  return WasmResult::NotFound;
}

WasmResult FakeStream::setProperty(std::string_view path, std::string_view value) {
  filter_state[std::string(path)] = std::string(value);
  return WasmResult::Ok;
}

// ---- PluginHarness -----------------------------------------------------------------------------

std::unique_ptr<PluginHarness> PluginHarness::create(const std::string& wasm_path,
                                                     HarnessOptions options, std::string* error) {
  std::unique_ptr<PluginHarness> h(new PluginHarness());
  for (const Metric* m : MetricsRegistry::instance().all()) {
    h->metrics_at_start_[m->name()] = m->value();
  }
  auto bytes = readFile(wasm_path);
  if (!bytes) {
    *error = "cannot read " + wasm_path;
    return nullptr;
  }
  h->engine_ = createEngine(options.runtime, error);
  if (!h->engine_) return nullptr;
  h->code_ = PluginCode::load(std::move(*bytes), options.vm.memory_limit_bytes, error, wasm_path);
  if (!h->code_) return nullptr;
  options.vm.runtime = std::string(h->engine_->name());
  h->host_properties = options.host_properties;
  auto plugin = std::make_shared<const PluginConfig>(options.plugin);
  h->plugin_ = std::make_unique<ThreadLocalPlugin>(h->code_, options.vm, plugin, *h->engine_, *h);
  if (!h->plugin_->start(error)) return nullptr;
  return h;
}

PluginHarness::~PluginHarness() {
  // Streams the test still holds end now: VMs must go before the engine.
  for (FakeStream* s : std::set<FakeStream*>(streams_)) s->detach();
  streams_.clear();
  plugin_.reset();
  finishing_.clear();
  timers_.clear();
}

bool PluginHarness::stopPlugin() {
  const size_t before = finishing_.size();
  plugin_.reset();
  return finishing_.size() == before;
}

size_t PluginHarness::finishingPlugins() const {
  return std::count_if(finishing_.begin(), finishing_.end(),
                       [](const auto& f) { return f.second != 0; });
}

void PluginHarness::holdUntilDone(std::shared_ptr<Vm> vm, uint32_t root) {
  finishing_.emplace_back(std::move(vm), root);
}

void PluginHarness::onPluginDone(Vm& vm, uint32_t root) {
  // Called from inside the VM: it is released once the call has returned.
  for (auto& [held, id] : finishing_) {
    if (held.get() == &vm && id == root) id = 0;
  }
  post([this] { std::erase_if(finishing_, [](const auto& f) { return f.second == 0; }); });
}

std::unique_ptr<FakeStream> PluginHarness::newStream() {
  std::shared_ptr<Vm> vm = plugin_->vmForNewStream();
  return std::make_unique<FakeStream>(*this, vm, plugin_->rootId());
}

void PluginHarness::advance(std::chrono::milliseconds by) {
  const uint64_t target = now_ns_ + static_cast<uint64_t>(by.count()) * 1'000'000;
  for (;;) {
    auto due = timers_.end();
    for (auto it = timers_.begin(); it != timers_.end(); ++it) {
      if (it->second.next_ns <= target &&
          (due == timers_.end() || it->second.next_ns < due->second.next_ns)) {
        due = it;
      }
    }
    if (due == timers_.end()) break;
    now_ns_ = std::max(now_ns_, due->second.next_ns);
    due->second.next_ns = now_ns_ + uint64_t{due->second.period_ms} * 1'000'000;
    Vm* vm = due->second.vm;
    const uint32_t root = due->first;
    vm->onTick(root);
  }
  now_ns_ = target;
}

uint32_t PluginHarness::tickPeriodMs() const {
  if (!plugin_) return 0;
  auto it = timers_.find(plugin_->rootId());
  return it == timers_.end() ? 0 : it->second.period_ms;
}

void PluginHarness::setTickPeriod(Vm& vm, uint32_t root, uint32_t period_ms) {
  if (period_ms == 0) {
    timers_.erase(root);
    return;
  }
  timers_[root] = Timer{&vm, period_ms, now_ns_ + uint64_t{period_ms} * 1'000'000};
}

void PluginHarness::log(const PluginConfig*, LogLevel level, std::string_view message) {
  logs.emplace_back(level, std::string(message));
  if (on_log) on_log(level, message);
}

bool PluginHarness::logged(std::string_view needle) const {
  return std::any_of(logs.begin(), logs.end(),
                     [&](const auto& l) { return l.second.find(needle) != std::string::npos; });
}

WasmResult PluginHarness::httpCall(Vm& vm, uint32_t root, uint32_t token, HttpCallRequest request) {
  if (std::find(unknown_clusters.begin(), unknown_clusters.end(), request.cluster) !=
      unknown_clusters.end()) {
    return WasmResult::BadArgument;
  }
  http_calls_.push_back(HttpCall{root, token, std::move(request)});
  callout_vm_[token] = &vm;
  return WasmResult::Ok;
}

WasmResult PluginHarness::grpcCall(Vm& vm, uint32_t root, uint32_t token, GrpcCallRequest request) {
  grpc_calls_.push_back(GrpcCall{root, token, std::move(request), false, {}, false, false});
  callout_vm_[token] = &vm;
  return WasmResult::Ok;
}

WasmResult PluginHarness::grpcStream(Vm& vm, uint32_t root, uint32_t token,
                                     GrpcCallRequest request) {
  grpc_calls_.push_back(GrpcCall{root, token, std::move(request), true, {}, false, false});
  callout_vm_[token] = &vm;
  return WasmResult::Ok;
}

WasmResult PluginHarness::grpcSend(Vm&, uint32_t token, std::string_view message, bool eos) {
  for (auto& c : grpc_calls_) {
    if (c.token == token) {
      c.sent.emplace_back(message);
      if (eos) c.closed = true;
      return WasmResult::Ok;
    }
  }
  return WasmResult::NotFound;
}

WasmResult PluginHarness::grpcCancel(Vm&, uint32_t token) {
  for (auto& c : grpc_calls_) {
    if (c.token == token) {
      c.cancelled = true;
      callout_vm_.erase(token);
      return WasmResult::Ok;
    }
  }
  return WasmResult::NotFound;
}

WasmResult PluginHarness::grpcClose(Vm&, uint32_t token) {
  for (auto& c : grpc_calls_) {
    if (c.token == token) {
      c.closed = true;
      return WasmResult::Ok;
    }
  }
  return WasmResult::NotFound;
}

void PluginHarness::cancelAll(Vm& vm) {
  for (auto it = callout_vm_.begin(); it != callout_vm_.end();) {
    it = it->second == &vm ? callout_vm_.erase(it) : std::next(it);
  }
  for (auto it = timers_.begin(); it != timers_.end();) {
    it = it->second.vm == &vm ? timers_.erase(it) : std::next(it);
  }
}

void PluginHarness::respondHttpCall(uint32_t token, const Headers& headers, std::string_view body,
                                    const Headers& trailers) {
  auto vm = callout_vm_.find(token);
  auto call = std::find_if(http_calls_.begin(), http_calls_.end(),
                           [&](const HttpCall& c) { return c.token == token; });
  if (vm == callout_vm_.end() || call == http_calls_.end()) return;
  Vm* target = vm->second;
  const uint32_t root = call->root;
  callout_vm_.erase(vm);
  http_calls_.erase(call);
  target->onHttpCallResponse(root, token, HttpCalloutAnswer{headers, std::string(body), trailers});
}

void PluginHarness::respondGrpcCall(uint32_t token, uint32_t status, std::string_view message) {
  auto vm = callout_vm_.find(token);
  auto call = std::find_if(grpc_calls_.begin(), grpc_calls_.end(),
                           [&](const GrpcCall& c) { return c.token == token; });
  if (vm == callout_vm_.end() || call == grpc_calls_.end()) return;
  Vm* target = vm->second;
  const uint32_t root = call->root;
  const bool stream = call->stream;
  if (!stream) grpc_calls_.erase(call);  // a unary call is answered once, then forgotten
  if (status == 0) {
    if (!stream) callout_vm_.erase(token);
    target->onGrpcReceive(root, token, std::string(message));
  } else {
    callout_vm_.erase(token);
    target->onGrpcClose(root, token, status, std::string(message));
  }
}

size_t PluginHarness::runPosted() {
  size_t n = 0;
  while (!posted_.empty()) {
    auto task = std::move(posted_.front());
    posted_.pop_front();
    task();
    ++n;
  }
  return n;
}

WasmResult PluginHarness::getProperty(std::string_view path, std::string* value) {
  auto it = host_properties.find(std::string(path));
  if (it == host_properties.end()) return WasmResult::NotFound;
  *value = it->second;
  return WasmResult::Ok;
}

int64_t PluginHarness::metricDelta(std::string_view name) const {
  const int64_t now = metric(name).value_or(0);
  auto it = metrics_at_start_.find(name);
  return now - (it == metrics_at_start_.end() ? 0 : it->second);
}

std::optional<int64_t> PluginHarness::metric(std::string_view name) {
  Metric* m = MetricsRegistry::instance().find(name);
  if (m == nullptr) return std::nullopt;
  return m->value();
}

}  // namespace proxy_wasm::host::testing
