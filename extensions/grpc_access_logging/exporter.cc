// Exporter: one service's batches, from the first entry to written or dropped.
#include <algorithm>

#include "access_log.h"

namespace grpc_access_logging {

using proxy_wasm::GrpcStatus;

namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kFirstBackoffMs = 250, kMaxBackoffMs = 30'000;
constexpr size_t kMaxExportBytes = 4u << 20;  // gRPC's default limit on a received message

}  // namespace

Exporter::Exporter(proxy_wasm::RootContext& root, ServiceTarget target, Wire wire,
                   const Config& limits, const std::string& counter_prefix)
    : root_(root),
      target_(std::move(target)),
      wire_(std::move(wire)),
      limits_(limits),
      counters_(counter_prefix) {
  // Listed at 0 from the start, so a dashboard sees them before the first export.
  (void)counters_.written.resolve({});
  (void)counters_.dropped.resolve({});
  (void)counters_.failures.resolve({});
}

void Exporter::add(const AccessEntry& access) {
  if (buffered_ >= limits_.max_buffered_entries) {
    counters_.dropped.increment();
    return;
  }
  const std::string entry = wire_.encode(access);
  // A batch is full at max_batch_entries, or when this entry would take it past max_batch_bytes;
  // a full batch goes at once (or right after the export in flight).
  bool full =
      current_.entries > 0 &&
      current_.bytes.size() + fieldFraming(entry.size()) + entry.size() > limits_.max_batch_bytes;
  if (full) seal();
  appendField(current_.bytes, wire_.entry_field, entry);
  ++current_.entries;
  ++buffered_;
  if (current_.entries >= limits_.max_batch_entries ||
      current_.bytes.size() >= limits_.max_batch_bytes) {
    seal();
    full = true;
  }
  if (full) sendNext(proxy_wasm::getCurrentTimeNanoseconds());
}

void Exporter::onTick(uint64_t now_ns) {
  seal();
  sendNext(now_ns);
}

void Exporter::drain(uint64_t deadline_ns, std::function<void()> done) {
  draining_ = true;
  deadline_ns_ = deadline_ns;
  on_drained_ = std::move(done);
  seal();
  sendNext(proxy_wasm::getCurrentTimeNanoseconds());
}

void Exporter::seal() {
  if (current_.entries == 0) return;
  sealed_.push_back(std::move(current_));
  current_ = Batch{};
}

void Exporter::sendNext(uint64_t now_ns) {
  while (!in_flight_ && !sealed_.empty()) {
    if (draining_ && now_ns >= deadline_ns_) {
      in_flight_batches_ = sealed_.size();
      dropInFlight("the shutdown deadline (timeout_ms) passed");
      continue;
    }
    if (!draining_ && now_ns < next_try_ns_) return;  // backing off; a later tick retries
    uint64_t timeout_ms = limits_.timeout_ms;
    if (draining_)
      timeout_ms = std::min(timeout_ms, std::max<uint64_t>(1, (deadline_ns_ - now_ns) / kMs));
    // A backlog goes out in fewer, larger exports: the batches waiting behind the first join it,
    // up to max_batch_entries entries (and gRPC's default 4 MiB message limit). One export per
    // round trip would otherwise cap the rate at max_batch_bytes per round trip.
    in_flight_batches_ = 1;
    uint32_t entries = sealed_.front().entries;
    size_t bytes = sealed_.front().bytes.size();
    while (in_flight_batches_ < sealed_.size()) {
      const Batch& next = sealed_[in_flight_batches_];
      if (entries + next.entries > limits_.max_batch_entries ||
          bytes + next.bytes.size() > kMaxExportBytes) {
        break;
      }
      entries += next.entries;
      bytes += next.bytes.size();
      ++in_flight_batches_;
    }
    std::string joined;  // only when batches go together
    for (size_t i = 0; in_flight_batches_ > 1 && i < in_flight_batches_; ++i) {
      joined += sealed_[i].bytes;
    }
    const std::string_view batch = in_flight_batches_ > 1 ? joined : sealed_.front().bytes;
    auto token = root_.grpcCall(target_.grpc_service, wire_.service, wire_.method, {},
                                wire_.wrap(batch), std::chrono::milliseconds(timeout_ms),
                                [this](const proxy_wasm::GrpcCallResponse& r) { onAnswer(r); });
    if (token) {
      in_flight_ = true;
      return;
    }
    counters_.failures.increment();
    dropInFlight("the call could not start (" +
                 std::string(proxy_wasm::abi::toString(token.error())) + ")");
  }
  if (draining_ && idle() && on_drained_) std::exchange(on_drained_, nullptr)();
}

void Exporter::onAnswer(const proxy_wasm::GrpcCallResponse& r) {
  in_flight_ = false;
  const uint64_t now = proxy_wasm::getCurrentTimeNanoseconds();
  if (r.ok()) {
    if (attempts_ > 0) {
      proxy_wasm::logInfo("grpc_access_logging: export to ", target_.configured,
                          " succeeded again after ", attempts_, " failed attempt(s)");
    }
    const uint32_t n = popInFlight();
    counters_.written.increment(n);
    attempts_ = 0;
    next_try_ns_ = 0;
  } else {
    counters_.failures.increment();
    const bool retriable =
        r.status() == GrpcStatus::Unavailable || r.status() == GrpcStatus::DeadlineExceeded;
    const std::string why =
        "status " + std::to_string(static_cast<uint32_t>(r.status())) + " " + r.statusMessage();
    if (retriable && !draining_) {
      const uint64_t backoff_ms =
          std::min(kMaxBackoffMs, kFirstBackoffMs << std::min<uint32_t>(attempts_, 7));
      if (attempts_ == 0) {
        proxy_wasm::logWarn("grpc_access_logging: export to ", target_.configured, " failed (", why,
                            "); retrying with backoff, holding ", buffered_, " entries");
      }
      ++attempts_;
      next_try_ns_ = now + backoff_ms * kMs;
    } else {
      dropInFlight(why);
    }
  }
  sendNext(now);
}

uint32_t Exporter::popInFlight() {
  uint32_t n = 0;
  for (; in_flight_batches_ > 0; --in_flight_batches_) {
    n += sealed_.front().entries;
    sealed_.pop_front();
  }
  buffered_ -= n;
  return n;
}

void Exporter::dropInFlight(std::string_view why) {
  const uint32_t n = popInFlight();
  proxy_wasm::logWarn("grpc_access_logging: dropping ", n, " entries for ", target_.configured,
                      ": ", why);
  counters_.dropped.increment(n);
  attempts_ = 0;
  next_try_ns_ = 0;
}

}  // namespace grpc_access_logging
