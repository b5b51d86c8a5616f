#include "filter_manager.h"

namespace wasm_proxy {

namespace asio = boost::asio;

void FilterManager::Slot::continueDecoding() {
  resumed[kDecode] = true;
  fm.wake();
}
void FilterManager::Slot::continueEncoding() {
  resumed[kEncode] = true;
  fm.wake();
}
void FilterManager::Slot::sendLocalReply(LocalReply reply) {
  fm.local_reply_ = std::move(reply);
  ++fm.local_replies_;
  fm.wake();
}
void FilterManager::Slot::resetStream() {
  fm.reset_ = true;
  fm.wake();
}

FilterManager::FilterManager(const asio::any_io_executor& executor, HttpStream& stream,
                             PauseWaiter& waiter, Limits limits, RouteSelector select_route)
    : executor_(executor),
      stream_(stream),
      waiter_(waiter),
      limits_(limits),
      select_route_(std::move(select_route)) {}

FilterManager::~FilterManager() {
  complete();
}

void FilterManager::addFilter(Factory factory) {
  Slot* slot;
  if (inline_slots_.size() < kInlineSlots) {
    slot = &inline_slots_.emplace_back(*this);
  } else {
    slot = more_slots_.emplace_back(std::make_unique<Slot>(*this)).get();
  }
  try {
    slot->filter = factory(*slot);
  } catch (...) {  // no slot without a filter
    if (more_slots_.empty()) {
      inline_slots_.pop_back();
    } else {
      more_slots_.pop_back();
    }
    throw;
  }
}

const Route* FilterManager::route() {
  if (!route_cached_) {
    stream_.info.route = select_route_ ? select_route_(stream_) : nullptr;
    route_cached_ = true;
  }
  return stream_.info.route;
}

void FilterManager::complete() {
  if (completed_) return;
  completed_ = true;
  for (size_t k = 0, n = size(); k < n; ++k) slot(k).filter->onStreamComplete();
}

void FilterManager::wake() {
  if (wake_) wake_->cancel();
}

FilterResult FilterManager::decodeHeaders(bool end_stream) {
  return start(kDecode, Phase::Headers, nullptr, end_stream);
}
FilterResult FilterManager::decodeData(std::string& data, bool end_stream) {
  return start(kDecode, Phase::Data, &data, end_stream);
}
FilterResult FilterManager::decodeTrailers() {
  return start(kDecode, Phase::Trailers, nullptr, true);
}
FilterResult FilterManager::encodeHeaders(bool end_stream) {
  stream_.response_started = true;
  return start(kEncode, Phase::Headers, nullptr, end_stream);
}
FilterResult FilterManager::encodeData(std::string& data, bool end_stream) {
  return start(kEncode, Phase::Data, &data, end_stream);
}
FilterResult FilterManager::encodeTrailers() {
  return start(kEncode, Phase::Trailers, nullptr, true);
}

FilterResult FilterManager::start(Direction dir, Phase phase, std::string* data, bool end_stream) {
  Iteration it{dir, phase, data, end_stream};
  return run(it);
}

FilterManager::Slot& FilterManager::slotAt(const Iteration& it, size_t k) {
  return slot(it.dir == kDecode ? k : decoded_ - 1 - k);
}

// Calls one filter; returns whether it stopped.
bool FilterManager::call(Slot& slot, Direction dir, Phase phase, bool end_stream) {
  StreamFilter& f = *slot.filter;
  switch (phase) {
    case Phase::Headers:
      return (dir == kDecode ? f.decodeHeaders(end_stream) : f.encodeHeaders(end_stream)) !=
             HeadersStatus::Continue;
    case Phase::Data:
      return (dir == kDecode ? f.decodeData(slot.held[dir], end_stream)
                             : f.encodeData(slot.held[dir], end_stream)) != DataStatus::Continue;
    case Phase::Trailers:
      return (dir == kDecode ? f.decodeTrailers() : f.encodeTrailers()) != TrailersStatus::Continue;
  }
  return false;
}

FilterResult FilterManager::run(Iteration& it) {
  const Direction dir = it.dir;
  const size_t n = dir == kDecode ? size() : decoded_;
  for (; it.next < n; ++it.next) {
    const size_t k = it.next;
    if (dir == kDecode && it.phase == Phase::Headers) decoded_ = k + 1;
    Slot& s = slotAt(it, k);
    if (it.phase == Phase::Data) {
      // The piece joins what this filter holds; nothing held (the usual case) costs no copy.
      if (s.held[dir].empty()) {
        std::swap(s.held[dir], *it.data);
      } else {
        s.held[dir].append(*it.data);
        it.data->clear();
      }
    }
    if (s.filter->bypassed()) {
      if (it.phase == Phase::Data) std::swap(*it.data, s.held[dir]);
      continue;
    }
    s.resumed[dir] = false;
    it.replies = local_replies_;
    const bool stopped = call(s, dir, it.phase, it.end_stream);
    if (local_replies_ != it.replies) return FilterResult::LocalReply;
    if (reset_) return FilterResult::Reset;
    if (stopped && !s.resumed[dir] && !s.filter->bypassed()) {
      if (it.phase == Phase::Data && !it.end_stream) {
        // Held until more data (or the end) arrives.
        const size_t limit = dir == kDecode ? limits_.max_request_held : limits_.max_response_held;
        return s.held[dir].size() > limit ? FilterResult::TooLarge : FilterResult::Continue;
      }
      paused_ = it;
      return FilterResult::Paused;
    }
    if (it.phase == Phase::Data) std::swap(*it.data, s.held[dir]);
  }
  return FilterResult::Continue;
}

asio::awaitable<FilterResult> FilterManager::resume() {
  for (;;) {
    Iteration it = paused_;
    Slot& s = slotAt(it, it.next);
    if (!co_await waitForResume(s, it.dir, it.replies)) co_return FilterResult::GiveUp;
    if (local_replies_ != it.replies) co_return FilterResult::LocalReply;
    if (reset_) co_return FilterResult::Reset;
    if (it.phase == Phase::Data) std::swap(*it.data, s.held[it.dir]);
    ++it.next;
    const FilterResult r = run(it);
    if (r != FilterResult::Paused) co_return r;
  }
}

bool FilterManager::resumed(const Slot& s, Direction dir, int replies) const {
  return s.resumed[dir] || local_replies_ != replies || reset_ || s.filter->bypassed();
}

asio::awaitable<bool> FilterManager::waitForResume(Slot& s, Direction dir, int replies) {
  if (!wake_) wake_.emplace(executor_);
  for (;;) {
    if (resumed(s, dir, replies)) co_return true;
    const bool go_on = co_await waiter_.waitForWake(*wake_);
    if (!go_on) co_return false;
  }
}

}  // namespace wasm_proxy
