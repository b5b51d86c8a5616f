// The plugin behind sdk/test/sdk_test.cc: the SDK's dispatch, helpers, callouts and liveness,
// run as a real .wasm on every engine by the real host. What it does is chosen by request
// headers; what it sees is reported back in request headers, logs and metrics, where the test
// checks it.
#include <map>
#include <string>

#include "proxy_wasm/sdk.h"

namespace sdk_test {

using proxy_wasm::FilterHeadersStatus;
using proxy_wasm::HttpCallResponse;
using proxy_wasm::WasmResult;

// One word per step of a sequence of SDK calls, for the test to compare.
class Transcript {
 public:
  void add(std::string_view word) {
    if (!text_.empty()) text_ += ',';
    text_ += word;
  }
  void add(WasmResult r) { add(proxy_wasm::abi::toString(r)); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

class Root : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override {
    proxy_wasm::logInfo("sdk_test: configured with '", configuration, "'");
    if (configuration == "reject") return false;
    setTickPeriod(std::chrono::milliseconds(100));
    return true;
  }
  void onTick() override { (void)ticks_.increment(1); }
  proxy_wasm::Counter requests_{"sdk_test.requests", {"route"}};
  proxy_wasm::Counter ticks_{"sdk_test.ticks"};
  proxy_wasm::Gauge live_streams_{"sdk_test.live_streams"};
};

// Shared data: compare-and-swap as the ABI defines it.
std::string sharedDataTranscript(const std::string& key) {
  Transcript t;
  auto missing = proxy_wasm::getSharedData(key);
  t.add(missing ? WasmResult::Ok : missing.error());
  t.add(proxy_wasm::setSharedData(key, "v1"));
  auto first = proxy_wasm::getSharedData(key);
  if (!first) return t.text() + ",no-first-value";
  t.add(first->value.view());
  t.add(proxy_wasm::setSharedData(key, "v2", first->cas));
  t.add(proxy_wasm::setSharedData(key, "v3", first->cas));
  auto last = proxy_wasm::getSharedData(key);
  t.add(last ? last->value.view() : "no-last-value");
  return t.text();
}

// Shared queues: register, resolve, empty, enqueue, dequeue, unknown id.
std::string sharedQueueTranscript(const std::string& name) {
  Transcript t;
  auto q = proxy_wasm::registerSharedQueue(name);
  if (!q) return "register:" + std::string(proxy_wasm::abi::toString(q.error()));
  t.add(proxy_wasm::resolveSharedQueue("", name).value_or(0) == *q ? "resolved" : "not-resolved");
  auto empty = proxy_wasm::dequeueSharedQueue(*q);
  t.add(empty ? WasmResult::Ok : empty.error());
  t.add(proxy_wasm::enqueueSharedQueue(*q, "item"));
  auto item = proxy_wasm::dequeueSharedQueue(*q);
  t.add(item ? item->view() : "no-item");
  t.add(proxy_wasm::enqueueSharedQueue(9999, "x"));
  return t.text();
}

// Typed property getters on values the host encodes.
std::string propertyTranscript() {
  Transcript t;
  t.add(std::to_string(proxy_wasm::getPropertyInt64({"response", "code"}).value_or(-1)));
  auto mtls = proxy_wasm::getPropertyBool({"connection", "mtls"});
  t.add(!mtls ? "none" : *mtls ? "true" : "false");
  t.add(proxy_wasm::getPropertyString({"node", "id"}).value_or("none"));
  t.add(proxy_wasm::getPropertyString({"no", "such"}) ? "found" : "not-found");
  return t.text();
}

class Stream : public proxy_wasm::HttpContext {
 public:
  Stream(uint32_t id, proxy_wasm::RootContext* root) : HttpContext(id, root) {
    (void)rootAs<Root>().live_streams_.add(1);
  }
  ~Stream() override { (void)rootAs<Root>().live_streams_.add(-1); }

  FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    auto& root = rootAs<Root>();
    (void)root.requests_.increment(1, {requestHeader(":path").value_or("none")});
    if (requestHeader("x-deny")) {
      proxy_wasm::sendLocalResponse(403, "denied", {{"x-why", "x-deny"}}, "test_denied");
      return FilterHeadersStatus::StopIteration;
    }
    if (requestHeader("x-callout")) return calloutThenContinue();
    if (requestHeader("x-typed-callout")) return typedCallout();
    if (auto key = requestHeader("x-shared-data")) {
      (void)addRequestHeader("x-result", sharedDataTranscript(*key));
    }
    if (auto name = requestHeader("x-shared-queue")) {
      (void)addRequestHeader("x-result", sharedQueueTranscript(*name));
    }
    if (requestHeader("x-properties")) (void)addRequestHeader("x-result", propertyTranscript());
    (void)addRequestHeader("x-pending-calls", std::to_string(root.pendingCalls()));
    (void)replaceRequestHeader("x-seen", "1");
    return FilterHeadersStatus::Continue;
  }

 private:
  static constexpr auto kTimeout = std::chrono::milliseconds(500);
  static proxy_wasm::HeaderList checkRequest() {
    return {{":method", "GET"}, {":path", "/check"}, {":authority", "authz"}};
  }

  // The callback gets the stream as an HttpContext.
  FilterHeadersStatus calloutThenContinue() {
    auto token = httpCall("authz", checkRequest(), "", {}, kTimeout,
                          [](HttpContext& self, const HttpCallResponse& r) {
                            if (r.status() == 200) {
                              (void)self.addRequestHeader("x-checked", r.body());
                              self.continueRequest();
                            } else {
                              proxy_wasm::sendLocalResponse(503, "callout failed");
                            }
                          });
    return token ? FilterHeadersStatus::StopAllIterationAndWatermark
                 : FilterHeadersStatus::Continue;
  }

  // The callback takes this class: no cast from HttpContext&.
  FilterHeadersStatus typedCallout() {
    auto token = httpCall("authz", checkRequest(), "", {}, kTimeout,
                          [](Stream& self, const HttpCallResponse& r) {
                            (void)self.addRequestHeader("x-typed", std::to_string(r.status()));
                            self.continueRequest();
                          });
    return token ? FilterHeadersStatus::StopAllIterationAndWatermark
                 : FilterHeadersStatus::Continue;
  }
};

// Under root_id "sdk_test_blocks": streams of three classes (two sizes, one over-aligned) that
// check the memory the SDK gives them. A stream counts it when its object overlaps that of
// another live stream or lacks its class's alignment; it fills itself with its id, and counts
// it when it ends if something overwrote that.
class BlocksRoot : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  struct Live {
    size_t size;
    uint32_t id;
  };
  proxy_wasm::Counter created_{"sdk_test.blocks.created"};
  proxy_wasm::Counter overlapping_{"sdk_test.blocks.overlapping"};
  proxy_wasm::Counter overwritten_{"sdk_test.blocks.overwritten"};
  proxy_wasm::Counter misaligned_{"sdk_test.blocks.misaligned"};
  std::map<uintptr_t, Live> live_;  // by address; kept outside the streams' memory
};

template <size_t N, size_t Align>
class alignas(Align) PatternStream : public proxy_wasm::HttpContext {
 public:
  PatternStream(uint32_t id, proxy_wasm::RootContext* root) : HttpContext(id, root) {
    for (auto& word : words_) word = id;
    auto& r = rootAs<BlocksRoot>();
    (void)r.created_.increment(1);
    const auto start = reinterpret_cast<uintptr_t>(this);
    if (start % Align != 0) (void)r.misaligned_.increment(1);
    auto next = r.live_.lower_bound(start);
    const bool overlaps_next = next != r.live_.end() && next->first < start + sizeof(*this);
    const bool overlaps_previous =
        next != r.live_.begin() && std::prev(next)->first + std::prev(next)->second.size > start;
    if (overlaps_next || overlaps_previous) (void)r.overlapping_.increment(1);
    r.live_[start] = {sizeof(*this), id};
  }
  ~PatternStream() override {
    auto& r = rootAs<BlocksRoot>();
    auto it = r.live_.find(reinterpret_cast<uintptr_t>(this));
    const uint32_t own = it == r.live_.end() ? 0 : it->second.id;
    for (uint32_t word : words_) {
      if (word != own) {
        (void)r.overwritten_.increment(1);
        break;
      }
    }
    if (it != r.live_.end()) r.live_.erase(it);
  }

 private:
  uint32_t words_[N];
};

// In turn: small, large, over-aligned (the first stream, which the test ends first, is small).
std::unique_ptr<proxy_wasm::HttpContext> newPatternStream(uint32_t id,
                                                          proxy_wasm::RootContext* root) {
  using Small = PatternStream<2, alignof(proxy_wasm::HttpContext)>;
  using Large = PatternStream<50, alignof(proxy_wasm::HttpContext)>;
  using OverAligned = PatternStream<2, 64>;
  static unsigned created = 0;
  switch (created++ % 3) {
    case 0:
      return std::make_unique<Small>(id, root);
    case 1:
      return std::make_unique<Large>(id, root);
    default:
      return std::make_unique<OverAligned>(id, root);
  }
}

static proxy_wasm::RegisterContextFactory register_sdk_test_blocks(
    proxy_wasm::rootFactory<BlocksRoot>(), newPatternStream, "sdk_test_blocks");

static proxy_wasm::RegisterContextFactory register_sdk_test(proxy_wasm::rootFactory<Root>(),
                                                            proxy_wasm::streamFactory<Stream>(),
                                                            "sdk_test");

}  // namespace sdk_test
