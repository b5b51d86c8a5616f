// The router's upstream half for one stream: a request sent to a cluster (its head and first
// body bytes at once, then the rest as the caller produces it) and the response read back (head,
// then body pieces). Owns the pooled connection for the exchange and gives it back only when the
// exchange ended cleanly (whole response read, framing intact, keep-alive on both sides).
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "function_ref.h"
#include "http1/parser.h"
#include "upstream/cluster_pool.h"
#include "upstream/socket_deadline.h"

namespace wasm_proxy {

class UpstreamRequest {
 public:
  // What the body producer did: more pieces follow, the request is complete, or the request was
  // abandoned (the downstream went away, a filter replied locally...): the connection is dropped.
  enum class Step { More, Done, Abort };
  using BodyProducer = FunctionRef<boost::asio::awaitable<Step>(std::string& wire)>;

  // `spare_headers`, when given, lends its storage to the response head's header map.
  UpstreamRequest(ClusterPool& pool, std::chrono::steady_clock::time_point deadline, bool is_head,
                  http1::VectorHeaderMap* spare_headers = nullptr)
      : pool_(pool), deadline_(deadline), is_head_(is_head), spare_headers_(spare_headers) {}

  // Sends `wire` (head + first body bytes) and, unless `complete`, what `more` produces; then
  // reads the final response head. A stale pooled connection (closed without a byte of response)
  // gets one retry on a fresh connection when the whole request went out in `wire`.
  // Returns None with the head in response(), Abort-ed requests as Reset.
  boost::asio::awaitable<UpstreamFailure> send(const std::string& wire, bool complete,
                                               BodyProducer more);
  // Marks the request as not framed as its headers said: the connection is not reused and its
  // sending side is shut so that the upstream does not wait for the rest.
  void endFramingBroken();

  http1::ResponseParser& response() { return *parser_; }
  const std::string& upstreamAddress() const { return address_; }
  bool responseDone() const { return parser_ && parser_->is_done(); }
  bool bodyBuffered() const { return conn_ && conn_->buffer.size() != 0; }
  // The whole body, without I/O, when it is already received and its length known (the common
  // small response): appended to `body`; false (nothing taken) otherwise.
  bool takeWholeBuffered(std::string& body);
  // The next decoded body piece (appended to `out`), under the route deadline.
  boost::asio::awaitable<boost::system::error_code> readBody(std::string& out);
  bool timedOut() const { return timed_out_; }
  // The exchange is over; the connection goes back to the pool if it is clean.
  void finish();
  // The exchange is abandoned; the connection is closed.
  void abandon() { drop(); }

 private:
  void drop();  // disarms the deadline first: it points at the socket
  // A fresh parser for the next response head.
  void expectHead();
  // After a complete head: whether it is the final one (not an interim 1xx). A 101 is an error
  // (`ec`): the proxy never asks for an upgrade, so an upstream that switches protocols anyway
  // cannot be proxied or pooled.
  bool finalHead(boost::system::error_code& ec);

  ClusterPool& pool_;
  std::chrono::steady_clock::time_point deadline_;
  bool is_head_;
  http1::VectorHeaderMap* spare_headers_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::optional<http1::ResponseParser> parser_;
  std::string address_;
  bool timed_out_ = false;
};

}  // namespace wasm_proxy
