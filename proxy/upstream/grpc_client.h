// Unary gRPC callouts (proxy_grpc_call) over real HTTP/2 with libgrpc++'s generic stub: one
// channel per target, shared by every worker (gRPC multiplexes calls on it). The call's
// completion runs on a gRPC thread and is handed to the caller's executor, which runs `done`
// exactly once (also when the call was cancelled). Messages are opaque bytes both ways.
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace wasm_proxy {

struct GrpcCallResult {
  uint32_t status = 0;   // gRPC status code (0: OK)
  std::string message;   // the status message when not OK
  std::string response;  // the response message when OK
};

// Cancels the call it belongs to (a no-op once it completed).
class GrpcCallHandle {
 public:
  virtual ~GrpcCallHandle() = default;
  virtual void cancel() = 0;
};

using GrpcMetadata = std::vector<std::pair<std::string, std::string>>;

// A bidirectional stream (proxy_grpc_stream). Messages queue and go out one at a time in order;
// end_stream (or closeSend) half-closes after the queued ones.
class GrpcStreamHandle : public GrpcCallHandle {
 public:
  virtual void send(std::string message, bool end_stream) = 0;
  virtual void closeSend() = 0;
};

// What a stream reports, each on the caller's executor, in order; `close` comes last, once.
struct GrpcStreamEvents {
  std::function<void(GrpcMetadata)> initial_metadata;
  std::function<void(std::string)> message;
  std::function<void(GrpcMetadata)> trailing_metadata;
  std::function<void(GrpcCallResult)> close;
};

std::shared_ptr<GrpcStreamHandle> startGrpcStream(const std::string& target,
                                                  const std::string& method,
                                                  const GrpcMetadata& metadata,
                                                  boost::asio::any_io_executor executor,
                                                  GrpcStreamEvents events);

// `target`: "host:port" (or any gRPC target URI); `method`: "/package.Service/Method".
std::shared_ptr<GrpcCallHandle> startGrpcCall(
    const std::string& target, const std::string& method,
    const std::vector<std::pair<std::string, std::string>>& metadata, std::string message,
    std::chrono::milliseconds timeout, boost::asio::any_io_executor executor,
    std::function<void(GrpcCallResult)> done);

// What a proxy_grpc_call's `service` argument names, as Envoy reads it: a serialized
// envoy.config.core.v3.GrpcService (envoy_grpc.cluster_name, or google_grpc.target_uri), else
// the bytes as a cluster name.
struct GrpcServiceRef {
  std::string cluster;     // envoy_grpc, or the plain name
  std::string target_uri;  // google_grpc
};
GrpcServiceRef parseGrpcService(std::string_view bytes);

}  // namespace wasm_proxy
