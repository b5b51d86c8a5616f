// grpc_access_logging in the harness, on every engine, with a fake gRPC peer and a fake clock. What
// the plugin sends is decoded with full protobuf (pwx_log_protos), not with the plugin's nanopb.
#include <gtest/gtest.h>

#include "engine_test.h"
#include "log.pb.h"
#include "otlp_logs.pb.h"
#include "proxy_wasm/abi/property.h"

namespace {

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;
using proxy_wasm::abi::encodeInt64;
using proxy_wasm::abi::encodePropertyPath;
namespace logging = istio_ecosystem::wasm_extensions::grpc_logging;
namespace otlp = opentelemetry::proto::collector::logs::v1;

constexpr uint32_t kOk = 0, kUnavailable = 14, kInvalidArgument = 3;

class GrpcAccessLogging : public EngineTest {
 protected:
  std::unique_ptr<PluginHarness> load(const std::string& config) {
    HarnessOptions o = options("access_log", config);
    o.vm.vm_id = "";
    o.host_properties[encodePropertyPath({"node", "metadata", "WORKLOAD_NAME"})] = "echo-server";
    o.host_properties[encodePropertyPath({"node", "metadata", "NAMESPACE"})] = "test";
    o.host_properties[encodePropertyPath({"node", "id"})] = "sidecar~10.0.0.1~echo-1.test";
    return EngineTest::load("grpc_access_logging", std::move(o));
  }
  // One finished stream: its headers and properties as wasm-proxy gives them, then on_log.
  void request(PluginHarness& h, const std::string& path, int code = 200, Headers extra = {}) {
    auto s = h.newStream();
    auto set = [&](std::initializer_list<std::string_view> p, std::string v) {
      s->properties[encodePropertyPath(p)] = std::move(v);
    };
    set({"source", "address"}, "10.1.2.3:54321");
    set({"destination", "address"}, "127.0.0.1:8080");
    set({"request", "scheme"}, "http");
    set({"request", "protocol"}, "HTTP/1.1");
    set({"request", "time"}, encodeInt64(1'700'000'000'123'456'789));
    set({"request", "duration"}, encodeInt64(2'500'000'000));
    if (code != 0) set({"response", "code"}, encodeInt64(code));
    Headers headers = {{":authority", "echo.test:8080"},
                       {":path", path},
                       {":method", "GET"},
                       {"x-request-id", "req-" + path.substr(0, path.find('?'))}};
    headers.insert(headers.end(), extra.begin(), extra.end());
    s->sendRequestHeaders(headers);
    s->end();
  }
  static int64_t counter(const std::string& name) {
    return PluginHarness::metric("grpc_access_logging." + name).value_or(0);
  }
};

const char* kWriteLog = R"({"logging_service": "collector:9000"})";

logging::WriteLogRequest writeLog(const PluginHarness::GrpcCall& call) {
  logging::WriteLogRequest r;
  EXPECT_TRUE(r.ParseFromString(call.request.message));
  return r;
}

// The configuration's fields are tested natively (config_test.cc); here, that a refused one
// fails the load with its path.
TEST_P(GrpcAccessLogging, ARefusedConfigurationFailsTheLoadNamingTheField) {
  EXPECT_FALSE(load("{}"));
  EXPECT_NE(error_.find("logging_service or otlp_service: at least one is required"),
            std::string::npos)
      << error_;
}

TEST_P(GrpcAccessLogging, EntriesGoOutAsUpstreamsWriteLogAtTheFlushInterval) {
  auto h = load(kWriteLog);
  ASSERT_TRUE(h) << error_;
  EXPECT_EQ(h->tickPeriodMs(), 1000u);
  request(*h, "/a", 200, {{"referer", "https://r.test/"}});
  request(*h, "/b", 503);
  EXPECT_TRUE(h->grpcCalls().empty()) << "nothing before the flush interval";
  h->advance(std::chrono::milliseconds(1000));
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  const auto& call = h->grpcCalls()[0];
  EXPECT_EQ(call.request.service_name,
            "istio_ecosystem.wasm_extensions.grpc_logging.LoggingService");
  EXPECT_EQ(call.request.method, "WriteLog");
  EXPECT_EQ(call.request.timeout_ms, 5000u);
  // A serialized GrpcService {google_grpc {target_uri, stat_prefix}}.
  EXPECT_EQ(call.request.service.substr(0, 1), "\x12");
  EXPECT_NE(call.request.service.find("collector:9000"), std::string::npos);
  auto r = writeLog(call);
  ASSERT_EQ(r.log_entries_size(), 2);
  const auto& a = r.log_entries(0);
  EXPECT_EQ(a.source_address(), "10.1.2.3:54321");
  EXPECT_EQ(a.destination_address(), "127.0.0.1:8080");
  EXPECT_EQ(a.destination_workload(), "echo-server");
  EXPECT_EQ(a.destination_namespace(), "test");
  EXPECT_EQ(a.host(), "echo.test:8080");
  EXPECT_EQ(a.path(), "/a");
  EXPECT_EQ(a.referer(), "https://r.test/");
  EXPECT_EQ(a.request_id(), "req-/a");
  EXPECT_EQ(a.response_code(), 200u);
  EXPECT_EQ(a.timestamp().seconds(), 1'700'000'000);
  EXPECT_EQ(a.timestamp().nanos(), 123'456'789);
  EXPECT_EQ(a.latency().seconds(), 2);
  EXPECT_EQ(a.latency().nanos(), 500'000'000);
  EXPECT_EQ(r.log_entries(1).response_code(), 503u);
  EXPECT_EQ(r.log_entries(1).referer(), "") << "absent, not garbage";
  const int64_t written = counter("write_log.logs_written");
  h->respondGrpcCall(call.token, kOk, "");
  EXPECT_EQ(counter("write_log.logs_written"), written + 2);
}

TEST_P(GrpcAccessLogging, AMissingPropertyIsLeftOutOfTheEntry) {
  auto h = load(kWriteLog);
  ASSERT_TRUE(h) << error_;
  auto s = h->newStream();  // no properties at all: a stream reset before anything was known
  s->end();
  h->advance(std::chrono::milliseconds(1000));
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  auto r = writeLog(h->grpcCalls()[0]);
  ASSERT_EQ(r.log_entries_size(), 1);
  const auto& e = r.log_entries(0);
  EXPECT_FALSE(e.has_timestamp());
  EXPECT_FALSE(e.has_latency());
  EXPECT_EQ(e.response_code(), 0u);
  EXPECT_EQ(e.path(), "");
  EXPECT_EQ(e.destination_workload(), "echo-server");
}

TEST_P(GrpcAccessLogging, AFullBatchGoesAtOnceAndOnlyOneExportIsInFlight) {
  auto h = load(R"({"logging_service": "c:1", "max_batch_entries": 2})");
  ASSERT_TRUE(h) << error_;
  for (int i = 0; i < 5; ++i) request(*h, "/" + std::to_string(i));
  ASSERT_EQ(h->grpcCalls().size(), 1u) << "the second full batch waits for the first";
  EXPECT_EQ(writeLog(h->grpcCalls()[0]).log_entries_size(), 2);
  h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  EXPECT_EQ(writeLog(h->grpcCalls()[0]).log_entries(0).path(), "/2");
  h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  EXPECT_TRUE(h->grpcCalls().empty()) << "the fifth waits for the flush interval";
  h->advance(std::chrono::milliseconds(1000));
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  EXPECT_EQ(writeLog(h->grpcCalls()[0]).log_entries(0).path(), "/4");
}

TEST_P(GrpcAccessLogging, ABatchGoesAtMaxBatchBytesAndABacklogInLargerExports) {
  auto h = load(R"({"logging_service": "c:1", "max_batch_bytes": 300})");
  ASSERT_TRUE(h) << error_;
  for (int i = 0; i < 8; ++i) request(*h, "/" + std::string(80, 'a' + i));
  ASSERT_EQ(h->grpcCalls().size(), 1u) << "the first full batch went at once";
  EXPECT_LE(h->grpcCalls()[0].request.message.size(), 300u);
  const int first = writeLog(h->grpcCalls()[0]).log_entries_size();
  EXPECT_GE(first, 1);
  h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  ASSERT_EQ(h->grpcCalls().size(), 1u) << "the batches sealed meanwhile, together";
  const int second = writeLog(h->grpcCalls()[0]).log_entries_size();
  EXPECT_GT(h->grpcCalls()[0].request.message.size(), 300u);
  h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  h->advance(std::chrono::milliseconds(1000));
  int rest = 0;
  while (!h->grpcCalls().empty()) {
    rest += writeLog(h->grpcCalls()[0]).log_entries_size();
    h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  }
  EXPECT_EQ(first + second + rest, 8);
}

TEST_P(GrpcAccessLogging, UnavailableIsRetriedWithBackoffAndNothingIsLost) {
  auto h = load(kWriteLog);
  ASSERT_TRUE(h) << error_;
  const int64_t written = counter("write_log.logs_written"),
                failures = counter("write_log.export_failures");
  request(*h, "/a");
  h->advance(std::chrono::milliseconds(1000));
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  const std::string first = h->grpcCalls()[0].request.message;
  h->respondGrpcCall(h->grpcCalls()[0].token, kUnavailable, "connection refused");
  EXPECT_TRUE(h->logged("export to collector:9000 failed (status 14 connection refused)"));
  request(*h, "/b");
  for (int attempt = 0; attempt < 3; ++attempt) {
    h->advance(std::chrono::milliseconds(1000));
    ASSERT_EQ(h->grpcCalls().size(), 1u);
    EXPECT_EQ(h->grpcCalls()[0].request.message.substr(0, first.size()), first)
        << "the failed batch first; what came since joins it";
    h->respondGrpcCall(h->grpcCalls()[0].token, kUnavailable, "connection refused");
  }
  // Backoff doubles: after 4 failures the next try waits 2 s.
  h->advance(std::chrono::milliseconds(1000));
  EXPECT_TRUE(h->grpcCalls().empty());
  h->advance(std::chrono::milliseconds(1000));
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  EXPECT_EQ(writeLog(h->grpcCalls()[0]).log_entries_size(), 2);
  h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  EXPECT_TRUE(h->grpcCalls().empty());
  EXPECT_EQ(counter("write_log.logs_written"), written + 2);
  EXPECT_EQ(counter("write_log.export_failures"), failures + 4);
}

TEST_P(GrpcAccessLogging, ARejectedBatchIsDroppedAndCounted) {
  auto h = load(kWriteLog);
  ASSERT_TRUE(h) << error_;
  const int64_t dropped = counter("write_log.logs_dropped");
  request(*h, "/a");
  request(*h, "/b");
  h->advance(std::chrono::milliseconds(1000));
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  h->respondGrpcCall(h->grpcCalls()[0].token, kInvalidArgument, "bad request");
  EXPECT_EQ(counter("write_log.logs_dropped"), dropped + 2);
  h->advance(std::chrono::milliseconds(1000));
  EXPECT_TRUE(h->grpcCalls().empty()) << "not retried";
}

TEST_P(GrpcAccessLogging, BeyondMaxBufferedEntriesNewEntriesAreDroppedAndCounted) {
  auto h = load(R"({"logging_service": "c:1", "max_batch_entries": 2, "max_buffered_entries": 4})");
  ASSERT_TRUE(h) << error_;
  const int64_t written = counter("write_log.logs_written"),
                dropped = counter("write_log.logs_dropped");
  for (int i = 0; i < 10; ++i) request(*h, "/" + std::to_string(i));  // the collector is silent
  EXPECT_EQ(counter("write_log.logs_dropped"), dropped + 6);
  while (!h->grpcCalls().empty()) h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  EXPECT_EQ(counter("write_log.logs_written"), written + 4);
}

TEST_P(GrpcAccessLogging, ShutdownFlushesTheCurrentBatchBeforeSayingDone) {
  auto h = load(R"({"logging_service": "c:1", "otlp_service": "otel", "max_batch_entries": 3})");
  ASSERT_TRUE(h) << error_;
  const int64_t written = counter("write_log.logs_written");
  for (int i = 0; i < 5; ++i) request(*h, "/" + std::to_string(i));
  ASSERT_EQ(h->grpcCalls().size(), 2u) << "a full batch per service";
  EXPECT_FALSE(h->stopPlugin()) << "on_done: not done while entries are held";
  EXPECT_EQ(h->finishingPlugins(), 1u);
  for (int answered = 0; answered < 2; ++answered) {
    ASSERT_EQ(h->grpcCalls().size(), 2u);
    h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
    h->respondGrpcCall(h->grpcCalls()[0].token, kOk, "");
  }
  EXPECT_TRUE(h->grpcCalls().empty());
  EXPECT_EQ(h->finishingPlugins(), 0u) << "proxy_done once everything was exported";
  EXPECT_EQ(counter("write_log.logs_written"), written + 5);
}

TEST_P(GrpcAccessLogging, ShutdownWithNothingHeldIsImmediateAndAFailureEndsIt) {
  auto idle = load(kWriteLog);
  ASSERT_TRUE(idle) << error_;
  EXPECT_TRUE(idle->stopPlugin());
  auto h = load(kWriteLog);
  ASSERT_TRUE(h) << error_;
  const int64_t dropped = counter("write_log.logs_dropped");
  request(*h, "/a");
  EXPECT_FALSE(h->stopPlugin());
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  EXPECT_LE(h->grpcCalls()[0].request.timeout_ms, 5000u);
  h->respondGrpcCall(h->grpcCalls()[0].token, kUnavailable, "gone");
  EXPECT_EQ(h->finishingPlugins(), 0u) << "no retry at shutdown: counted and done";
  EXPECT_EQ(counter("write_log.logs_dropped"), dropped + 1);
}

TEST_P(GrpcAccessLogging, OtlpRecordsCarrySemanticConventionAttributesAndTheResource) {
  auto h = load(R"({"otlp_service": "otel_collector"})");
  ASSERT_TRUE(h) << error_;
  request(*h, "/items?a=1", 201,
          {{"user-agent", "curl/8"},
           {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}});
  h->advance(std::chrono::milliseconds(1000));
  ASSERT_EQ(h->grpcCalls().size(), 1u);
  const auto& call = h->grpcCalls()[0];
  EXPECT_EQ(call.request.service_name, "opentelemetry.proto.collector.logs.v1.LogsService");
  EXPECT_EQ(call.request.method, "Export");
  EXPECT_EQ(call.request.service.substr(0, 1), "\x0a") << "GrpcService {envoy_grpc {cluster}}";
  otlp::ExportLogsServiceRequest r;
  ASSERT_TRUE(r.ParseFromString(call.request.message));
  ASSERT_EQ(r.resource_logs_size(), 1);
  std::map<std::string, std::string> resource;
  for (const auto& kv : r.resource_logs(0).resource().attributes()) {
    resource[kv.key()] = kv.value().string_value();
  }
  EXPECT_EQ(resource["service.name"], "echo-server");
  EXPECT_EQ(resource["k8s.namespace.name"], "test");
  EXPECT_EQ(resource["service.instance.id"], "sidecar~10.0.0.1~echo-1.test");
  ASSERT_EQ(r.resource_logs(0).scope_logs_size(), 1);
  const auto& scope = r.resource_logs(0).scope_logs(0);
  EXPECT_EQ(scope.scope().name(), "grpc_access_logging");
  ASSERT_EQ(scope.log_records_size(), 1);
  const auto& rec = scope.log_records(0);
  EXPECT_EQ(rec.time_unix_nano(), 1'700'000'000'123'456'789u);
  EXPECT_GT(rec.observed_time_unix_nano(), 0u);
  EXPECT_EQ(rec.severity_number(), 9);
  EXPECT_EQ(rec.body().string_value(), "GET /items?a=1 HTTP/1.1 201");
  EXPECT_EQ(rec.trace_id(),
            std::string("\x0a\xf7\x65\x19\x16\xcd\x43\xdd\x84\x48\xeb\x21\x1c\x80\x31\x9c", 16));
  EXPECT_EQ(rec.span_id(), std::string("\xb7\xad\x6b\x71\x69\x20\x33\x31", 8));
  std::map<std::string, otlp::AnyValue> attrs;
  for (const auto& kv : rec.attributes()) attrs[kv.key()] = kv.value();
  EXPECT_EQ(attrs["http.request.method"].string_value(), "GET");
  EXPECT_EQ(attrs["url.path"].string_value(), "/items");
  EXPECT_EQ(attrs["url.query"].string_value(), "a=1");
  EXPECT_EQ(attrs["url.scheme"].string_value(), "http");
  EXPECT_EQ(attrs["server.address"].string_value(), "echo.test");
  EXPECT_EQ(attrs["server.port"].int_value(), 8080);
  EXPECT_EQ(attrs["http.response.status_code"].int_value(), 201);
  EXPECT_EQ(attrs["user_agent.original"].string_value(), "curl/8");
  EXPECT_EQ(attrs["client.address"].string_value(), "10.1.2.3");
  EXPECT_EQ(attrs["client.port"].int_value(), 54321);
  EXPECT_EQ(attrs["network.protocol.version"].string_value(), "1.1");
  EXPECT_EQ(attrs["http.request.header.x-request-id"].array_value().values(0).string_value(),
            "req-/items");
  EXPECT_DOUBLE_EQ(attrs["http.server.request.duration"].double_value(), 2.5);
  EXPECT_EQ(attrs.count("http.request.header.referer"), 0u) << "absent header, absent attribute";
}

PWX_INSTANTIATE_ON_ALL_ENGINES(GrpcAccessLogging);

}  // namespace
