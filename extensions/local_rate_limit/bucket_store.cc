// local_rate_limit's token buckets in shared data (bucket_store.h).
#include "bucket_store.h"

#include <algorithm>
#include <cstdlib>

using namespace proxy_wasm;

namespace local_rate_limit {
namespace {

constexpr int kMaxCasAttempts = 100000;  // a livelock guard, never reached in practice

// Bucket state in shared data: tokens and the time of the last refill, 16 bytes little-endian;
// a key's buckets (one per window) are stored one after the other.
struct Bucket {
  uint64_t tokens = 0;
  uint64_t last_refill_ns = 0;
};
using Buckets = std::vector<Bucket>;
constexpr size_t kBucketBytes = 16;

std::string encode(const Buckets& buckets) {
  std::string out;
  out.reserve(buckets.size() * kBucketBytes);
  for (const Bucket& b : buckets) {
    out += abi::encodeInt64(static_cast<int64_t>(b.tokens));
    out += abi::encodeInt64(static_cast<int64_t>(b.last_refill_ns));
  }
  return out;
}

// `v` holds exactly `count` buckets.
std::optional<Buckets> decode(std::string_view v, size_t count) {
  if (v.size() != count * kBucketBytes) return std::nullopt;
  Buckets out(count);
  for (size_t i = 0; i < count; ++i, v.remove_prefix(kBucketBytes)) {
    out[i] = {static_cast<uint64_t>(*abi::decodeInt64(v.substr(0, 8))),
              static_cast<uint64_t>(*abi::decodeInt64(v.substr(8, 8)))};
  }
  return out;
}

// Every window's bucket full, as a new key gets them.
Buckets fullBuckets(const std::vector<Window>& windows, uint64_t now) {
  Buckets out;
  for (const Window& w : windows) out.push_back({w.max_tokens, now});
  return out;
}

// Adds the tokens of every whole interval elapsed since the last refill, capped at max_tokens.
// A clock that went backwards adds nothing and leaves the anchor alone.
void refill(Bucket& b, const Window& w, uint64_t now) {
  if (now <= b.last_refill_ns) return;
  const uint64_t intervals = (now - b.last_refill_ns) / w.interval_ns;
  if (intervals == 0) return;
  const uint64_t add = intervals > w.max_tokens ? w.max_tokens : intervals * w.tokens_per_refill;
  b.tokens = std::min(w.max_tokens, b.tokens + std::min(add, w.max_tokens));
  b.last_refill_ns += intervals * w.interval_ns;
}

void refill(Buckets& buckets, const std::vector<Window>& windows, uint64_t now) {
  for (size_t i = 0; i < buckets.size(); ++i) refill(buckets[i], windows[i], now);
}

bool allFull(const Buckets& buckets, const std::vector<Window>& windows) {
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i].tokens != windows[i].max_tokens) return false;
  }
  return true;
}

// Whole seconds until the bucket's next refill.
uint64_t secondsToRefill(const Bucket& b, const Window& w, uint64_t now) {
  const uint64_t since = now > b.last_refill_ns ? now - b.last_refill_ns : 0;
  return (w.interval_ns - std::min(since, w.interval_ns) + 999'999'999) / 1'000'000'000;
}

// Where buckets live in shared data (namespaced "local_rate_limit.<plugin name>."):
//   slot.<i>   i < max_keys: a bucket (16 bytes) followed by its key; a key's candidate slots
//              are kProbes consecutive ones from its hash
//   lock       "-", or "<slot> <ns>" while a VM creates that slot (see createSlot)
//   overflow   the bucket that keys share when their candidate slots are all in use
// ABI 0.2.1 shared data has no delete, so memory stays bounded by reusing slots: a bucket refilled
// to max_tokens is the same as a new one, so its slot may be given to another key (by CAS) and
// nothing is lost when the first key comes back.
constexpr int kProbes = 16;
constexpr uint64_t kStaleLockNs = 100'000'000;  // a creator that died mid-creation

// How long a request waits while another VM creates a slot (Slot::State::Busy). A creation takes a
// few hostcalls, but its thread can be descheduled in the middle of them for many milliseconds on
// a loaded machine, so the wait is bounded by the clock, not by a count of looks: the request
// looks again until the lock is released or goes stale (createSlot then takes it over). It gives
// up for the overflow bucket only after kMaxBusyWaitNs (creations by other VMs one after the
// other), under the host's default CPU deadline of 250 ms, or when the clock does not move
// (a simulated clock) for kMaxFrozenLooks looks.
constexpr uint64_t kMaxBusyWaitNs = 150'000'000;
constexpr int kMaxFrozenLooks = 1000;

class BusyWait {
 public:
  explicit BusyWait(uint64_t now) : since_(now), last_(now) {}
  // Reads the clock into `now` (never backwards); false when the request should stop waiting.
  bool lookAgain(uint64_t& now) {
    const uint64_t t = getCurrentTimeNanoseconds();
    frozen_looks_ = t == last_ ? frozen_looks_ + 1 : 0;
    last_ = t;
    now = std::max(now, t);
    return frozen_looks_ < kMaxFrozenLooks && now - since_ < kMaxBusyWaitNs;
  }

 private:
  uint64_t since_;
  uint64_t last_;
  int frozen_looks_ = 0;
};

// A creation lock ("<slot> <ns>") that a live VM may still hold: taken less than kStaleLockNs ago.
// A time ahead of `now` is the usual case (the holder read the clock after this request did), but
// one more than kStaleLockNs ahead was written before the clock went backwards and is stale.
bool lockIsFresh(std::string_view value, uint64_t now) {
  const size_t space = value.rfind(' ');
  if (space == std::string_view::npos) return false;
  const std::string digits(value.substr(space + 1));
  const uint64_t since = std::strtoull(digits.c_str(), nullptr, 10);
  return since >= now ? since - now <= kStaleLockNs : now - since < kStaleLockNs;
}

// Limited when a window has no token left; otherwise takes one from every window.
bool decide(Buckets& b, uint64_t now, Verdict& v, const Limit& limit) {
  size_t decider = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    const uint64_t reset = secondsToRefill(b[i], limit.windows[i], now);
    const bool empty = b[i].tokens == 0;
    if (empty && v.allowed) decider = i, v.allowed = false, v.reset_seconds = reset;
    if (empty && reset > v.reset_seconds) decider = i, v.reset_seconds = reset;
    if (v.allowed && b[i].tokens < b[decider].tokens) decider = i;
  }
  v.limit = limit.windows[decider].max_tokens;
  v.window_seconds = limit.windows[decider].interval_ns / 1'000'000'000;
  if (!v.allowed) {
    v.remaining = 0;
    return false;
  }
  for (Bucket& bucket : b) --bucket.tokens;
  v.remaining = b[decider].tokens;
  v.reset_seconds = secondsToRefill(b[decider], limit.windows[decider], now);
  return true;
}

}  // namespace

bool BucketStore::initialise(const std::vector<Limit>& limits) {
  // The lock and the overflow bucket exist before traffic (a write to a missing key succeeds
  // whatever the CAS, so only existing keys can be updated safely by several VMs). An existing
  // one (a reload) is kept, and so are the buckets.
  const uint64_t now = getCurrentTimeNanoseconds();
  std::vector<std::pair<std::string, std::string>> initial;
  for (const Limit& limit : limits) {
    if (limit.windows.empty()) continue;  // no default limit: nothing to create
    const std::string full = encode(fullBuckets(limit.windows, now));
    initial.emplace_back(limit.prefix + "lock", "-");
    initial.emplace_back(limit.prefix + "overflow", full);
    if (limit.single) initial.emplace_back(slotName(0, limit), full);  // the one bucket
  }
  for (const auto& [key, value] : initial) {
    if (!getSharedData(key) && setSharedData(key, value) != WasmResult::Ok) return false;
  }
  return true;
}

// Takes one token from the bucket of `key`, giving the key a bucket (full) on first use.
Verdict BucketStore::take(const std::string& key, const Limit& limit) {
  Verdict v;
  uint64_t now = getCurrentTimeNanoseconds();
  BusyWait busy(now);
  bool overflowed = false;
  for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    auto slot = locate(key, now, limit);
    while (slot && slot->state == Slot::State::Busy) {
      if (!busy.lookAgain(now)) {
        slot = Slot{Slot::State::Overflow, limit.prefix + "overflow", std::nullopt};
        break;
      }
      slot = locate(key, now, limit);
    }
    if (!slot) return error(v, "read", slot.error());
    if (slot->state == Slot::State::Retry) continue;
    if (slot->state == Slot::State::Overflow && !overflowed) {
      v.overflowed = true;  // once per request, however many CAS rounds follow
      overflowed = true;
    }
    Result<SharedData> cur =
        slot->current ? Result<SharedData>(std::move(*slot->current)) : getSharedData(slot->name);
    if (!cur) return error(v, "read", cur.error());
    const size_t bytes = limit.windows.size() * kBucketBytes;
    auto state = decode(cur->value.view().substr(0, bytes), limit.windows.size());
    if (!state) return error(v, "decode", WasmResult::SerializationFailure);
    if (slot->state == Slot::State::Own && cur->value.view().substr(bytes) != key) {
      continue;  // the slot changed hands since locate(): look again
    }
    Buckets b = std::move(*state);
    refill(b, limit.windows, now);
    if (!decide(b, now, v, limit)) return v;
    const std::string owner = slot->state == Slot::State::Own ? key : "";
    WasmResult r = setSharedData(slot->name, encode(b) + owner, cur->cas);
    if (r == WasmResult::Ok) return v;
    if (r != WasmResult::CasMismatch) return error(v, "write", r);
    v.contended = true;  // another worker took a token between our read and write
  }
  return error(v, "contention", WasmResult::CasMismatch);
}

Verdict& BucketStore::error(Verdict& v, const char* what, WasmResult r) {
  logError("local_rate_limit: shared data ", what, " failed: ", abi::toString(r), "; allowing");
  v.error = true;
  v.allowed = true;
  return v;
}

std::string BucketStore::slotName(uint64_t i, const Limit& limit) const {
  return limit.prefix + "slot." + std::to_string(i);
}

// Finds the key among its candidate slots, or gives it one: the first never-used slot (created
// under the lock) or the first whose bucket is full again (taken over by CAS). Overflow when all
// are held by buckets still in use.
Expected<BucketStore::Slot, WasmResult> BucketStore::locate(const std::string& key, uint64_t now,
                                                            const Limit& limit) {
  if (limit.single)
    return Slot{Slot::State::Own, slotName(0, limit), std::nullopt};  // the one bucket
  const uint64_t first = fnv1a(key) % max_keys_;
  const int probes = static_cast<int>(std::min<uint64_t>(kProbes, max_keys_));
  std::optional<std::pair<std::string, uint32_t>> idle;  // a reusable slot and its CAS
  for (int p = 0; p < probes; ++p) {
    const std::string name = slotName((first + p) % max_keys_, limit);
    auto cur = getSharedData(name);
    if (!cur) {
      if (cur.error() != WasmResult::NotFound) return unexpected(cur.error());
      // Never used: the key is in no later slot (slots are never removed). Take this one
      // unless an idle slot came first.
      if (idle) break;
      return createSlot(name, key, now, limit);
    }
    const std::string_view value = cur->value.view();
    const size_t bytes = limit.windows.size() * kBucketBytes;
    if (value.size() >= bytes && value.substr(bytes) == key) {
      return Slot{Slot::State::Own, name, std::move(*cur)};
    }
    if (!idle) {
      auto b = decode(value.substr(0, bytes), limit.windows.size());
      if (b) {
        refill(*b, limit.windows, now);
        if (allFull(*b, limit.windows)) idle.emplace(name, cur->cas);
      }
    }
  }
  if (!idle) return Slot{Slot::State::Overflow, limit.prefix + "overflow", std::nullopt};
  WasmResult r =
      setSharedData(idle->first, encode(fullBuckets(limit.windows, now)) + key, idle->second);
  if (r != WasmResult::Ok && r != WasmResult::CasMismatch) return unexpected(r);
  return Slot{Slot::State::Retry, "",
              std::nullopt};  // ours now, or someone else's: either way, look again
}

// Creates a never-used slot for `key`. A write to a missing key cannot be made conditional, so
// creations are serialised by the lock: whoever moves it from "-" to "<slot> <time>" with CAS
// creates (if the slot is still missing) and puts "-" back. A lock older than kStaleLockNs
// belongs to a VM that failed mid-creation and is taken over. While another VM holds it, the
// request waits (BusyWait); creations are rare: once per slot, ever.
Expected<BucketStore::Slot, WasmResult> BucketStore::createSlot(const std::string& name,
                                                                const std::string& key,
                                                                uint64_t now, const Limit& limit) {
  const std::string lock = limit.prefix + "lock";
  auto held = getSharedData(lock);
  if (!held) return unexpected(held.error());
  if (held->value.view() != "-" && lockIsFresh(held->value.view(), now)) {
    return Slot{Slot::State::Busy, "", std::nullopt};
  }
  const std::string ours = name + " " + std::to_string(now);
  WasmResult r = setSharedData(lock, ours, held->cas);
  if (r == WasmResult::CasMismatch) return Slot{Slot::State::Retry, "", std::nullopt};
  if (r != WasmResult::Ok) return unexpected(r);
  auto existing = getSharedData(name);
  const bool missing = !existing && existing.error() == WasmResult::NotFound;
  // Checked again just before the unconditional write: a thread descheduled for kStaleLockNs
  // since it took the lock has lost it to a VM that may be creating this very slot, and may have
  // spent from it already. Then nothing is written, and the lock is not ours to release.
  auto mine = getSharedData(lock);
  if (!mine || mine->value.view() != ours) return Slot{Slot::State::Retry, "", std::nullopt};
  if (missing) {
    r = setSharedData(name, encode(fullBuckets(limit.windows, now)) + key);
    if (r != WasmResult::Ok) return unexpected(r);
  }
  (void)setSharedData(lock, "-", mine->cas);  // a failed release ends as a stale lock
  return Slot{Slot::State::Retry, "", std::nullopt};
}

}  // namespace local_rate_limit
