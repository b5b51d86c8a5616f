#include "upstream/grpc_client.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <map>
#include <mutex>
#include <optional>

namespace wasm_proxy {

namespace {

std::shared_ptr<grpc::Channel> channelFor(const std::string& target) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<grpc::Channel>> channels;
  std::lock_guard lock(mu);
  auto& c = channels[target];
  if (!c) c = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  return c;
}

class Call final : public GrpcCallHandle {
 public:
  void cancel() override { context.TryCancel(); }
  grpc::ClientContext context;
  grpc::ByteBuffer request, response;
  std::unique_ptr<grpc::GenericStub> stub;
};

std::string bytesOf(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// One protobuf field: its number, wire type, and (length-delimited) bytes. False at the end or
// on malformed input.
bool nextField(std::string_view& in, uint32_t* field, std::string_view* bytes, bool* ok) {
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
      const auto b = static_cast<uint8_t>(in.front());
      in.remove_prefix(1);
      *v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  if (in.empty()) return false;
  uint64_t key = 0, len = 0;
  if (!varint(&key)) return *ok = false;
  *field = static_cast<uint32_t>(key >> 3);
  switch (key & 7) {
    case 0: return varint(&len) || (*ok = false);
    case 1: if (in.size() < 8) return *ok = false; in.remove_prefix(8); return true;
    case 5: if (in.size() < 4) return *ok = false; in.remove_prefix(4); return true;
    case 2:
      if (!varint(&len) || len > in.size()) return *ok = false;
      *bytes = in.substr(0, len);
      in.remove_prefix(len);
      return true;
    default: return *ok = false;
  }
}

// The string field `number` of a message, if the message parses.
std::optional<std::string> stringField(std::string_view message, uint32_t number, bool* ok) {
  std::optional<std::string> out;
  uint32_t field = 0;
  std::string_view bytes;
  while (nextField(message, &field, &bytes, ok)) {
    if (field == number) out = std::string(bytes);
  }
  return out;
}

}  // namespace

GrpcServiceRef parseGrpcService(std::string_view bytes) {
  bool ok = true;
  std::string_view in = bytes;
  uint32_t field = 0;
  std::string_view value;
  GrpcServiceRef ref;
  while (nextField(in, &field, &value, &ok)) {
    if (field == 1) ref.cluster = stringField(value, 1, &ok).value_or("");  // envoy_grpc
    if (field == 2) ref.target_uri = stringField(value, 1, &ok).value_or("");  // google_grpc
  }
  if (!ok || (ref.cluster.empty() && ref.target_uri.empty())) {
    return GrpcServiceRef{std::string(bytes), ""};  // a plain cluster name
  }
  return ref;
}

std::shared_ptr<GrpcCallHandle> startGrpcCall(
    const std::string& target, const std::string& method,
    const std::vector<std::pair<std::string, std::string>>& metadata, std::string message,
    std::chrono::milliseconds timeout, boost::asio::any_io_executor executor,
    std::function<void(GrpcCallResult)> done) {
  auto call = std::make_shared<Call>();
  call->stub = std::make_unique<grpc::GenericStub>(channelFor(target));
  if (timeout.count() > 0) call->context.set_deadline(std::chrono::system_clock::now() + timeout);
  for (const auto& [k, v] : metadata) call->context.AddMetadata(k, v);
  grpc::Slice slice(message);
  call->request = grpc::ByteBuffer(&slice, 1);
  call->stub->UnaryCall(&call->context, method, grpc::StubOptions(), &call->request,
                        &call->response,
                        [call, executor, done = std::move(done)](grpc::Status status) {
                          GrpcCallResult r;
                          r.status = static_cast<uint32_t>(status.error_code());
                          r.message = status.error_message();
                          if (status.ok()) r.response = bytesOf(call->response);
                          boost::asio::post(executor, [done, r = std::move(r)]() mutable {
                            done(std::move(r));
                          });
                        });
  return call;
}

}  // namespace wasm_proxy
