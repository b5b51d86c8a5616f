// Hostcalls on state shared by every VM of the process: shared data (namespaced by vm_id, with
// compare-and-swap) and shared queues (a ready queue wakes its owner on the owner's thread).
#include "proxy_wasm/host/shared_state.h"
#include "../hostcall_env.h"

namespace proxy_wasm::host {
namespace {

WasmResult getSharedData(HostcallEnv& env, GuestBytes key, GuestOut value, GuestU32Out cas) {
  std::string found;
  uint32_t version = 0;
  WasmResult r = SharedDataStore::instance().get(env.config().vm_id, key.view, &found, &version);
  if (r != WasmResult::Ok) return r;
  if (!cas.write(env, version)) return WasmResult::InvalidMemoryAccess;
  return value.write(env, found);
}

WasmResult setSharedData(HostcallEnv& env, GuestBytes key, GuestBytes value, uint32_t cas) {
  return SharedDataStore::instance().set(env.config().vm_id, key.view, value.view, cas);
}

WasmResult registerSharedQueue(HostcallEnv& env, GuestBytes name, GuestU32Out queue_id) {
  HostcallEnv::Context* root = env.rootOf(env.currentContext());
  if (root == nullptr) return WasmResult::NotFound;
  const uint32_t root_id = root->id;
  std::weak_ptr<bool> alive = env.alive();
  VmHost* host = &env.host();
  Vm* vm = &env.vm();
  const uint32_t id = SharedQueues::instance().registerQueue(
      env.config().vm_id, name.view, [alive, host, vm, root_id](uint32_t queue) {
        host->post([alive, vm, root_id, queue] {
          if (auto a = alive.lock(); a && *a) vm->onQueueReady(root_id, queue);
        });
      });
  return queue_id.write(env, id) ? WasmResult::Ok : WasmResult::InvalidMemoryAccess;
}

WasmResult resolveSharedQueue(HostcallEnv& env, GuestBytes vm_id, GuestBytes name,
                              GuestU32Out queue_id) {
  auto id = SharedQueues::instance().resolve(
      vm_id.view.empty() ? std::string_view(env.config().vm_id) : vm_id.view, name.view);
  if (!id) return WasmResult::NotFound;
  return queue_id.write(env, *id) ? WasmResult::Ok : WasmResult::InvalidMemoryAccess;
}

WasmResult enqueueSharedQueue(HostcallEnv&, uint32_t queue_id, GuestBytes data) {
  return SharedQueues::instance().enqueue(queue_id, data.view);
}

WasmResult dequeueSharedQueue(HostcallEnv& env, uint32_t queue_id, GuestOut data) {
  // Checked first: a dequeued item that cannot be handed over would be lost.
  if (!data.writable(env)) return WasmResult::InvalidMemoryAccess;
  std::string item;
  WasmResult r = SharedQueues::instance().dequeue(queue_id, &item);
  if (r != WasmResult::Ok) return r;
  return data.write(env, item);
}

}  // namespace

std::vector<HostcallDef> sharedStateHostcalls() {
  return {
      PROXY_WASM_HOST_ENTRY(proxy_get_shared_data, getSharedData),
      PROXY_WASM_HOST_ENTRY(proxy_set_shared_data, setSharedData),
      PROXY_WASM_HOST_ENTRY(proxy_register_shared_queue, registerSharedQueue),
      PROXY_WASM_HOST_ENTRY(proxy_resolve_shared_queue, resolveSharedQueue),
      PROXY_WASM_HOST_ENTRY(proxy_enqueue_shared_queue, enqueueSharedQueue),
      PROXY_WASM_HOST_ENTRY(proxy_dequeue_shared_queue, dequeueSharedQueue),
  };
}

}  // namespace proxy_wasm::host
