// The raw proxy-wasm ABI 0.2.1 as seen from a plugin: every hostcall imported from module "env"
// and every callback the plugin exports. Compiled for wasm32 these are real imports and exports;
// compiled natively (unit tests) the hostcalls are ordinary functions that a test host defines.
//
// Most plugin code should use the typed wrappers in api.h instead.
#pragma once

#include <cstddef>
#include <cstdint>

#include "proxy_wasm/abi/enums.h"

#if defined(__wasm__)
#define PROXY_WASM_IMPORT(name) __attribute__((import_module("env"), import_name(#name)))
#define PROXY_WASM_EXPORT(name) __attribute__((export_name(#name)))
#else
#define PROXY_WASM_IMPORT(name)
#define PROXY_WASM_EXPORT(name) __attribute__((visibility("default")))
#endif

extern "C" {
using proxy_wasm::abi::WasmResult;

// Logging, time, timers.
PROXY_WASM_IMPORT(proxy_log)
WasmResult proxy_log(uint32_t level, const char* message, size_t message_size);
PROXY_WASM_IMPORT(proxy_get_log_level) WasmResult proxy_get_log_level(uint32_t* level);
PROXY_WASM_IMPORT(proxy_get_current_time_nanoseconds)
WasmResult proxy_get_current_time_nanoseconds(uint64_t* nanoseconds);
PROXY_WASM_IMPORT(proxy_set_tick_period_milliseconds)
WasmResult proxy_set_tick_period_milliseconds(uint32_t period_ms);

// Lifecycle.
PROXY_WASM_IMPORT(proxy_done) WasmResult proxy_done();
PROXY_WASM_IMPORT(proxy_set_effective_context) WasmResult proxy_set_effective_context(uint32_t id);

// Buffers.
PROXY_WASM_IMPORT(proxy_get_buffer_bytes)
WasmResult proxy_get_buffer_bytes(uint32_t type, uint32_t start, uint32_t max_size, char** data,
                                  size_t* size);
PROXY_WASM_IMPORT(proxy_get_buffer_status)
WasmResult proxy_get_buffer_status(uint32_t type, size_t* size, uint32_t* flags);
PROXY_WASM_IMPORT(proxy_set_buffer_bytes)
WasmResult proxy_set_buffer_bytes(uint32_t type, uint32_t start, uint32_t size, const char* data,
                                  size_t data_size);

// Header maps.
PROXY_WASM_IMPORT(proxy_get_header_map_size)
WasmResult proxy_get_header_map_size(uint32_t type, size_t* size);
PROXY_WASM_IMPORT(proxy_get_header_map_pairs)
WasmResult proxy_get_header_map_pairs(uint32_t type, char** data, size_t* size);
PROXY_WASM_IMPORT(proxy_set_header_map_pairs)
WasmResult proxy_set_header_map_pairs(uint32_t type, const char* data, size_t size);
PROXY_WASM_IMPORT(proxy_get_header_map_value)
WasmResult proxy_get_header_map_value(uint32_t type, const char* key, size_t key_size, char** value,
                                      size_t* value_size);
PROXY_WASM_IMPORT(proxy_add_header_map_value)
WasmResult proxy_add_header_map_value(uint32_t type, const char* key, size_t key_size,
                                      const char* value, size_t value_size);
PROXY_WASM_IMPORT(proxy_replace_header_map_value)
WasmResult proxy_replace_header_map_value(uint32_t type, const char* key, size_t key_size,
                                          const char* value, size_t value_size);
PROXY_WASM_IMPORT(proxy_remove_header_map_value)
WasmResult proxy_remove_header_map_value(uint32_t type, const char* key, size_t key_size);

// Stream control and local replies.
PROXY_WASM_IMPORT(proxy_continue_stream) WasmResult proxy_continue_stream(uint32_t stream_type);
PROXY_WASM_IMPORT(proxy_close_stream) WasmResult proxy_close_stream(uint32_t stream_type);
PROXY_WASM_IMPORT(proxy_send_local_response)
WasmResult proxy_send_local_response(uint32_t status_code, const char* details, size_t details_size,
                                     const char* body, size_t body_size, const char* headers,
                                     size_t headers_size, int32_t grpc_status);
PROXY_WASM_IMPORT(proxy_get_status)
WasmResult proxy_get_status(uint32_t* code, char** message, size_t* message_size);

// HTTP and gRPC callouts.
PROXY_WASM_IMPORT(proxy_http_call)
WasmResult proxy_http_call(const char* upstream, size_t upstream_size, const char* headers,
                           size_t headers_size, const char* body, size_t body_size,
                           const char* trailers, size_t trailers_size, uint32_t timeout_ms,
                           uint32_t* token);
PROXY_WASM_IMPORT(proxy_grpc_call)
WasmResult proxy_grpc_call(const char* service, size_t service_size, const char* service_name,
                           size_t service_name_size, const char* method, size_t method_size,
                           const char* initial_metadata, size_t initial_metadata_size,
                           const char* message, size_t message_size, uint32_t timeout_ms,
                           uint32_t* token);
PROXY_WASM_IMPORT(proxy_grpc_stream)
WasmResult proxy_grpc_stream(const char* service, size_t service_size, const char* service_name,
                             size_t service_name_size, const char* method, size_t method_size,
                             const char* initial_metadata, size_t initial_metadata_size,
                             uint32_t* token);
PROXY_WASM_IMPORT(proxy_grpc_send)
WasmResult proxy_grpc_send(uint32_t token, const char* message, size_t message_size,
                           uint32_t end_stream);
PROXY_WASM_IMPORT(proxy_grpc_cancel) WasmResult proxy_grpc_cancel(uint32_t token);
PROXY_WASM_IMPORT(proxy_grpc_close) WasmResult proxy_grpc_close(uint32_t token);

// Shared data and shared queues.
PROXY_WASM_IMPORT(proxy_get_shared_data)
WasmResult proxy_get_shared_data(const char* key, size_t key_size, char** value, size_t* value_size,
                                 uint32_t* cas);
PROXY_WASM_IMPORT(proxy_set_shared_data)
WasmResult proxy_set_shared_data(const char* key, size_t key_size, const char* value,
                                 size_t value_size, uint32_t cas);
PROXY_WASM_IMPORT(proxy_register_shared_queue)
WasmResult proxy_register_shared_queue(const char* name, size_t name_size, uint32_t* queue_id);
PROXY_WASM_IMPORT(proxy_resolve_shared_queue)
WasmResult proxy_resolve_shared_queue(const char* vm_id, size_t vm_id_size, const char* name,
                                      size_t name_size, uint32_t* queue_id);
PROXY_WASM_IMPORT(proxy_enqueue_shared_queue)
WasmResult proxy_enqueue_shared_queue(uint32_t queue_id, const char* data, size_t data_size);
PROXY_WASM_IMPORT(proxy_dequeue_shared_queue)
WasmResult proxy_dequeue_shared_queue(uint32_t queue_id, char** data, size_t* data_size);

// Metrics.
PROXY_WASM_IMPORT(proxy_define_metric)
WasmResult proxy_define_metric(uint32_t type, const char* name, size_t name_size,
                               uint32_t* metric_id);
PROXY_WASM_IMPORT(proxy_increment_metric)
WasmResult proxy_increment_metric(uint32_t metric_id, int64_t delta);
PROXY_WASM_IMPORT(proxy_record_metric)
WasmResult proxy_record_metric(uint32_t metric_id, uint64_t value);
PROXY_WASM_IMPORT(proxy_get_metric)
WasmResult proxy_get_metric(uint32_t metric_id, uint64_t* value);

// Properties and foreign functions.
PROXY_WASM_IMPORT(proxy_get_property)
WasmResult proxy_get_property(const char* path, size_t path_size, char** value, size_t* value_size);
PROXY_WASM_IMPORT(proxy_set_property)
WasmResult proxy_set_property(const char* path, size_t path_size, const char* value,
                              size_t value_size);
PROXY_WASM_IMPORT(proxy_call_foreign_function)
WasmResult proxy_call_foreign_function(const char* name, size_t name_size, const char* arguments,
                                       size_t arguments_size, char** results, size_t* results_size);

// Callbacks the SDK exports (defined in the SDK; listed so native test hosts can call them).
void proxy_abi_version_0_2_1();
void* proxy_on_memory_allocate(size_t size);
void proxy_on_context_create(uint32_t context_id, uint32_t parent_context_id);
uint32_t proxy_on_vm_start(uint32_t root_context_id, uint32_t vm_configuration_size);
uint32_t proxy_validate_configuration(uint32_t root_context_id, uint32_t configuration_size);
uint32_t proxy_on_configure(uint32_t root_context_id, uint32_t plugin_configuration_size);
void proxy_on_tick(uint32_t root_context_id);
void proxy_on_queue_ready(uint32_t root_context_id, uint32_t queue_id);
void proxy_on_foreign_function(uint32_t context_id, uint32_t function_id, uint32_t arguments_size);
uint32_t proxy_on_done(uint32_t context_id);
void proxy_on_log(uint32_t context_id);
void proxy_on_delete(uint32_t context_id);
uint32_t proxy_on_new_connection(uint32_t context_id);
uint32_t proxy_on_downstream_data(uint32_t context_id, uint32_t data_size, uint32_t end_of_stream);
uint32_t proxy_on_upstream_data(uint32_t context_id, uint32_t data_size, uint32_t end_of_stream);
void proxy_on_downstream_connection_close(uint32_t context_id, uint32_t peer_type);
void proxy_on_upstream_connection_close(uint32_t context_id, uint32_t peer_type);
uint32_t proxy_on_request_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream);
uint32_t proxy_on_request_body(uint32_t context_id, uint32_t body_size, uint32_t end_of_stream);
uint32_t proxy_on_request_trailers(uint32_t context_id, uint32_t trailers);
uint32_t proxy_on_request_metadata(uint32_t context_id, uint32_t elements);
uint32_t proxy_on_response_headers(uint32_t context_id, uint32_t headers, uint32_t end_of_stream);
uint32_t proxy_on_response_body(uint32_t context_id, uint32_t body_size, uint32_t end_of_stream);
uint32_t proxy_on_response_trailers(uint32_t context_id, uint32_t trailers);
uint32_t proxy_on_response_metadata(uint32_t context_id, uint32_t elements);
void proxy_on_http_call_response(uint32_t root_context_id, uint32_t token, uint32_t headers,
                                 uint32_t body_size, uint32_t trailers);
void proxy_on_grpc_receive_initial_metadata(uint32_t root_context_id, uint32_t token,
                                            uint32_t elements);
void proxy_on_grpc_receive(uint32_t root_context_id, uint32_t token, uint32_t message_size);
void proxy_on_grpc_receive_trailing_metadata(uint32_t root_context_id, uint32_t token,
                                             uint32_t elements);
void proxy_on_grpc_close(uint32_t root_context_id, uint32_t token, uint32_t status_code);
}
