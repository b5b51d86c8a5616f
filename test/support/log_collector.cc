// log-collector: a real gRPC server (libgrpc++, HTTP/2) implementing both services the
// grpc_access_logging extension exports to, decoding with full protobuf (not nanopb, so it checks
// the plugin's encoding independently):
//   /istio_ecosystem.wasm_extensions.grpc_logging.LoggingService/WriteLog
//   /opentelemetry.proto.collector.logs.v1.LogsService/Export
// Every entry received is printed on stdout as one JSON line (protobuf's JSON mapping):
//   {"service":"write_log","entry":{...LogEntry...}}
//   {"service":"otlp","resource":{...},"scope":{...},"entry":{...LogRecord...}}
// and every request as {"service":"...","request_entries":N}. Stop it and start it again on the
// same port to play a collector that goes away. --unavailable N answers the first N requests with
// UNAVAILABLE (a collector that is overloaded), --delay-ms D answers each request after D ms,
// --summary prints only the per-request lines (for load runs: the JSON of every entry costs more
// than the proxy's export).
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include "grpc_test_server.h"
#include "log.pb.h"
#include "otlp_logs.pb.h"

namespace {

namespace logging = istio_ecosystem::wasm_extensions::grpc_logging;
namespace otlp = opentelemetry::proto::collector::logs::v1;

constexpr char kWriteLog[] =
    "/istio_ecosystem.wasm_extensions.grpc_logging.LoggingService/WriteLog";
constexpr char kExport[] = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

std::mutex out_mutex;
std::atomic<int> unavailable_left{0};
int delay_ms = 0;
bool summary = false;

std::string json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, options);
  return out;
}

using pwx_test::bytesOf;

// Decodes and prints one request; the status to answer with.
grpc::Status record(const std::string& method, const std::string& bytes) {
  std::lock_guard<std::mutex> lock(out_mutex);
  if (method == kWriteLog) {
    logging::WriteLogRequest request;
    if (!request.ParseFromString(bytes)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a WriteLogRequest");
    }
    for (const auto& e : request.log_entries()) {
      if (summary) break;
      std::cout << R"({"service":"write_log","entry":)" << json(e) << "}\n";
    }
    std::cout << R"({"service":"write_log","request_entries":)" << request.log_entries_size() << "}"
              << std::endl;
    return grpc::Status::OK;
  }
  otlp::ExportLogsServiceRequest request;
  if (!request.ParseFromString(bytes)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not an ExportLogsServiceRequest");
  }
  int n = 0;
  for (const auto& rl : request.resource_logs()) {
    for (const auto& sl : rl.scope_logs()) {
      for (const auto& r : sl.log_records()) {
        ++n;
        if (summary) continue;
        std::cout << R"({"service":"otlp","resource":)" << json(rl.resource()) << R"(,"scope":)"
                  << json(sl.scope()) << R"(,"entry":)" << json(r) << "}\n";
      }
    }
  }
  std::cout << R"({"service":"otlp","request_entries":)" << n << "}" << std::endl;
  return grpc::Status::OK;
}

// One unary exchange on the generic bidi reactor: read the request, answer, finish.
class Exchange final : public grpc::ServerGenericBidiReactor {
 public:
  explicit Exchange(grpc::GenericCallbackServerContext* ctx) : ctx_(ctx) { StartRead(&request_); }
  void OnReadDone(bool ok) override {
    const std::string method = ctx_->method();
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    if (method != kWriteLog && method != kExport) {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method " + method));
      return;
    }
    if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    if (unavailable_left.fetch_sub(1) > 0) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "collector overloaded (on purpose)"));
      return;
    }
    grpc::Status status = record(method, bytesOf(request_));
    if (!status.ok()) {
      Finish(status);
      return;
    }
    grpc::Slice empty("");  // both responses are empty messages
    reply_ = grpc::ByteBuffer(&empty, 1);
    StartWrite(&reply_);
  }
  void OnWriteDone(bool) override { Finish(grpc::Status::OK); }
  void OnDone() override { delete this; }

 private:
  grpc::GenericCallbackServerContext* ctx_;
  grpc::ByteBuffer request_, reply_;
};

class Service final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new Exchange(ctx);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("log-collector: records what gRPC access loggers send");
  uint16_t port = 0;
  int unavailable = 0;
  app.add_option("--port", port, "port on 127.0.0.1")->required();
  app.add_option("--unavailable", unavailable, "answer the first N requests with UNAVAILABLE");
  app.add_option("--delay-ms", delay_ms, "answer each request after this many milliseconds");
  app.add_flag("--summary", summary, "print one line per request, not every entry");
  CLI11_PARSE(app, argc, argv);
  unavailable_left = unavailable;
  Service service;
  return pwx_test::serve(service, port, "log-collector");
}
