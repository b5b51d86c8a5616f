// local_rate_limit's token buckets in shared data, shared by every VM (every worker) of the plugin
// and updated with compare-and-swap, so that under any concurrency exactly the configured number
// of requests pass. Each key has its buckets (one per window) in a bounded set of slots; see
// bucket_store.cc for the layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "proxy_wasm/sdk.h"

namespace local_rate_limit {

// The answer for one request; limit, remaining and reset are those of the window that decided
// (the one with the fewest tokens left; when limited, the empty one that refills last).
struct Verdict {
  bool allowed = true;
  uint64_t limit = 0;
  uint64_t window_seconds = 0;
  uint64_t remaining = 0;
  uint64_t reset_seconds = 0;  // until that window's next refill
  bool contended = false;
  bool error = false;       // shared data failed (logged): the request is allowed
  bool overflowed = false;  // the key used the shared overflow bucket
};

// A limit as the buckets see it: its windows and where its buckets live in shared data
// (`single`: one bucket for every request, no key).
struct Limit {
  std::vector<Window> windows;
  std::string prefix;
  bool single = false;
};

// Takes tokens for keys, one store per VM.
class BucketStore {
 public:
  // Slots per limit (max_keys).
  void configure(uint64_t max_keys) { max_keys_ = max_keys; }
  // Creates what every VM expects before traffic (lock, overflow bucket, the one bucket of a
  // keyless limit); what exists (a reload) is kept. False when shared data refuses.
  bool initialise(const std::vector<Limit>& limits);
  // Takes one token from the bucket of `key`, giving the key a bucket (full) on first use.
  Verdict take(const std::string& key, const Limit& limit);

 private:
  // The bucket a key uses: its own slot, the overflow bucket, or "look again" (a slot was just
  // created or taken over, by us or by another VM).
  struct Slot {
    enum class State { Own, Overflow, Retry, Busy } state;  // Busy: another VM creates a slot
    std::string name;
    std::optional<proxy_wasm::SharedData> current;  // Own: the value locate() read (saves a read)
  };

  Verdict& error(Verdict& v, const char* what, proxy_wasm::WasmResult r);
  std::string slotName(uint64_t i, const Limit& limit) const;
  // Finds the key among its candidate slots, or gives it one (see bucket_store.cc).
  proxy_wasm::Expected<Slot, proxy_wasm::WasmResult> locate(const std::string& key, uint64_t now,
                                                            const Limit& limit);
  proxy_wasm::Expected<Slot, proxy_wasm::WasmResult> createSlot(const std::string& name,
                                                                const std::string& key,
                                                                uint64_t now, const Limit& limit);

  uint64_t max_keys_ = 10000;
};

}  // namespace local_rate_limit
