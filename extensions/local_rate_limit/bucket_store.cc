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
constexpr uint64_t kStaleLockNs = 1'000'000'000;  // a creator that died mid-creation
constexpr int kMaxBusyLooks = 1000;

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
  const uint64_t now = getCurrentTimeNanoseconds();
  int busy_looks = 0;
  bool overflowed = false;
  for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    auto slot = locate(key, now, limit);
    if (!slot) return error(v, "read", slot.error());
    if (slot->state == Slot::State::Retry) continue;
    if (slot->state == Slot::State::Busy) {
      // The lock is held for a few hostcalls by another thread; a holder still there after
      // kMaxBusyLooks is stuck (it goes stale after kStaleLockNs): use the overflow bucket.
      if (++busy_looks < kMaxBusyLooks) continue;
      slot = Slot{Slot::State::Overflow, limit.prefix + "overflow", std::nullopt};
    }
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
// belongs to a VM that failed mid-creation and is taken over. While another VM holds it, this
// request counts against the overflow bucket (creations are rare: once per slot, ever).
Expected<BucketStore::Slot, WasmResult> BucketStore::createSlot(const std::string& name,
                                                                const std::string& key,
                                                                uint64_t now, const Limit& limit) {
  const std::string lock = limit.prefix + "lock";
  auto held = getSharedData(lock);
  if (!held) return unexpected(held.error());
  const std::string value = held->value.toString();
  if (value != "-") {
    const size_t space = value.rfind(' ');
    const uint64_t since = std::strtoull(value.c_str() + space + 1, nullptr, 10);
    if (space != std::string::npos && now >= since && now - since < kStaleLockNs) {
      return Slot{Slot::State::Busy, "", std::nullopt};
    }
  }
  WasmResult r = setSharedData(lock, name + " " + std::to_string(now), held->cas);
  if (r == WasmResult::CasMismatch) return Slot{Slot::State::Retry, "", std::nullopt};
  if (r != WasmResult::Ok) return unexpected(r);
  auto existing = getSharedData(name);
  if (!existing && existing.error() == WasmResult::NotFound) {
    r = setSharedData(name, encode(fullBuckets(limit.windows, now)) + key);
    if (r != WasmResult::Ok) return unexpected(r);
  }
  const std::string ours = name + " ";
  if (auto mine = getSharedData(lock); mine && mine->value.view().substr(0, ours.size()) == ours) {
    (void)setSharedData(lock, "-", mine->cas);  // a failed release ends as a stale lock
  }
  return Slot{Slot::State::Retry, "", std::nullopt};
}

}  // namespace local_rate_limit
