#include "upstream/grpc_client.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <deque>
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
    case 0:
      return varint(&len) || (*ok = false);
    case 1:
      if (in.size() < 8) return *ok = false;
      in.remove_prefix(8);
      return true;
    case 5:
      if (in.size() < 4) return *ok = false;
      in.remove_prefix(4);
      return true;
    case 2:
      if (!varint(&len) || len > in.size()) return *ok = false;
      *bytes = in.substr(0, len);
      in.remove_prefix(len);
      return true;
    default:
      return *ok = false;
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

template <class Map>
GrpcMetadata metadataOf(const Map& m) {
  GrpcMetadata out;
  for (const auto& [k, v] : m)
    out.emplace_back(std::string(k.data(), k.size()), std::string(v.data(), v.size()));
  return out;
}

class Stream final : public GrpcStreamHandle,
                     public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  Stream(boost::asio::any_io_executor executor, GrpcStreamEvents events)
      : executor_(std::move(executor)), events_(std::move(events)) {}

  void start(std::shared_ptr<Stream> self, const std::string& target, const std::string& method,
             const GrpcMetadata& metadata) {
    self_ = std::move(self);  // kept alive until OnDone
    stub_ = std::make_unique<grpc::GenericStub>(channelFor(target));
    for (const auto& [k, v] : metadata) context_.AddMetadata(k, v);
    stub_->PrepareBidiStreamingCall(&context_, method, grpc::StubOptions(), this);
    StartCall();
  }

  // ---- from the worker ----
  void send(std::string message, bool end_stream) override {
    std::lock_guard lock(mu_);
    if (half_closed_) return;
    grpc::Slice slice(message);
    queue_.emplace_back(&slice, 1);
    if (end_stream) half_close_ = true;
    pump();
  }
  void closeSend() override {
    std::lock_guard lock(mu_);
    half_close_ = true;
    pump();
  }
  void cancel() override { context_.TryCancel(); }

  // ---- gRPC's threads ----
  // gRPC runs these reactions on its own threads, in no promised order between operations; the
  // first read starts only once the initial metadata is posted, so the plugin always sees the
  // metadata before the first message, as on the wire and in Envoy.
  void OnReadInitialMetadataDone(bool ok) override {
    if (!ok) return;  // the call failed; OnDone follows
    post([events = events_, md = metadataOf(context_.GetServerInitialMetadata())]() mutable {
      if (events.initial_metadata) events.initial_metadata(std::move(md));
    });
    StartRead(&read_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // the server finished; OnDone follows
    post([events = events_, m = bytesOf(read_)]() mutable { events.message(std::move(m)); });
    StartRead(&read_);
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!queue_.empty()) queue_.pop_front();
    if (!ok) {
      queue_.clear();
      return;
    }
    pump();
  }
  void OnDone(const grpc::Status& status) override {
    GrpcCallResult r{static_cast<uint32_t>(status.error_code()), status.error_message(), ""};
    post([events = events_, md = metadataOf(context_.GetServerTrailingMetadata()),
          r = std::move(r)]() mutable {
      if (events.trailing_metadata && !md.empty()) events.trailing_metadata(std::move(md));
      events.close(std::move(r));
    });
    std::shared_ptr<Stream> last;  // may be the last reference: released after the lock
    {
      std::lock_guard lock(mu_);
      last = std::move(self_);
    }
  }

 private:
  template <class F>
  void post(F&& f) {
    boost::asio::post(executor_, std::forward<F>(f));
  }
  // Under mu_: the next write, or the half-close once the queue is empty.
  void pump() {
    if (writing_) return;
    if (!queue_.empty()) {
      writing_ = true;
      StartWrite(&queue_.front());
    } else if (half_close_ && !half_closed_) {
      half_closed_ = true;
      StartWritesDone();
    }
  }

  boost::asio::any_io_executor executor_;
  GrpcStreamEvents events_;
  std::unique_ptr<grpc::GenericStub> stub_;
  grpc::ClientContext context_;
  grpc::ByteBuffer read_;
  std::mutex mu_;
  std::deque<grpc::ByteBuffer> queue_;  // front: being written
  bool writing_ = false, half_close_ = false, half_closed_ = false;
  std::shared_ptr<Stream> self_;
};

}  // namespace

std::shared_ptr<GrpcStreamHandle> startGrpcStream(const std::string& target,
                                                  const std::string& method,
                                                  const GrpcMetadata& metadata,
                                                  boost::asio::any_io_executor executor,
                                                  GrpcStreamEvents events) {
  auto stream = std::make_shared<Stream>(std::move(executor), std::move(events));
  stream->start(stream, target, method, metadata);
  return stream;
}

GrpcServiceRef parseGrpcService(std::string_view bytes) {
  bool ok = true;
  std::string_view in = bytes;
  uint32_t field = 0;
  std::string_view value;
  GrpcServiceRef ref;
  while (nextField(in, &field, &value, &ok)) {
    if (field == 1) ref.cluster = stringField(value, 1, &ok).value_or("");     // envoy_grpc
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
  call->stub->UnaryCall(
      &call->context, method, grpc::StubOptions(), &call->request, &call->response,
      [call, executor, done = std::move(done)](grpc::Status status) {
        GrpcCallResult r;
        r.status = static_cast<uint32_t>(status.error_code());
        r.message = status.error_message();
        if (status.ok()) r.response = bytesOf(call->response);
        boost::asio::post(executor, [done, r = std::move(r)]() mutable { done(std::move(r)); });
      });
  return call;
}

}  // namespace wasm_proxy
