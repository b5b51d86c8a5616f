// The state a Vm keeps between calls, one type per concern: its contexts, its callouts and the
// metric handles its plugin holds. The Vm owns one of each; hostcall bodies reach them through
// HostcallEnv (host/src/hostcall_env.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "proxy_wasm/abi/id_table.h"
#include "proxy_wasm/host/plugin.h"

namespace proxy_wasm::host {

class StreamHost;
class Metric;

// One context of the plugin: a root (one per plugin configuration) or an HTTP stream.
struct VmContext {
  uint32_t id = 0;
  uint32_t root_id = 0;  // itself for roots
  std::shared_ptr<const PluginConfig> plugin;
  StreamHost* stream = nullptr;   // streams only
  bool in_configure = false;      // roots: plugin configuration readable
  bool pending_done = false;      // roots: on_done returned false, waiting for proxy_done
  bool local_reply_sent = false;  // streams: forces the callback's result to stop
  bool failed_stream = false;     // streams: failure policy already applied
};

// The VM's contexts by id. Ids are never reused. A context's address is stable while it lives
// (each is its own allocation). An open-addressing index maps ids to them: no tree walk, which
// matters because with many streams in flight consecutive lookups are rarely for the same id.
// Every hostcall looks up the context it runs for, usually the one looked up last: that one is
// remembered. Erased contexts are kept (up to 64) for the next streams, so a stream's context
// costs no allocation, and memory returns after a burst.
class ContextTable {
 public:
  // A new context with the next id; `root_id` 0 makes it its own root.
  VmContext& create(uint32_t root_id, std::shared_ptr<const PluginConfig> plugin) {
    const uint32_t id = next_id_++;
    std::unique_ptr<VmContext> c;
    if (!spare_.empty()) {
      c = std::move(spare_.back());
      spare_.pop_back();
    } else {
      c = std::make_unique<VmContext>();
    }
    c->id = id;
    c->root_id = root_id == 0 ? id : root_id;
    c->plugin = std::move(plugin);
    return *index_.insert(id, std::move(c));
  }
  VmContext* find(uint32_t id) {
    if (id == last_id_ && last_ != nullptr) return last_;
    std::unique_ptr<VmContext>* c = index_.find(id);
    if (c == nullptr) return nullptr;
    last_id_ = id;
    last_ = c->get();
    return last_;
  }
  const VmContext* find(uint32_t id) const {
    const std::unique_ptr<VmContext>* c = index_.find(id);
    return c == nullptr ? nullptr : c->get();
  }
  void erase(uint32_t id) {
    if (id == last_id_) last_ = nullptr;
    std::optional<std::unique_ptr<VmContext>> c = index_.take(id);
    if (!c) return;
    **c = VmContext{};  // releases the plugin config now
    if (spare_.size() < kSpareContexts) spare_.push_back(std::move(*c));
  }
  bool empty() const { return index_.size() == 0; }
  // The first context in id order (the oldest root), or null.
  const VmContext* first() const {
    const VmContext* oldest = nullptr;
    index_.forEach([&](uint32_t id, const std::unique_ptr<VmContext>& c) {
      if (oldest == nullptr || id < oldest->id) oldest = c.get();
    });
    return oldest;
  }
  // The ids of the live streams, in id order.
  std::vector<uint32_t> streamIds() const {
    std::vector<uint32_t> out;
    index_.forEach([&](uint32_t id, const std::unique_ptr<VmContext>& c) {
      if (c->stream != nullptr) out.push_back(id);
    });
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  static constexpr size_t kSpareContexts = 64;
  abi::IdTable<std::unique_ptr<VmContext>> index_;
  std::vector<std::unique_ptr<VmContext>> spare_;
  uint32_t next_id_ = 1;
  uint32_t last_id_ = 0;
  VmContext* last_ = nullptr;
};

// The VM's callouts: the tokens it hands out, its open gRPC streams, and what a callout callback
// may read while it runs (the answer, a gRPC message, the last status).
class CalloutState {
 public:
  // The answer of a callout being delivered (readable inside its callback only).
  struct Response {
    std::vector<std::pair<std::string, std::string>> headers, trailers;
    std::string body;
  };

  // A fresh token whose low two bits are `tag` (so a token says which kind of callout it is).
  uint32_t nextToken(uint32_t tag) { return (next_token_ += 4) + tag; }

  std::unordered_map<uint32_t, uint32_t> grpc_streams;  // open gRPC stream token -> root
  const Response* response = nullptr;                   // inside a callout callback only
  std::string grpc_message;                             // inside on_grpc_receive only
  std::pair<uint32_t, std::string> last_status{0, ""};  // proxy_get_status

 private:
  uint32_t next_token_ = 0;
};

// The metric handles the plugin holds: ids it got from proxy_define_metric, each naming a metric
// of the host's registry (which outlives the VM). The low two bits of an id are the metric type.
class MetricHandles {
 public:
  uint32_t add(Metric* m, uint32_t type) {
    const uint32_t id = (next_ += 4) + type;
    handles_[id] = m;
    return id;
  }
  Metric* find(uint32_t id) const {
    auto it = handles_.find(id);
    return it == handles_.end() ? nullptr : it->second;
  }

 private:
  std::unordered_map<uint32_t, Metric*> handles_;
  uint32_t next_ = 0;
};

}  // namespace proxy_wasm::host
