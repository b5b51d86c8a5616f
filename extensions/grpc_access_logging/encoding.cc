// The two wire formats, encoded with nanopb. Every generated field is a pointer (proto/*.options):
// NULL leaves the field out, which is how an absent property stays absent. nanopb only reads
// through the pointers while encoding, so pointing at const strings is safe.
#include <pb_encode.h>

#include "access_log.h"
#include "log.pb.h"
#include "otlp_logs.pb.h"

namespace grpc_access_logging {

namespace {

using LogEntry = istio_ecosystem_wasm_extensions_grpc_logging_LogEntry;
using LogRecord = opentelemetry_proto_collector_logs_v1_LogRecord;
using AnyValue = opentelemetry_proto_collector_logs_v1_AnyValue;

bool appendBytes(pb_ostream_t* stream, const pb_byte_t* bytes, size_t size) {
  static_cast<std::string*>(stream->state)->append(reinterpret_cast<const char*>(bytes), size);
  return true;
}

pb_ostream_t appender(std::string* out) {
  pb_ostream_t s = PB_OSTREAM_SIZING;
  s.callback = &appendBytes;
  s.state = out;
  s.max_size = SIZE_MAX;
  return s;
}

template <class Message>
std::string encode(const pb_msgdesc_t* fields, const Message& message) {
  std::string out;
  pb_ostream_t s = appender(&out);
  // Only a callback failure stops an encoder, and ours never fails.
  pb_encode(&s, fields, &message);
  return out;
}

char* text(const std::optional<std::string>& s) {
  return s ? const_cast<char*>(s->c_str()) : nullptr;
}

// "ip:port" / "[v6]:port" -> {ip, port}; a value without a numeric port gives {value, nullopt}.
std::pair<std::string, std::optional<int64_t>> splitHostPort(std::string_view s) {
  const size_t colon = s.rfind(':');
  const bool v6_without_port = s.find(':') != colon && s.find(']') == std::string_view::npos;
  if (colon == std::string_view::npos || colon + 1 == s.size() || v6_without_port) {
    return {std::string(s), std::nullopt};
  }
  int64_t port = 0;
  for (char c : s.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) return {std::string(s), std::nullopt};
    port = port * 10 + (c - '0');
  }
  std::string_view host = s.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {std::string(host), port};
}

std::optional<std::string> hexBytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  if (out.find_first_not_of('\0') == std::string::npos) return std::nullopt;  // all-zero: invalid
  return out;
}

// A length-delimited field's tag and length (its bytes follow).
void putHeader(pb_ostream_t* s, uint32_t field, size_t length) {
  pb_encode_tag(s, PB_WT_STRING, field);
  pb_encode_varint(s, length);
}

// OTLP attributes (KeyValue messages), encoded straight into one run of `field`-tagged records
// that the message's callback writes as is: no message is encoded twice, nothing is copied.
class Attributes {
 public:
  explicit Attributes(uint32_t field) : field_(field), out_(appender(&bytes_)) {}
  Attributes(const Attributes&) = delete;  // out_ points at bytes_
  Attributes& operator=(const Attributes&) = delete;
  void add(std::string_view key, const std::optional<std::string>& v) {
    if (!v) return;
    begin(key, stringSize(*v));
    putString(*v);
  }
  void addInt(std::string_view key, std::optional<int64_t> v) {
    if (!v) return;
    const auto u = static_cast<uint64_t>(*v);  // int64: two's complement as a varint
    begin(key, 1 + varintSize(u));
    pb_encode_tag(&out_, PB_WT_VARINT,
                  opentelemetry_proto_collector_logs_v1_AnyValue_int_value_tag);
    pb_encode_varint(&out_, u);
  }
  void addDouble(std::string_view key, double v) {
    begin(key, 1 + 8);
    pb_encode_tag(&out_, PB_WT_64BIT,
                  opentelemetry_proto_collector_logs_v1_AnyValue_double_value_tag);
    pb_encode_fixed64(&out_, &v);
  }
  // A request header as semantic conventions give it: an array of its values.
  void addHeader(std::string_view key, const std::optional<std::string>& v) {
    if (!v) return;
    const size_t element = stringSize(*v);                   // AnyValue{string_value}
    const size_t array = 1 + varintSize(element) + element;  // ArrayValue{values: [element]}
    begin(key, 1 + varintSize(array) + array);               // AnyValue{array_value}
    putHeader(&out_, opentelemetry_proto_collector_logs_v1_AnyValue_array_value_tag, array);
    putHeader(&out_, opentelemetry_proto_collector_logs_v1_ArrayValue_values_tag, element);
    putString(*v);
  }
  pb_callback_t callback() const {
    pb_callback_t c{};
    c.funcs.encode = &Attributes::write;
    c.arg = const_cast<Attributes*>(this);
    return c;
  }

 private:
  // For a FT_CALLBACK attribute field: writes the records as they are.
  static bool write(pb_ostream_t* stream, const pb_field_t*, void* const* arg) {
    const auto* self = static_cast<const Attributes*>(*arg);
    return pb_write(stream, reinterpret_cast<const pb_byte_t*>(self->bytes_.data()),
                    self->bytes_.size());
  }
  static size_t stringSize(std::string_view v) { return 1 + varintSize(v.size()) + v.size(); }
  // The record's header, its key and its value's header: the AnyValue of `value_size` follows.
  void begin(std::string_view key, size_t value_size) {
    const size_t kv =
        1 + varintSize(key.size()) + key.size() + 1 + varintSize(value_size) + value_size;
    putHeader(&out_, field_, kv);
    putHeader(&out_, opentelemetry_proto_collector_logs_v1_KeyValue_key_tag, key.size());
    pb_write(&out_, reinterpret_cast<const pb_byte_t*>(key.data()), key.size());
    putHeader(&out_, opentelemetry_proto_collector_logs_v1_KeyValue_value_tag, value_size);
  }
  void putString(std::string_view v) {  // AnyValue{string_value}
    putHeader(&out_, opentelemetry_proto_collector_logs_v1_AnyValue_string_value_tag, v.size());
    pb_write(&out_, reinterpret_cast<const pb_byte_t*>(v.data()), v.size());
  }
  uint32_t field_;
  std::string bytes_;
  pb_ostream_t out_;
};

}  // namespace

std::string encodeLogEntry(const AccessEntry& e, const NodeInfo& node) {
  LogEntry m{};
  m.source_address = text(e.source_address);
  m.destination_address = text(e.destination_address);
  m.destination_workload = text(node.workload);
  m.destination_namespace = text(node.namespace_name);
  m.host = text(e.host);
  m.path = text(e.path);
  m.user_agent = text(e.user_agent);
  m.referer = text(e.referer);
  m.request_id = text(e.request_id);
  google_protobuf_Timestamp timestamp{};
  if (e.start_unix_ns) {
    timestamp.seconds = static_cast<int64_t>(*e.start_unix_ns / 1'000'000'000);
    timestamp.nanos = static_cast<int32_t>(*e.start_unix_ns % 1'000'000'000);
    m.timestamp = &timestamp;
  }
  google_protobuf_Duration latency{};
  if (e.duration_ns) {
    latency.seconds = static_cast<int64_t>(*e.duration_ns / 1'000'000'000);
    latency.nanos = static_cast<int32_t>(*e.duration_ns % 1'000'000'000);
    m.latency = &latency;
  }
  uint32_t code = e.response_code.value_or(0);
  if (e.response_code) m.response_code = &code;
  return encode(istio_ecosystem_wasm_extensions_grpc_logging_LogEntry_fields, m);
}

std::string encodeLogRecord(const AccessEntry& e) {
  Attributes attrs(opentelemetry_proto_collector_logs_v1_LogRecord_attributes_tag);
  attrs.add("http.request.method", e.method);
  attrs.add("url.path", e.path);
  attrs.add("url.query", e.query);
  attrs.add("url.scheme", e.scheme);
  if (e.host) {
    auto [address, port] = splitHostPort(*e.host);
    attrs.add("server.address", address);
    attrs.addInt("server.port", port);
  }
  if (e.response_code) attrs.addInt("http.response.status_code", *e.response_code);
  attrs.add("user_agent.original", e.user_agent);
  if (e.source_address) {
    auto [address, port] = splitHostPort(*e.source_address);
    attrs.add("client.address", address);
    attrs.addInt("client.port", port);
  }
  if (e.destination_address) {
    auto [address, port] = splitHostPort(*e.destination_address);
    attrs.add("network.local.address", address);
    attrs.addInt("network.local.port", port);
  }
  if (e.protocol && e.protocol->rfind("HTTP/", 0) == 0) {
    attrs.add("network.protocol.version", e.protocol->substr(5));
  }
  attrs.addHeader("http.request.header.referer", e.referer);
  attrs.addHeader("http.request.header.x-request-id", e.request_id);
  if (e.duration_ns) attrs.addDouble("http.server.request.duration", *e.duration_ns / 1e9);

  LogRecord r{};
  uint64_t time = e.start_unix_ns.value_or(0), observed = e.observed_unix_ns;
  int32_t severity = 9;  // INFO
  if (e.start_unix_ns) r.time_unix_nano = &time;
  r.observed_time_unix_nano = &observed;
  r.severity_number = &severity;
  r.severity_text = const_cast<char*>("INFO");
  // The body reads like an access-log line: "GET /path?query HTTP/1.1 200".
  std::string line = e.method.value_or("-") + " " + e.path.value_or("-") +
                     (e.query ? "?" + *e.query : "") + " " + e.protocol.value_or("-") + " " +
                     (e.response_code ? std::to_string(*e.response_code) : "-");
  AnyValue body{};
  body.which_value = opentelemetry_proto_collector_logs_v1_AnyValue_string_value_tag;
  body.value.string_value = line.data();
  r.body = &body;
  r.attributes = attrs.callback();
  // W3C traceparent "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>" links the entry to its
  // trace.
  PB_BYTES_ARRAY_T(16) trace{};
  PB_BYTES_ARRAY_T(8) span{};
  if (e.traceparent && e.traceparent->size() >= 55 && (*e.traceparent)[2] == '-') {
    auto t = hexBytes(std::string_view(*e.traceparent).substr(3, 32));
    auto s = hexBytes(std::string_view(*e.traceparent).substr(36, 16));
    if (t && s && t->size() == 16 && s->size() == 8) {
      trace.size = 16;
      span.size = 8;
      std::copy(t->begin(), t->end(), trace.bytes);
      std::copy(s->begin(), s->end(), span.bytes);
      r.trace_id = reinterpret_cast<pb_bytes_array_t*>(&trace);
      r.span_id = reinterpret_cast<pb_bytes_array_t*>(&span);
    }
  }
  return encode(opentelemetry_proto_collector_logs_v1_LogRecord_fields, r);
}

std::string encodeOtlpResource(const NodeInfo& node) {
  Attributes attrs(opentelemetry_proto_collector_logs_v1_Resource_attributes_tag);
  attrs.add("service.name", node.workload ? node.workload : node.cluster);
  attrs.add("k8s.namespace.name", node.namespace_name);
  attrs.add("service.instance.id", node.node_id);
  opentelemetry_proto_collector_logs_v1_Resource r{};
  r.attributes = attrs.callback();
  return encode(opentelemetry_proto_collector_logs_v1_Resource_fields, r);
}

std::string wrapOtlpBatch(std::string_view resource, std::string_view records) {
  opentelemetry_proto_collector_logs_v1_InstrumentationScope scope{};
  scope.name = const_cast<char*>("grpc_access_logging");
  std::string scope_logs;
  appendField(scope_logs, opentelemetry_proto_collector_logs_v1_ScopeLogs_scope_tag,
              encode(opentelemetry_proto_collector_logs_v1_InstrumentationScope_fields, scope));
  scope_logs.append(records);
  std::string resource_logs;
  appendField(resource_logs, opentelemetry_proto_collector_logs_v1_ResourceLogs_resource_tag,
              resource);
  appendField(resource_logs, opentelemetry_proto_collector_logs_v1_ResourceLogs_scope_logs_tag,
              scope_logs);
  std::string request;
  appendField(request,
              opentelemetry_proto_collector_logs_v1_ExportLogsServiceRequest_resource_logs_tag,
              resource_logs);
  return request;
}

}  // namespace grpc_access_logging
