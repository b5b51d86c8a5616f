// Hostcalls on metrics (handles per VM over the process's registry), properties (the host's own,
// then the stream's, then the embedder's) and foreign functions (none registered).
#include "../hostcall_env.h"
#include "proxy_wasm/host/shared_state.h"

namespace proxy_wasm::host {
namespace {

// ---- metrics ----

WasmResult defineMetric(HostcallEnv& env, MetricType type, GuestBytes name, GuestU32Out id) {
  Metric* m = MetricsRegistry::instance().define(type, name.view);
  if (m == nullptr) return WasmResult::BadArgument;  // same name, another type
  return id.write(env, env.addMetric(m, static_cast<uint32_t>(type)))
             ? WasmResult::Ok
             : WasmResult::InvalidMemoryAccess;
}

WasmResult incrementMetric(HostcallEnv& env, uint32_t id, int64_t delta) {
  Metric* m = env.metric(id);
  if (m == nullptr) return WasmResult::NotFound;
  if (m->type() == MetricType::Histogram) return WasmResult::BadArgument;
  if (m->type() == MetricType::Counter && delta <= 0) return WasmResult::BadArgument;
  m->add(delta);
  return WasmResult::Ok;
}

WasmResult recordMetric(HostcallEnv& env, uint32_t id, uint64_t value) {
  Metric* m = env.metric(id);
  if (m == nullptr) return WasmResult::NotFound;
  switch (m->type()) {
    case MetricType::Counter:
      m->add(static_cast<int64_t>(value));
      break;
    case MetricType::Gauge:
      m->set(static_cast<int64_t>(value));
      break;
    case MetricType::Histogram:
      m->record(value);
      break;
  }
  return WasmResult::Ok;
}

WasmResult getMetric(HostcallEnv& env, uint32_t id, GuestU64Out value) {
  Metric* m = env.metric(id);
  if (m == nullptr) return WasmResult::NotFound;
  if (m->type() == MetricType::Histogram) return WasmResult::BadArgument;
  return value.write(env, static_cast<uint64_t>(m->value())) ? WasmResult::Ok
                                                             : WasmResult::InvalidMemoryAccess;
}

// ---- properties ----

// A property path as the SDKs send it: segments joined by NUL, sometimes NUL-terminated.
std::string propertyPath(std::string_view raw) {
  std::string path(raw);
  if (!path.empty() && path.back() == '\0') path.pop_back();
  return path;
}

WasmResult getProperty(HostcallEnv& env, GuestBytes raw_path, GuestOut value) {
  const std::string path = propertyPath(raw_path.view);
  std::string found;
  WasmResult r = WasmResult::NotFound;
  const PluginConfig* plugin = env.currentPlugin();
  if (path == "plugin_name" && plugin != nullptr) {
    found = plugin->name, r = WasmResult::Ok;
  } else if (path == "plugin_root_id" && plugin != nullptr) {
    found = plugin->root_id, r = WasmResult::Ok;
  } else if (path == "plugin_vm_id") {
    found = env.config().vm_id, r = WasmResult::Ok;
  } else {
    HostcallEnv::Context* c = env.currentContext();
    if (c != nullptr && c->stream != nullptr) r = c->stream->getProperty(path, &found);
    if (r == WasmResult::NotFound) r = env.host().getProperty(path, &found);
  }
  if (r != WasmResult::Ok) return r;
  return value.write(env, found);
}

WasmResult setProperty(HostcallEnv& env, GuestBytes raw_path, GuestBytes value) {
  HostcallEnv::Context* c = env.currentContext();
  if (c == nullptr || c->stream == nullptr) return WasmResult::NotFound;
  return c->stream->setProperty(propertyPath(raw_path.view), value.view);
}

WasmResult callForeignFunction(HostcallEnv&, GuestBytes, GuestBytes, GuestOut) {
  return WasmResult::NotFound;  // no foreign functions are registered
}

}  // namespace

std::vector<HostcallDef> metricAndPropertyHostcalls() {
  return {
      PROXY_WASM_HOST_ENTRY(proxy_define_metric, defineMetric),
      PROXY_WASM_HOST_ENTRY(proxy_increment_metric, incrementMetric),
      PROXY_WASM_HOST_ENTRY(proxy_record_metric, recordMetric),
      PROXY_WASM_HOST_ENTRY(proxy_get_metric, getMetric),
      PROXY_WASM_HOST_ENTRY(proxy_get_property, getProperty),
      PROXY_WASM_HOST_ENTRY(proxy_set_property, setProperty),
      PROXY_WASM_HOST_ENTRY(proxy_call_foreign_function, callForeignFunction),
  };
}

}  // namespace proxy_wasm::host
