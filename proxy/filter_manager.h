// The HTTP filter chain of one stream (Envoy's FilterManager).
//
// Owns the stream's filters in config order and runs them: request callbacks (decode*) in order,
// response callbacks (encode*) in reverse order through the filters that saw the request head.
// Iteration is written once (run()): each filter may continue, stop until it is resumed
// (headers, trailers, and data at the end of the stream), or hold data until more arrives (one
// held buffer per filter and direction, bounded); a filter may at any time reply locally or reset
// the stream, which ends the iteration with that result. The filters run synchronously; only
// when one holds the stream does the caller get Paused and co_await resume(), in which the
// PauseWaiter (the connection manager) waits, watching the client, until a callback wakes it.
// (No coroutine frame for iterations that do not pause: the common case costs a plain call.)
//
// Invariants: a filter gets callbacks of a direction only after the previous filter let them
// through; after a LocalReply/Reset result no further decode callbacks run; filters are completed
// (onStreamComplete: Envoy's on_log, on_done, on_delete) exactly once, in config order.
#pragma once

#include <boost/asio.hpp>
#include <boost/container/static_vector.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "function_ref.h"
#include "proxy_wasm/host/embedder.h"
#include "stream_info.h"

namespace wasm_proxy {

using proxy_wasm::host::LocalReply;

enum class HeadersStatus { Continue, StopIteration };  // Stop: nothing more until resumed
enum class DataStatus { Continue, StopIterationAndBuffer };
enum class TrailersStatus { Continue, StopIteration };

// What a filter can do to its stream; given to each filter when it is created.
class StreamFilterCallbacks {
 public:
  virtual ~StreamFilterCallbacks() = default;
  virtual HttpStream& stream() = 0;
  virtual void continueDecoding() = 0;
  virtual void continueEncoding() = 0;
  virtual void sendLocalReply(LocalReply reply) = 0;
  virtual void resetStream() = 0;
  // The stream's route, selected on first use and again after clearRouteCache() (Envoy's
  // route cache: a filter that changes request headers gets the route chosen by the new ones).
  virtual const Route* route() = 0;
  virtual void clearRouteCache() = 0;
};

class StreamFilter {
 public:
  virtual ~StreamFilter() = default;
  virtual HeadersStatus decodeHeaders(bool end_stream) = 0;
  // `data` is everything this filter holds (pieces it buffered, then the new one); what is in it
  // when the filter continues goes on to the next filter.
  virtual DataStatus decodeData(std::string& data, bool end_stream) = 0;
  virtual TrailersStatus decodeTrailers() = 0;
  virtual HeadersStatus encodeHeaders(bool end_stream) = 0;
  virtual DataStatus encodeData(std::string& data, bool end_stream) = 0;
  virtual TrailersStatus encodeTrailers() = 0;
  // Out of the chain from now on (a failed plugin that fails open, or after it failed closed).
  virtual bool bypassed() const { return false; }
  // The stream is over (access-log time).
  virtual void onStreamComplete() {}
};

// Waits while a filter holds the stream. Returns false when the stream must be given up (the
// client went away or a stream timeout passed); `wake` is cancelled by the filters' callbacks.
class PauseWaiter {
 public:
  virtual ~PauseWaiter() = default;
  virtual boost::asio::awaitable<bool> waitForWake(boost::asio::steady_timer& wake) = 0;
};

enum class FilterResult {
  Paused,      // a filter holds the stream: co_await resume() for one of the others
  Continue,    // every filter let it through (data: what came out is in `data`, maybe nothing)
  LocalReply,  // a filter replied: localReply()
  Reset,       // a filter reset the stream
  GiveUp,      // the waiter gave up (client gone, timeout)
  TooLarge,    // a filter held more data than the limit of its direction
};

class FilterManager {
 public:
  struct Limits {
    size_t max_request_held = 16u << 20;
    size_t max_response_held = 64u << 20;
  };
  using Factory = FunctionRef<std::unique_ptr<StreamFilter>(StreamFilterCallbacks&)>;
  using RouteSelector = std::function<const Route*(const HttpStream&)>;

  FilterManager(const boost::asio::any_io_executor& executor, HttpStream& stream,
                PauseWaiter& waiter, Limits limits, RouteSelector select_route);
  ~FilterManager();
  FilterManager(const FilterManager&) = delete;
  FilterManager& operator=(const FilterManager&) = delete;

  void addFilter(Factory factory);
  size_t size() const { return inline_slots_.size() + more_slots_.size(); }

  // Each runs the filters of one phase; a Paused result must be followed by resume() before
  // anything else. `data` must stay valid until the phase's final result.
  FilterResult decodeHeaders(bool end_stream);
  FilterResult decodeData(std::string& data, bool end_stream);
  FilterResult decodeTrailers();
  // Encoding starts with the response head in stream().response (marks it started).
  FilterResult encodeHeaders(bool end_stream);
  FilterResult encodeData(std::string& data, bool end_stream);
  FilterResult encodeTrailers();
  // Waits until the filter that paused the phase resumes it (or replies, resets, or the waiter
  // gives up), then runs the rest of the phase; never returns Paused.
  boost::asio::awaitable<FilterResult> resume();

  // The latest local reply (valid after a LocalReply result).
  const LocalReply& localReply() const { return *local_reply_; }
  const Route* route();
  // Every filter's onStreamComplete, once, in config order (also done by the destructor).
  void complete();

 private:
  // One filter and what it holds; a filter keeps a reference to its slot (its callbacks), so a
  // slot never moves.
  struct Slot final : StreamFilterCallbacks {
    explicit Slot(FilterManager& manager) : fm(manager) {}
    HttpStream& stream() override { return fm.stream_; }
    void continueDecoding() override;
    void continueEncoding() override;
    void sendLocalReply(LocalReply reply) override;
    void resetStream() override;
    const Route* route() override { return fm.route(); }
    void clearRouteCache() override { fm.route_cached_ = false; }

    FilterManager& fm;
    std::unique_ptr<StreamFilter> filter;
    std::string held[2];  // data this filter holds, per direction
    bool resumed[2] = {false, false};
  };
  enum class Phase { Headers, Data, Trailers };
  enum Direction { kDecode = 0, kEncode = 1 };

  // One phase in one direction, from filter `next` on (a position in iteration order).
  struct Iteration {
    Direction dir;
    Phase phase;
    std::string* data;
    bool end_stream;
    size_t next = 0;
    int replies = 0;  // local replies before the paused filter ran
  };
  FilterResult start(Direction dir, Phase phase, std::string* data, bool end_stream);
  FilterResult run(Iteration& it);
  Slot& slot(size_t k) {
    return k < kInlineSlots ? inline_slots_[k] : *more_slots_[k - kInlineSlots];
  }
  Slot& slotAt(const Iteration& it, size_t k);
  bool call(Slot& slot, Direction dir, Phase phase, bool end_stream);
  bool resumed(const Slot& slot, Direction dir, int replies) const;
  boost::asio::awaitable<bool> waitForResume(Slot& slot, Direction dir, int replies);
  void wake();

  boost::asio::any_io_executor executor_;
  HttpStream& stream_;
  PauseWaiter& waiter_;
  Limits limits_;
  RouteSelector select_route_;
  // The filters in config order: the usual few in place (a stream's chain costs no allocation;
  // a static_vector never reallocates, so its slots stay put), any further ones on the heap.
  static constexpr size_t kInlineSlots = 4;
  std::vector<std::unique_ptr<Slot>> more_slots_;
  boost::container::static_vector<Slot, kInlineSlots> inline_slots_;
  size_t decoded_ = 0;  // filters that have seen the request head (encoders run through these)
  Iteration paused_{};  // valid while a phase is Paused
  std::optional<LocalReply> local_reply_;
  int local_replies_ = 0;
  bool reset_ = false;
  bool route_cached_ = false;
  bool completed_ = false;
  std::optional<boost::asio::steady_timer> wake_;  // only streams that pause need one
};

}  // namespace wasm_proxy
