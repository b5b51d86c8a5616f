// The proxy-wasm ABI 0.2.1, stated once: every hostcall a plugin imports from module "env" and
// every callback it exports, with named parameters of an ABI kind. Everything else is generated
// from these two lists: the SDK's imports and callback prototypes (sdk/hostcalls.h), the host's
// engine signatures and typed trampolines (host/src/hostcall_env.h), the host's callback table
// (host/src/vm.cc), and the check of the hand-written raw-ABI and Zig bindings (abi_table_test).
//
// PROXY_WASM_HOSTCALLS(X, K) expands X(name, (params)) for each hostcall; every hostcall returns
// a WasmResult. PROXY_WASM_CALLBACKS(X, K) expands X(name, Result, (params)). Each user passes
// its own `K`, a type with these member types (the wasm value type in brackets):
//
//   U32, I32, U64, I64   a value [i32 / i64]
//   LogLevel, MapType, BufferType, StreamType, MetricType
//                        an enum of enums.h by value [i32]; the host refuses values past its end
//   Ptr, Size            bytes the plugin passes: address and length [i32, i32]
//   PtrOut, SizeOut      where the host writes the address and length of bytes it allocated in the
//                        plugin with proxy_on_memory_allocate [i32, i32]
//   U32Out, U64Out       where the host writes one value [i32]
//   Address              (callback results only) an address in the plugin's memory [i32]
//   Void                 (callback results only) nothing
//
// Header-only, no includes: a pure list. The order is the ABI's; append, never reorder a list of
// parameters.
#pragma once

#define PROXY_WASM_HOSTCALLS(X, K)                                                                \
  /* logging, time, lifecycle */                                                                  \
  X(proxy_log, (K::LogLevel level, K::Ptr message, K::Size message_size))                         \
  X(proxy_get_log_level, (K::U32Out level))                                                       \
  X(proxy_get_current_time_nanoseconds, (K::U64Out nanoseconds))                                  \
  X(proxy_set_tick_period_milliseconds, (K::U32 period_ms))                                       \
  X(proxy_done, ())                                                                               \
  X(proxy_set_effective_context, (K::U32 context_id))                                             \
  /* buffers */                                                                                   \
  X(proxy_get_buffer_bytes,                                                                       \
    (K::BufferType type, K::U32 start, K::U32 max_size, K::PtrOut data, K::SizeOut size))         \
  X(proxy_get_buffer_status, (K::BufferType type, K::SizeOut size, K::U32Out flags))              \
  X(proxy_set_buffer_bytes,                                                                       \
    (K::BufferType type, K::U32 start, K::U32 size, K::Ptr data, K::Size data_size))              \
  /* header maps */                                                                               \
  X(proxy_get_header_map_size, (K::MapType type, K::SizeOut size))                                \
  X(proxy_get_header_map_pairs, (K::MapType type, K::PtrOut data, K::SizeOut size))               \
  X(proxy_set_header_map_pairs, (K::MapType type, K::Ptr data, K::Size size))                     \
  X(proxy_get_header_map_value,                                                                   \
    (K::MapType type, K::Ptr key, K::Size key_size, K::PtrOut value, K::SizeOut value_size))      \
  X(proxy_add_header_map_value,                                                                   \
    (K::MapType type, K::Ptr key, K::Size key_size, K::Ptr value, K::Size value_size))            \
  X(proxy_replace_header_map_value,                                                               \
    (K::MapType type, K::Ptr key, K::Size key_size, K::Ptr value, K::Size value_size))            \
  X(proxy_remove_header_map_value, (K::MapType type, K::Ptr key, K::Size key_size))               \
  /* stream control, local replies */                                                             \
  X(proxy_continue_stream, (K::StreamType stream_type))                                           \
  X(proxy_close_stream, (K::StreamType stream_type))                                              \
  X(proxy_send_local_response,                                                                    \
    (K::U32 status_code, K::Ptr details, K::Size details_size, K::Ptr body, K::Size body_size,    \
     K::Ptr headers, K::Size headers_size, K::I32 grpc_status))                                   \
  X(proxy_get_status, (K::U32Out code, K::PtrOut message, K::SizeOut message_size))               \
  /* HTTP and gRPC callouts */                                                                    \
  X(proxy_http_call, (K::Ptr upstream, K::Size upstream_size, K::Ptr headers,                     \
                      K::Size headers_size, K::Ptr body, K::Size body_size, K::Ptr trailers,      \
                      K::Size trailers_size, K::U32 timeout_ms, K::U32Out token))                 \
  X(proxy_grpc_call,                                                                              \
    (K::Ptr service, K::Size service_size, K::Ptr service_name, K::Size service_name_size,        \
     K::Ptr method, K::Size method_size, K::Ptr initial_metadata, K::Size initial_metadata_size,  \
     K::Ptr message, K::Size message_size, K::U32 timeout_ms, K::U32Out token))                   \
  X(proxy_grpc_stream, (K::Ptr service, K::Size service_size, K::Ptr service_name,                \
                        K::Size service_name_size, K::Ptr method, K::Size method_size,            \
                        K::Ptr initial_metadata, K::Size initial_metadata_size, K::U32Out token)) \
  X(proxy_grpc_send, (K::U32 token, K::Ptr message, K::Size message_size, K::U32 end_stream))     \
  X(proxy_grpc_cancel, (K::U32 token))                                                            \
  X(proxy_grpc_close, (K::U32 token))                                                             \
  /* shared data and shared queues */                                                             \
  X(proxy_get_shared_data,                                                                        \
    (K::Ptr key, K::Size key_size, K::PtrOut value, K::SizeOut value_size, K::U32Out cas))        \
  X(proxy_set_shared_data,                                                                        \
    (K::Ptr key, K::Size key_size, K::Ptr value, K::Size value_size, K::U32 cas))                 \
  X(proxy_register_shared_queue, (K::Ptr name, K::Size name_size, K::U32Out queue_id))            \
  X(proxy_resolve_shared_queue,                                                                   \
    (K::Ptr vm_id, K::Size vm_id_size, K::Ptr name, K::Size name_size, K::U32Out queue_id))       \
  X(proxy_enqueue_shared_queue, (K::U32 queue_id, K::Ptr data, K::Size data_size))                \
  X(proxy_dequeue_shared_queue, (K::U32 queue_id, K::PtrOut data, K::SizeOut data_size))          \
  /* metrics */                                                                                   \
  X(proxy_define_metric,                                                                          \
    (K::MetricType type, K::Ptr name, K::Size name_size, K::U32Out metric_id))                    \
  X(proxy_increment_metric, (K::U32 metric_id, K::I64 delta))                                     \
  X(proxy_record_metric, (K::U32 metric_id, K::U64 value))                                        \
  X(proxy_get_metric, (K::U32 metric_id, K::U64Out value))                                        \
  /* properties, foreign functions */                                                             \
  X(proxy_get_property, (K::Ptr path, K::Size path_size, K::PtrOut value, K::SizeOut value_size)) \
  X(proxy_set_property, (K::Ptr path, K::Size path_size, K::Ptr value, K::Size value_size))       \
  X(proxy_call_foreign_function,                                                                  \
    (K::Ptr name, K::Size name_size, K::Ptr arguments, K::Size arguments_size, K::PtrOut results, \
     K::SizeOut results_size))

#define PROXY_WASM_CALLBACKS(X, K)                                                                 \
  X(proxy_on_memory_allocate, K::Address, (K::Size size))                                          \
  X(proxy_on_context_create, K::Void, (K::U32 context_id, K::U32 parent_context_id))               \
  X(proxy_on_vm_start, K::U32, (K::U32 root_context_id, K::U32 vm_configuration_size))             \
  X(proxy_validate_configuration, K::U32, (K::U32 root_context_id, K::U32 configuration_size))     \
  X(proxy_on_configure, K::U32, (K::U32 root_context_id, K::U32 plugin_configuration_size))        \
  X(proxy_on_tick, K::Void, (K::U32 root_context_id))                                              \
  X(proxy_on_queue_ready, K::Void, (K::U32 root_context_id, K::U32 queue_id))                      \
  X(proxy_on_foreign_function, K::Void,                                                            \
    (K::U32 context_id, K::U32 function_id, K::U32 arguments_size))                                \
  X(proxy_on_done, K::U32, (K::U32 context_id))                                                    \
  X(proxy_on_log, K::Void, (K::U32 context_id))                                                    \
  X(proxy_on_delete, K::Void, (K::U32 context_id))                                                 \
  X(proxy_on_new_connection, K::U32, (K::U32 context_id))                                          \
  X(proxy_on_downstream_data, K::U32, (K::U32 context_id, K::U32 data_size, K::U32 end_of_stream)) \
  X(proxy_on_upstream_data, K::U32, (K::U32 context_id, K::U32 data_size, K::U32 end_of_stream))   \
  X(proxy_on_downstream_connection_close, K::Void, (K::U32 context_id, K::U32 peer_type))          \
  X(proxy_on_upstream_connection_close, K::Void, (K::U32 context_id, K::U32 peer_type))            \
  X(proxy_on_request_headers, K::U32, (K::U32 context_id, K::U32 headers, K::U32 end_of_stream))   \
  X(proxy_on_request_body, K::U32, (K::U32 context_id, K::U32 body_size, K::U32 end_of_stream))    \
  X(proxy_on_request_trailers, K::U32, (K::U32 context_id, K::U32 trailers))                       \
  X(proxy_on_request_metadata, K::U32, (K::U32 context_id, K::U32 elements))                       \
  X(proxy_on_response_headers, K::U32, (K::U32 context_id, K::U32 headers, K::U32 end_of_stream))  \
  X(proxy_on_response_body, K::U32, (K::U32 context_id, K::U32 body_size, K::U32 end_of_stream))   \
  X(proxy_on_response_trailers, K::U32, (K::U32 context_id, K::U32 trailers))                      \
  X(proxy_on_response_metadata, K::U32, (K::U32 context_id, K::U32 elements))                      \
  X(proxy_on_http_call_response, K::Void,                                                          \
    (K::U32 root_context_id, K::U32 token, K::U32 headers, K::U32 body_size, K::U32 trailers))     \
  X(proxy_on_grpc_receive_initial_metadata, K::Void,                                               \
    (K::U32 root_context_id, K::U32 token, K::U32 elements))                                       \
  X(proxy_on_grpc_receive, K::Void, (K::U32 root_context_id, K::U32 token, K::U32 message_size))   \
  X(proxy_on_grpc_receive_trailing_metadata, K::Void,                                              \
    (K::U32 root_context_id, K::U32 token, K::U32 elements))                                       \
  X(proxy_on_grpc_close, K::Void, (K::U32 root_context_id, K::U32 token, K::U32 status_code))
