// Host micro-benchmarks, per engine, each next to the same logic compiled natively:
//   EmptyExportCall   host -> wasm call of an export that returns x + 1
//   EmptyHostcall     wasm -> host call of proxy_get_current_time_nanoseconds (per call)
//   GetHeader         proxy_get_header_map_value of one small header, incl. malloc/free in wasm
//   RequestCycle      create stream, 10 request headers of which the plugin reads 3, continue,
//                     on_log/on_done/on_delete
//   VmMemory          resident memory of one extra VM of scaffold.wasm (new engine = new worker
//                     thread; same engine = another plugin on the same thread)
// Run through bench/run_host_bench.sh, which reports medians and ratios.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include "jwt_fixtures.h"
#include "plugin_harness.h"
#include "proxy_wasm/abi/pairs.h"
#include "proxy_wasm/abi/property.h"

using namespace proxy_wasm::host;
using namespace proxy_wasm::host::testing;

namespace {

const Headers kRequestHeaders = {
    {":method", "GET"},          {":path", "/index.html"},    {":authority", "example.com"},
    {":scheme", "http"},         {"user-agent", "bench/1.0"}, {"accept", "*/*"},
    {"x-request-id", "abc-123"}, {"accept-encoding", "gzip"}, {"x-forwarded-for", "10.0.0.1"},
    {"content-length", "0"}};

std::unique_ptr<PluginHarness> harness(const std::string& runtime, std::string_view plugin) {
  HarnessOptions o;
  o.runtime = runtime;
  o.plugin.name = "bench";
  o.vm.vm_id = "bench";
  o.vm.callback_deadline = std::chrono::milliseconds(10000);
  std::string error;
  auto h = PluginHarness::create(pluginPath(plugin), o, &error);
  if (!h) {
    std::fprintf(stderr, "cannot load %s: %s\n", std::string(plugin).c_str(), error.c_str());
    std::abort();
  }
  return h;
}

void EmptyExportCall(benchmark::State& state, std::string runtime) {
  auto h = harness(runtime, "bench_raw");
  Vm& vm = h->vm();  // h->vm() copies a shared_ptr: an atomic increment the call would pay
  int32_t fn = vm.exportHandle("bench_noop");
  std::vector<uint64_t> args{1};
  for (auto _ : state) benchmark::DoNotOptimize(vm.callExportForTest(fn, args));
}

void EmptyHostcall(benchmark::State& state, std::string runtime) {
  auto h = harness(runtime, "bench_raw");
  int32_t fn = h->vm().exportHandle("bench_time");
  constexpr int kCalls = 1000;
  std::vector<uint64_t> args{kCalls};
  for (auto _ : state) benchmark::DoNotOptimize(h->vm().callExportForTest(fn, args));
  state.counters["ns_per_call"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kCalls,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void GetHeader(benchmark::State& state, std::string runtime) {
  auto h = harness(runtime, "bench_raw");
  auto s = h->newStream();
  for (auto& [k, v] : kRequestHeaders) s->request_headers.add(k, v);
  int32_t fn = h->vm().exportHandle("bench_get_header");
  constexpr int kCalls = 1000;
  std::vector<uint64_t> args{kCalls};
  for (auto _ : state) benchmark::DoNotOptimize(h->vm().callExportForTest(fn, args, s->id()));
  state.counters["ns_per_call"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kCalls,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void RequestCycle(benchmark::State& state, std::string runtime) {
  auto h = harness(runtime, "bench_cycle");
  for (auto _ : state) {
    auto s = h->newStream();
    benchmark::DoNotOptimize(s->sendRequestHeaders(kRequestHeaders, true));
    s->end();
  }
}

// A full request cycle through an extension (the harness cost per request of each extension).
// `denied`: the request is expected to get a local reply (a failing check is the measured path).
void ExtensionCycle(benchmark::State& state, std::string runtime, std::string plugin,
                    std::string config, Headers headers, bool denied = false) {
  HarnessOptions o;
  o.runtime = runtime;
  o.plugin.name = plugin + "_bench";
  o.plugin.configuration = config;
  o.vm.vm_id = plugin + "_bench";
  o.vm.callback_deadline = std::chrono::milliseconds(10000);
  std::string error;
  auto h = PluginHarness::create(pluginPath(plugin), o, &error);
  if (!h) {
    state.SkipWithError(error.c_str());
    return;
  }
  {  // OPA: the first request misses and is answered; the rest are cache hits.
    auto s = h->newStream();
    s->sendRequestHeaders(headers);
    if (!h->httpCalls().empty()) {
      h->respondHttpCall(h->httpCalls().back().token, {{":status", "200"}}, R"({"result": true})");
    }
  }
  for (auto _ : state) {
    auto s = h->newStream();
    benchmark::DoNotOptimize(s->sendRequestHeaders(headers, true));
    if (!s->local_reply != !denied) state.SkipWithError("unexpected decision of the extension");
    s->end();
  }
}

Headers withAuthorization(std::string value) {
  Headers h = kRequestHeaders;
  h.emplace_back("authorization", std::move(value));
  return h;
}
const Headers kAuthorized =
    withAuthorization("Basic YWxpY2U6d29uZGVybGFuZA==");  // alice:wonderland
const char* kBasicAuthConfig =
    R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["alice:wonderland","bob:builder"]}]})";
// bcrypt (htpasswd -B -C 10) of "pw": a cached success and a wrong password (never cached, so
// always a full bcrypt).
const char* kBcrypt10Config =
    R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["dave:$2y$10$G3iT6nruAfnrj7z4LbR3ze34TBbdnGLZo2oCBbQpXkcqHRepbOHCa"]}]})";
// A wrong password ("pX") against a {SHA} hash (htpasswd -s, of "pw") and an $apr1$ one (htpasswd
// -m).
const char* kShaConfig =
    R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["dave:{SHA}GpHWL3ymc5liWkNopqtdSjuqYHM="]}]})";
const char* kApr1Config =
    R"({"basic_auth_rules":[{"prefix":"/","request_methods":["GET"],"credentials":["dave:$apr1$rxRAwFjr$t./MWUfOAQqMm4LiS/RGu1"]}]})";
const Headers kDavePw = withAuthorization("Basic ZGF2ZTpwdw==");     // dave:pw
const Headers kDaveWrong = withAuthorization("Basic ZGF2ZTpwWA==");  // dave:pX
const char* kRateLimitConfig =
    R"({"max_tokens": 1000000000, "tokens_per_refill": 1, "refill_interval_sec": 3600})";
const char* kOpaConfig =
    R"({"opa_cluster_name": "opa", "opa_service_host": "opa", "check_result_cache_valid_sec": 3600})";

// jwt_routing: claims from jwt_authn's metadata (`alg` empty), or a token of `alg` verified in the
// plugin, with the verification cache (`cached`) or without (every request verifies).
void JwtRoutingCycle(benchmark::State& state, std::string runtime, std::string alg, bool cached) {
  const std::string routing =
      R"("claim_to_headers": [{"claim": "sub", "header": "x-user"}],
         "rules": [{"claim": "tier", "values": ["gold"], "set_authority": "gold.internal"}]})";
  std::optional<pwx_test::JwtKey> key;
  std::string config = "{" + routing;
  if (!alg.empty()) {
    key.emplace(alg, "k1");
    std::string jwks;
    for (char c : key->jwks()) jwks += c == '"' ? std::string("\\\"") : std::string(1, c);
    config = R"({"cache_size": )" + std::string(cached ? "1024" : "0") +
             R"(, "providers": {"p": {"local_jwks": {"inline_string": ")" + jwks + "\"}}}," +
             routing;
  }
  HarnessOptions o;
  o.runtime = runtime;
  o.plugin.name = "jwt_routing_bench";
  o.plugin.configuration = config;
  o.vm.vm_id = "jwt_routing_bench";
  o.vm.callback_deadline = std::chrono::milliseconds(10000);
  std::string error;
  auto h = PluginHarness::create(pluginPath("jwt_routing"), o, &error);
  if (!h) {
    state.SkipWithError(error.c_str());
    return;
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  h->shiftRealtime(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count() -
                   static_cast<int64_t>(h->realtimeNanos()));
  Headers headers = kRequestHeaders;
  if (key) {
    headers.emplace_back("authorization",
                         "Bearer " + key->sign(pwx_test::claims("https://issuer.example", "alice",
                                                                "", 3600, "\"tier\":\"gold\"")));
  }
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  const std::string payload =
      proxy_wasm::abi::encodePairs(Pairs{{"sub", "alice"}, {"tier", "gold"}});
  const std::string path = proxy_wasm::abi::encodePropertyPath(
      {"metadata", "filter_metadata", "envoy.filters.http.jwt_authn", "payload"});
  {  // warm-up: with the cache on, the first request verifies and the rest hit
    auto s = h->newStream();
    s->sendRequestHeaders(headers, true);
  }
  for (auto _ : state) {
    auto s = h->newStream();
    if (!key) s->properties[path] = payload;
    benchmark::DoNotOptimize(s->sendRequestHeaders(headers, true));
    if (s->local_reply || s->request_headers.get(":authority") != "gold.internal") {
      state.SkipWithError("jwt_routing did not route the request");
    }
    s->end();
  }
}

// grpc_access_logging: one stream logged (its properties read, the entry encoded for `config`'s
// services and appended to the batch), the batch exports answered at once by the fake collector.
void AccessLogCycle(benchmark::State& state, std::string runtime, std::string config) {
  HarnessOptions o;
  o.runtime = runtime;
  o.plugin.name = "access_log_bench";
  o.plugin.configuration = config;
  o.vm.vm_id = "access_log_bench";
  o.host_properties[proxy_wasm::abi::encodePropertyPath({"node", "metadata", "WORKLOAD_NAME"})] =
      "echo";
  std::string error;
  auto h = PluginHarness::create(pluginPath("grpc_access_logging"), o, &error);
  if (!h) {
    state.SkipWithError(error.c_str());
    return;
  }
  using proxy_wasm::abi::encodeInt64;
  using proxy_wasm::abi::encodePropertyPath;
  const std::map<std::string, std::string> properties = {
      {encodePropertyPath({"source", "address"}), "10.1.2.3:54321"},
      {encodePropertyPath({"destination", "address"}), "10.4.5.6:8080"},
      {encodePropertyPath({"request", "scheme"}), "http"},
      {encodePropertyPath({"request", "protocol"}), "HTTP/1.1"},
      {encodePropertyPath({"request", "time"}), encodeInt64(1'700'000'000'000'000'000)},
      {encodePropertyPath({"request", "duration"}), encodeInt64(1'234'567)},
      {encodePropertyPath({"response", "code"}), encodeInt64(200)}};
  Headers headers = kRequestHeaders;
  headers.emplace_back("x-request-id", "5f3c1e2a-8f4b-4d6e-9a1b-2c3d4e5f6a7b");
  for (auto _ : state) {
    auto s = h->newStream();
    s->properties = properties;
    benchmark::DoNotOptimize(s->sendRequestHeaders(headers, true));
    s->end();
    while (!h->grpcCalls().empty()) h->respondGrpcCall(h->grpcCalls()[0].token, 0, "");
  }
}

// ---- native baselines: the same logic compiled into the host --------------------------------

__attribute__((noinline)) int32_t nativeNoop(int32_t x) {
  return x + 1;
}

void Native_EmptyExportCall(benchmark::State& state) {
  int32_t (*volatile fn)(int32_t) = nativeNoop;
  for (auto _ : state) benchmark::DoNotOptimize(fn(1));
}

__attribute__((noinline)) uint64_t nativeTime() {
  return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}

void Native_EmptyHostcall(benchmark::State& state) {
  uint64_t (*volatile fn)() = nativeTime;
  for (auto _ : state) benchmark::DoNotOptimize(fn());
}

void Native_GetHeader(benchmark::State& state) {
  VectorHeaderMap map;
  for (auto& [k, v] : kRequestHeaders) map.add(k, v);
  HeaderMap* m = &map;
  for (auto _ : state) {
    auto v = m->get("user-agent");
    char* copy = static_cast<char*>(std::malloc(v->size()));
    std::memcpy(copy, v->data(), v->size());
    benchmark::DoNotOptimize(copy);
    std::free(copy);
  }
}

void Native_RequestCycle(benchmark::State& state) {
  for (auto _ : state) {
    auto map = std::make_unique<VectorHeaderMap>();
    map->reserve(kRequestHeaders.size());  // as the harness's streams do
    for (auto& [k, v] : kRequestHeaders) map->add(k, v);
    size_t n = 0;
    for (const char* key : {":path", "user-agent", "x-request-id"}) {
      auto v = map->get(key);
      if (v) n += v->size();
    }
    benchmark::DoNotOptimize(n);
  }
}

// ---- memory -----------------------------------------------------------------------------------

size_t residentKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

void VmMemory(benchmark::State& state, std::string runtime) {
  constexpr int kVms = 20;
  for (auto _ : state) {
    auto base = harness(runtime, "scaffold");
    // Warm: compile once and let the allocator settle.
    std::vector<std::unique_ptr<PluginHarness>> engines;
    engines.push_back(harness(runtime, "scaffold"));
    size_t before = residentKiB();
    for (int i = 0; i < kVms; ++i) engines.push_back(harness(runtime, "scaffold"));
    size_t after_engines = residentKiB();
    std::vector<std::unique_ptr<Vm>> same;
    std::string error;
    auto code = PluginCode::load(*readFile(pluginPath("scaffold")), 256ull << 20, &error,
                                 pluginPath("scaffold"));
    VmConfig cfg;
    cfg.vm_id = "mem";
    same.push_back(Vm::create(code, cfg, base->engine(), *base, &error));
    size_t before_same = residentKiB();
    for (int i = 0; i < kVms; ++i) {
      same.push_back(Vm::create(code, cfg, base->engine(), *base, &error));
      if (!same.back()) {
        state.SkipWithError(error.c_str());
        return;
      }
    }
    size_t after_same = residentKiB();
    state.counters["KiB_per_VM_new_engine"] = static_cast<double>(after_engines - before) / kVms;
    state.counters["KiB_per_VM_same_engine"] = static_cast<double>(after_same - before_same) / kVms;
  }
}

}  // namespace

BENCHMARK_CAPTURE(EmptyExportCall, v8, std::string("v8"));
BENCHMARK_CAPTURE(EmptyExportCall, wabt, std::string("wabt"));
BENCHMARK_CAPTURE(EmptyExportCall, wasm2c, std::string("wasm2c"));
BENCHMARK(Native_EmptyExportCall);
BENCHMARK_CAPTURE(EmptyHostcall, v8, std::string("v8"));
BENCHMARK_CAPTURE(EmptyHostcall, wabt, std::string("wabt"));
BENCHMARK_CAPTURE(EmptyHostcall, wasm2c, std::string("wasm2c"));
BENCHMARK(Native_EmptyHostcall);
BENCHMARK_CAPTURE(GetHeader, v8, std::string("v8"));
BENCHMARK_CAPTURE(GetHeader, wabt, std::string("wabt"));
BENCHMARK_CAPTURE(GetHeader, wasm2c, std::string("wasm2c"));
BENCHMARK(Native_GetHeader);
BENCHMARK_CAPTURE(RequestCycle, v8, std::string("v8"));
BENCHMARK_CAPTURE(RequestCycle, wabt, std::string("wabt"));
BENCHMARK_CAPTURE(RequestCycle, wasm2c, std::string("wasm2c"));
BENCHMARK(Native_RequestCycle);
// scaffold: a plugin that does nothing, through the C++ SDK (its contexts and dispatch).
BENCHMARK_CAPTURE(ExtensionCycle, scaffold_v8, std::string("v8"), std::string("scaffold"),
                  std::string(""), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, scaffold_wabt, std::string("wabt"), std::string("scaffold"),
                  std::string(""), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, scaffold_wasm2c, std::string("wasm2c"), std::string("scaffold"),
                  std::string(""), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, basic_auth_v8, std::string("v8"), std::string("basic_auth"),
                  std::string(kBasicAuthConfig), kAuthorized);
BENCHMARK_CAPTURE(ExtensionCycle, basic_auth_wabt, std::string("wabt"), std::string("basic_auth"),
                  std::string(kBasicAuthConfig), kAuthorized);
BENCHMARK_CAPTURE(ExtensionCycle, basic_auth_wasm2c, std::string("wasm2c"),
                  std::string("basic_auth"), std::string(kBasicAuthConfig), kAuthorized);
BENCHMARK_CAPTURE(ExtensionCycle, basic_auth_bcrypt10_cached_v8, std::string("v8"),
                  std::string("basic_auth"), std::string(kBcrypt10Config), kDavePw);
BENCHMARK_CAPTURE(ExtensionCycle, basic_auth_bcrypt10_wrong_v8, std::string("v8"),
                  std::string("basic_auth"), std::string(kBcrypt10Config), kDaveWrong, true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ExtensionCycle, basic_auth_sha_wrong_v8, std::string("v8"),
                  std::string("basic_auth"), std::string(kShaConfig), kDaveWrong, true);
BENCHMARK_CAPTURE(ExtensionCycle, basic_auth_apr1_wrong_v8, std::string("v8"),
                  std::string("basic_auth"), std::string(kApr1Config), kDaveWrong, true);
BENCHMARK_CAPTURE(ExtensionCycle, local_rate_limit_v8, std::string("v8"),
                  std::string("local_rate_limit"), std::string(kRateLimitConfig), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, local_rate_limit_wabt, std::string("wabt"),
                  std::string("local_rate_limit"), std::string(kRateLimitConfig), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, local_rate_limit_wasm2c, std::string("wasm2c"),
                  std::string("local_rate_limit"), std::string(kRateLimitConfig), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, opa_cache_hit_v8, std::string("v8"),
                  std::string("open_policy_agent"), std::string(kOpaConfig), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, opa_cache_hit_wabt, std::string("wabt"),
                  std::string("open_policy_agent"), std::string(kOpaConfig), kRequestHeaders);
BENCHMARK_CAPTURE(ExtensionCycle, opa_cache_hit_wasm2c, std::string("wasm2c"),
                  std::string("open_policy_agent"), std::string(kOpaConfig), kRequestHeaders);
BENCHMARK_CAPTURE(JwtRoutingCycle, metadata_v8, std::string("v8"), std::string(), false);
BENCHMARK_CAPTURE(JwtRoutingCycle, metadata_wabt, std::string("wabt"), std::string(), false);
BENCHMARK_CAPTURE(JwtRoutingCycle, metadata_wasm2c, std::string("wasm2c"), std::string(), false);
BENCHMARK_CAPTURE(JwtRoutingCycle, rs256_cached_v8, std::string("v8"), std::string("RS256"), true);
BENCHMARK_CAPTURE(JwtRoutingCycle, rs256_cached_wabt, std::string("wabt"), std::string("RS256"),
                  true);
BENCHMARK_CAPTURE(JwtRoutingCycle, rs256_cached_wasm2c, std::string("wasm2c"), std::string("RS256"),
                  true);
BENCHMARK_CAPTURE(JwtRoutingCycle, rs256_uncached_v8, std::string("v8"), std::string("RS256"),
                  false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(JwtRoutingCycle, rs256_uncached_wabt, std::string("wabt"), std::string("RS256"),
                  false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(JwtRoutingCycle, rs256_uncached_wasm2c, std::string("wasm2c"),
                  std::string("RS256"), false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(JwtRoutingCycle, es256_uncached_v8, std::string("v8"), std::string("ES256"),
                  false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(JwtRoutingCycle, es256_uncached_wabt, std::string("wabt"), std::string("ES256"),
                  false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(JwtRoutingCycle, es256_uncached_wasm2c, std::string("wasm2c"),
                  std::string("ES256"), false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(JwtRoutingCycle, eddsa_uncached_v8, std::string("v8"), std::string("EdDSA"),
                  false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(JwtRoutingCycle, hs256_uncached_v8, std::string("v8"), std::string("HS256"),
                  false);
BENCHMARK_CAPTURE(AccessLogCycle, write_log_v8, std::string("v8"),
                  std::string(R"({"logging_service": "c:1"})"));
BENCHMARK_CAPTURE(AccessLogCycle, otlp_v8, std::string("v8"),
                  std::string(R"({"otlp_service": "c"})"));
BENCHMARK_CAPTURE(AccessLogCycle, write_log_wabt, std::string("wabt"),
                  std::string(R"({"logging_service": "c:1"})"));
BENCHMARK_CAPTURE(AccessLogCycle, write_log_wasm2c, std::string("wasm2c"),
                  std::string(R"({"logging_service": "c:1"})"));
BENCHMARK_CAPTURE(AccessLogCycle, otlp_wabt, std::string("wabt"),
                  std::string(R"({"otlp_service": "c"})"));
BENCHMARK_CAPTURE(AccessLogCycle, otlp_wasm2c, std::string("wasm2c"),
                  std::string(R"({"otlp_service": "c"})"));
BENCHMARK_CAPTURE(VmMemory, v8, std::string("v8"))->Iterations(1);
BENCHMARK_CAPTURE(VmMemory, wabt, std::string("wabt"))->Iterations(1);
BENCHMARK_CAPTURE(VmMemory, wasm2c, std::string("wasm2c"))->Iterations(1);

BENCHMARK_MAIN();
