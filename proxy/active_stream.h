// One request/response exchange on a downstream connection (Envoy's ActiveStream): the request
// head and body through the decoder filters, the route (chosen after the filters, so a filter's
// header changes choose it again), the upstream request, and the response back through the
// encoder filters to the client. Local replies (a filter's, or the proxy's 404/503/504) take the
// same encode path when the response has not started, and go out directly when it has.
#pragma once

#include <boost/asio.hpp>

#include <memory>
#include <optional>
#include <string>

#include "filter_manager.h"
#include "http1/parser.h"
#include "http1/writer.h"
#include "stream_info.h"
#include "upstream/socket_deadline.h"
#include "upstream/upstream_request.h"

namespace wasm_proxy {

class ConnectionManager;
struct WorkerConfig;
class ClusterPool;

class ActiveStream {
 public:
  ActiveStream(ConnectionManager& connection, http1::RequestParser& parser,
               std::shared_ptr<WorkerConfig> config, const Listener& listener);
  ~ActiveStream();
  // Runs the exchange; returns whether the connection may carry another request.
  boost::asio::awaitable<bool> run();

 private:
  void prepareRequestHeaders();
  void createFilters();
  // The route the filters left: its cluster's pool, or nullptr with the local answer set (no
  // route, a direct response, an unknown cluster).
  ClusterPool* routeRequest();
  // Request side to the upstream. False when the connection must close at once.
  boost::asio::awaitable<bool> forward(const Route& route, ClusterPool& pool);
  // One piece of the request body (and the trailers at its end) through the decoder filters.
  boost::asio::awaitable<FilterResult> decodeBody(std::string& data, bool end_stream);
  // Reads the next piece of the request body, bounded by `deadline`; false with the stream's
  // answer set (400 for a malformed body, 408/504 on a timeout) or the client gone.
  boost::asio::awaitable<bool> readRequestBody(std::string& data,
                                               std::chrono::steady_clock::time_point deadline);
  // Response side.
  boost::asio::awaitable<bool> encode();
  boost::asio::awaitable<bool> encodeWhole(std::string data);
  boost::asio::awaitable<bool> encodeStreamed();
  boost::asio::awaitable<bool> encodeTrailers();
  // Writes a local reply without the filters (the response had started encoding).
  boost::asio::awaitable<bool> sendDirect(const LocalReply& reply);
  void makeWriter(bool complete, size_t size);
  // A response generated here (router errors, local replies), with Envoy's details.
  void respondLocally(uint32_t status, std::string body, std::string details,
                      const std::vector<std::pair<std::string, std::string>>& headers = {});
  void respondLocally(const LocalReply& reply);
  bool giveUp(FilterResult result);

  ConnectionManager& cm_;
  http1::RequestParser& parser_;
  std::shared_ptr<WorkerConfig> config_;
  const Listener& listener_;
  HttpStream stream_;
  http1::BodyReader<true> body_;
  FilterManager filters_;
  std::optional<UpstreamRequest> upstream_;
  std::optional<http1::MessageWriter> writer_;
  std::chrono::steady_clock::time_point request_deadline_ =
      std::chrono::steady_clock::time_point::max();  // HCM request_timeout
  bool keep_alive_;
  bool is_head_;
  bool abort_connection_ = false;  // set when the client's side is broken
};

}  // namespace wasm_proxy
