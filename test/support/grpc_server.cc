// grpc-server: a real gRPC server (libgrpc++, HTTP/2) for the tests of gRPC callouts. Any method
// takes bytes and answers bytes:
//   /pkg.Service/Method   "reply:" + the request + ";md=" + the value of metadata "md"
//   /pkg.Service/Fail     status UNAVAILABLE, message "failing on purpose"
//   /pkg.Service/Slow     waits 2 s, then answers as Method (for deadlines and cancellation)
//   /pkg.Service/Chat     a bidi stream: initial metadata server-md=hello, "echo:" + each
//                         message, and when the client half-closes, OK with trailing metadata
//                         server-trailer=bye
//   anything else         status UNIMPLEMENTED
// It prints each call it served ("served /pkg.Service/Method") on stdout.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>

#include <chrono>
#include <iostream>
#include <thread>

#include "grpc_test_server.h"

namespace {

using pwx_test::bytesOf;

// One unary exchange on the generic bidi reactor: read one message, answer, finish.
class Exchange final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Exchange(grpc::GenericCallbackServerContext* ctx)
      : ctx_(ctx), chat_(ctx->method() == "/pkg.Service/Chat") {
    if (chat_) {
      ctx_->AddInitialMetadata("server-md", "hello");
      StartSendInitialMetadata();
    }
    StartRead(&request_);
  }
  void OnWriteDone(bool ok) override {
    if (chat_ && ok) StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (chat_) {
      if (!ok) {  // the client half-closed
        std::cout << "served /pkg.Service/Chat" << std::endl;
        ctx_->AddTrailingMetadata("server-trailer", "bye");
        Finish(grpc::Status::OK);
        return;
      }
      reply_text_ = "echo:" + bytesOf(request_);
      grpc::Slice slice(reply_text_);
      reply_ = grpc::ByteBuffer(&slice, 1);
      StartWrite(&reply_);
      return;
    }
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    const std::string method = ctx_->method();
    std::cout << "served " << method << std::endl;
    if (method == "/pkg.Service/Fail") {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "failing on purpose"));
      return;
    }
    if (method == "/pkg.Service/Slow") std::this_thread::sleep_for(std::chrono::seconds(2));
    if (method != "/pkg.Service/Method" && method != "/pkg.Service/Slow") {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no method " + method));
      return;
    }
    std::string md;
    auto it = ctx_->client_metadata().find("md");
    if (it != ctx_->client_metadata().end()) md.assign(it->second.data(), it->second.size());
    reply_text_ = "reply:" + bytesOf(request_) + ";md=" + md;
    grpc::Slice slice(reply_text_);
    reply_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&reply_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  grpc::GenericCallbackServerContext* ctx_;
  const bool chat_;
  grpc::ByteBuffer request_, reply_;
  std::string reply_text_;
};

class Service final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new Exchange(ctx);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"grpc-server: a gRPC server whose methods answer bytes (see the file header)"};
  uint16_t port = 0;
  app.add_option("--port", port, "TCP port on 127.0.0.1")->required();
  CLI11_PARSE(app, argc, argv);
  Service service;
  return pwx_test::serve(service, port, "grpc-server");
}
