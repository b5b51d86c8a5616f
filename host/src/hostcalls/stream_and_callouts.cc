// Hostcalls that act on the stream (continue, close, local reply) and start callouts (HTTP, gRPC
// calls and streams), and proxy_get_status. Actions on a stream are deferred until the outermost
// call into the VM returns, and dropped if the stream context is gone by then.
#include "../hostcall_env.h"

namespace proxy_wasm::host {
namespace {

WasmResult onStream(HostcallEnv& env, const char* what, std::function<void(StreamHost&)> action) {
  HostcallEnv::Context* c = env.currentContext();
  if (c == nullptr || c->stream == nullptr) {
    env.log(LogLevel::Warn, std::string(what) +
                                " called on a root context does nothing; call "
                                "proxy_set_effective_context with the stream's id first");
    return WasmResult::Ok;
  }
  env.defer([env, id = c->id, action = std::move(action)]() mutable {
    HostcallEnv::Context* s = env.context(id);
    if (s != nullptr && s->stream != nullptr) action(*s->stream);
  });
  return WasmResult::Ok;
}

WasmResult continueStream(HostcallEnv& env, StreamType type) {
  if (type != StreamType::Request && type != StreamType::Response) {
    return WasmResult::Unimplemented;
  }
  return onStream(env, "proxy_continue_stream", [type](StreamHost& s) { s.continueStream(type); });
}

WasmResult closeStream(HostcallEnv& env, StreamType type) {
  if (type != StreamType::Request && type != StreamType::Response) {
    return WasmResult::Unimplemented;
  }
  return onStream(env, "proxy_close_stream", [type](StreamHost& s) { s.closeStream(type); });
}

WasmResult sendLocalResponse(HostcallEnv& env, uint32_t status, GuestBytes details, GuestBytes body,
                             GuestBytes headers, int32_t grpc_status) {
  LocalReply reply;
  reply.status = status;
  reply.body = std::string(body.view);
  reply.headers = decodeOwnedPairs(headers.view);
  reply.details = std::string(details.view);
  for (char& ch : reply.details) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') ch = '_';
  }
  reply.grpc_status = grpc_status >= 0 && grpc_status <= 16 ? grpc_status : -1;
  HostcallEnv::Context* c = env.currentContext();
  if (c != nullptr && c->stream != nullptr) c->local_reply_sent = true;
  return onStream(
      env, "proxy_send_local_response",
      [reply = std::move(reply)](StreamHost& s) mutable { s.sendLocalReply(std::move(reply)); });
}

WasmResult getStatus(HostcallEnv& env, GuestU32Out code, GuestOut message) {
  if (!code.write(env, env.lastStatus().first)) return WasmResult::InvalidMemoryAccess;
  const std::string copy = env.lastStatus().second;  // copying out may run plugin code
  return message.write(env, copy);
}

// ---- callouts ----

bool hasHeader(const std::vector<std::pair<std::string, std::string>>& h, std::string_view key) {
  for (auto& [k, v] : h) {
    if (k == key) return true;
  }
  return false;
}

// The root context that owns a callout started now (its answers are delivered there).
HostcallEnv::Context* calloutOwner(HostcallEnv& env) {
  return env.rootOf(env.currentContext());
}

WasmResult httpCall(HostcallEnv& env, GuestBytes upstream, GuestBytes headers, GuestBytes body,
                    GuestBytes trailers, uint32_t timeout_ms, GuestU32Out token_out) {
  if (!token_out.write(env, 0)) return WasmResult::InvalidMemoryAccess;
  HttpCallRequest req;
  req.cluster = std::string(upstream.view);
  req.headers = decodeOwnedPairs(headers.view);
  for (auto& [k, v] : req.headers) k = lowerAscii(k);
  req.body = std::string(body.view);
  req.trailers = decodeOwnedPairs(trailers.view);
  req.timeout_ms = timeout_ms;
  if (!hasHeader(req.headers, ":method") || !hasHeader(req.headers, ":path") ||
      !hasHeader(req.headers, ":authority")) {
    return WasmResult::BadArgument;
  }
  HostcallEnv::Context* root = calloutOwner(env);
  if (root == nullptr) return WasmResult::BadArgument;
  const uint32_t token = env.nextCalloutToken(abi::kHttpCallIdTag);
  WasmResult r = env.host().httpCall(env.vm(), root->id, token, std::move(req));
  if (r != WasmResult::Ok) return r;
  token_out.write(env, token);
  return WasmResult::Ok;
}

GrpcCallRequest grpcRequest(GuestBytes service, GuestBytes service_name, GuestBytes method,
                            GuestBytes metadata) {
  GrpcCallRequest req;
  req.service = std::string(service.view);
  req.service_name = std::string(service_name.view);
  req.method = std::string(method.view);
  req.initial_metadata = decodeOwnedPairs(metadata.view);
  return req;
}

WasmResult grpcCall(HostcallEnv& env, GuestBytes service, GuestBytes service_name,
                    GuestBytes method, GuestBytes metadata, GuestBytes message, uint32_t timeout_ms,
                    GuestU32Out token_out) {
  if (!token_out.write(env, 0)) return WasmResult::InvalidMemoryAccess;
  GrpcCallRequest req = grpcRequest(service, service_name, method, metadata);
  req.message = std::string(message.view);
  req.timeout_ms = timeout_ms;
  HostcallEnv::Context* root = calloutOwner(env);
  if (root == nullptr) return WasmResult::BadArgument;
  const uint32_t token = env.nextCalloutToken(abi::kGrpcCallIdTag);
  WasmResult r = env.host().grpcCall(env.vm(), root->id, token, std::move(req));
  if (r != WasmResult::Ok) return r;
  token_out.write(env, token);
  return WasmResult::Ok;
}

WasmResult grpcStream(HostcallEnv& env, GuestBytes service, GuestBytes service_name,
                      GuestBytes method, GuestBytes metadata, GuestU32Out token_out) {
  if (!token_out.write(env, 0)) return WasmResult::InvalidMemoryAccess;
  GrpcCallRequest req = grpcRequest(service, service_name, method, metadata);
  HostcallEnv::Context* root = calloutOwner(env);
  if (root == nullptr) return WasmResult::BadArgument;
  const uint32_t token = env.nextCalloutToken(abi::kGrpcStreamIdTag);
  WasmResult r = env.host().grpcStream(env.vm(), root->id, token, std::move(req));
  if (r != WasmResult::Ok) return r;
  env.grpcStreams()[token] = root->id;
  token_out.write(env, token);
  return WasmResult::Ok;
}

WasmResult grpcSend(HostcallEnv& env, uint32_t token, GuestBytes message, uint32_t end_stream) {
  if (token % 4 != abi::kGrpcStreamIdTag) return WasmResult::BadArgument;
  if (env.grpcStreams().count(token) == 0) return WasmResult::NotFound;
  return env.host().grpcSend(env.vm(), token, message.view, end_stream != 0);
}

WasmResult grpcCancel(HostcallEnv& env, uint32_t token) {
  env.grpcStreams().erase(token);
  return env.host().grpcCancel(env.vm(), token);
}

WasmResult grpcClose(HostcallEnv& env, uint32_t token) {
  return env.host().grpcClose(env.vm(), token);
}

}  // namespace

std::vector<HostcallDef> streamAndCalloutHostcalls() {
  return {
      PROXY_WASM_HOST_ENTRY(proxy_continue_stream, continueStream),
      PROXY_WASM_HOST_ENTRY(proxy_close_stream, closeStream),
      PROXY_WASM_HOST_ENTRY(proxy_send_local_response, sendLocalResponse),
      PROXY_WASM_HOST_ENTRY(proxy_get_status, getStatus),
      PROXY_WASM_HOST_ENTRY(proxy_http_call, httpCall),
      PROXY_WASM_HOST_ENTRY(proxy_grpc_call, grpcCall),
      PROXY_WASM_HOST_ENTRY(proxy_grpc_stream, grpcStream),
      PROXY_WASM_HOST_ENTRY(proxy_grpc_send, grpcSend),
      PROXY_WASM_HOST_ENTRY(proxy_grpc_cancel, grpcCancel),
      PROXY_WASM_HOST_ENTRY(proxy_grpc_close, grpcClose),
  };
}

}  // namespace proxy_wasm::host
