#include "proxy_wasm/host/shared_state.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace proxy_wasm::host {
namespace {

TEST(SharedData, CasSemanticsAndNamespacesByVmId) {
  auto& d = SharedDataStore::instance();
  std::string v;
  uint32_t cas = 0;
  EXPECT_EQ(d.get("ns_a", "k", &v, &cas), WasmResult::NotFound);
  EXPECT_EQ(d.set("ns_a", "k", "1", 0), WasmResult::Ok);
  ASSERT_EQ(d.get("ns_a", "k", &v, &cas), WasmResult::Ok);
  EXPECT_EQ(v, "1");
  EXPECT_NE(cas, 0u);
  EXPECT_EQ(d.set("ns_a", "k", "2", cas + 1), WasmResult::CasMismatch);
  EXPECT_EQ(d.set("ns_a", "k", "2", cas), WasmResult::Ok);
  EXPECT_EQ(d.set("ns_a", "k", "3", cas), WasmResult::CasMismatch) << "cas moved on";
  EXPECT_EQ(d.get("ns_b", "k", &v, &cas), WasmResult::NotFound) << "other vm_id";
}

TEST(SharedData, ConcurrentCasIncrementsLoseNothing) {
  auto& d = SharedDataStore::instance();
  d.set("ns_conc", "n", "0", 0);
  auto worker = [&] {
    for (int i = 0; i < 2000; ++i) {
      for (;;) {
        std::string v;
        uint32_t cas;
        d.get("ns_conc", "n", &v, &cas);
        if (d.set("ns_conc", "n", std::to_string(std::stoi(v) + 1), cas) == WasmResult::Ok) break;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  std::string v;
  uint32_t cas;
  d.get("ns_conc", "n", &v, &cas);
  EXPECT_EQ(v, "8000");
}

TEST(SharedQueues, RegisterResolveEnqueueDequeueNotify) {
  auto& q = SharedQueues::instance();
  std::vector<uint32_t> notified;
  uint32_t id = q.registerQueue("vm_q", "jobs", [&](uint32_t qid) { notified.push_back(qid); });
  EXPECT_NE(id, 0u);
  EXPECT_EQ(q.resolve("vm_q", "jobs"), id);
  EXPECT_FALSE(q.resolve("vm_other", "jobs"));
  std::string out;
  EXPECT_EQ(q.dequeue(id, &out), WasmResult::Empty);
  EXPECT_EQ(q.enqueue(id, "a"), WasmResult::Ok);
  EXPECT_EQ(notified, std::vector<uint32_t>{id});
  EXPECT_EQ(q.dequeue(id, &out), WasmResult::Ok);
  EXPECT_EQ(out, "a");
  EXPECT_EQ(q.enqueue(999999, "x"), WasmResult::NotFound);
}

TEST(Metrics, PrometheusAndEnvoyText) {
  auto& r = MetricsRegistry::instance();
  Metric* c = r.define(MetricType::Counter, "wasm_filter.opa_filter.cache.hit.policy_cache_count");
  ASSERT_NE(c, nullptr);
  c->add(9);
  EXPECT_EQ(r.define(MetricType::Gauge, "wasm_filter.opa_filter.cache.hit.policy_cache_count"),
            nullptr)
      << "same name, other type";
  Metric* h = r.define(MetricType::Histogram, "test.latency");
  h->record(3);
  h->record(70);
  std::string prom = r.renderPrometheus();
  EXPECT_NE(prom.find("wasm_filter_opa_filter_cache_hit_policy_cache_count 9\n"),
            std::string::npos);
  EXPECT_NE(prom.find("test_latency_bucket{le=\"5\"} 1\n"), std::string::npos) << prom;
  EXPECT_NE(prom.find("test_latency_count 2\n"), std::string::npos);
  std::string text = r.renderEnvoyText();
  EXPECT_NE(text.find("wasm_filter.opa_filter.cache.hit.policy_cache_count: 9\n"),
            std::string::npos);
  EXPECT_NE(text.find("test.latency: P0(5)"), std::string::npos) << text;
}

}  // namespace
}  // namespace proxy_wasm::host
