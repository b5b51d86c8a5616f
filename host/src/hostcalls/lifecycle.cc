// Hostcalls of the ABI's first section: logging, time, ticks, proxy_done and the effective context.
#include "../hostcall_env.h"

namespace proxy_wasm::host {
namespace {

WasmResult log(HostcallEnv& env, LogLevel level, GuestBytes message) {
  env.log(level, message.view);
  return WasmResult::Ok;
}

WasmResult getLogLevel(HostcallEnv& env, GuestU32Out level) {
  return level.write(env, static_cast<uint32_t>(env.host().logLevel()))
             ? WasmResult::Ok
             : WasmResult::InvalidMemoryAccess;
}

WasmResult getCurrentTime(HostcallEnv& env, GuestU64Out nanoseconds) {
  return nanoseconds.write(env, env.host().realtimeNanos()) ? WasmResult::Ok
                                                            : WasmResult::InvalidMemoryAccess;
}

WasmResult setTickPeriod(HostcallEnv& env, uint32_t period_ms) {
  HostcallEnv::Context* root = env.rootOf(env.currentContext());
  if (root == nullptr) return WasmResult::NotFound;
  env.host().setTickPeriod(env.vm(), root->id, period_ms);
  return WasmResult::Ok;
}

// The root context that returned false from on_done is deleted once the current call returns.
WasmResult done(HostcallEnv& env) {
  HostcallEnv::Context* root = env.rootOf(env.currentContext());
  if (root == nullptr || !root->pending_done) return WasmResult::NotFound;
  root->pending_done = false;
  env.defer([env, id = root->id]() mutable { env.deleteRootContext(id); });
  return WasmResult::Ok;
}

WasmResult setEffectiveContext(HostcallEnv& env, uint32_t context_id) {
  if (env.context(context_id) == nullptr) return WasmResult::BadArgument;
  env.setEffectiveContext(context_id);
  return WasmResult::Ok;
}

}  // namespace

std::vector<HostcallDef> lifecycleHostcalls() {
  return {
      PROXY_WASM_HOST_ENTRY(proxy_log, log),
      PROXY_WASM_HOST_ENTRY(proxy_get_log_level, getLogLevel),
      PROXY_WASM_HOST_ENTRY(proxy_get_current_time_nanoseconds, getCurrentTime),
      PROXY_WASM_HOST_ENTRY(proxy_set_tick_period_milliseconds, setTickPeriod),
      PROXY_WASM_HOST_ENTRY(proxy_done, done),
      PROXY_WASM_HOST_ENTRY(proxy_set_effective_context, setEffectiveContext),
  };
}

}  // namespace proxy_wasm::host
