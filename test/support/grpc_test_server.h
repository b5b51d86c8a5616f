// What the test gRPC servers (grpc-server, log-collector) share: the bytes of a ByteBuffer, and
// serving a generic callback service on 127.0.0.1 until killed.
#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

namespace pwx_test {

inline std::string bytesOf(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (buffer.Dump(&slices).ok()) {
    for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// Serves `service` on 127.0.0.1:`port` until the process is killed; 1 when it cannot listen.
inline int serve(grpc::CallbackGenericService& service, uint16_t port, const std::string& name) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials());
  builder.RegisterCallbackGenericService(&service);
  auto server = builder.BuildAndStart();
  if (!server) {
    std::cerr << name << ": cannot listen on port " << port << std::endl;
    return 1;
  }
  std::cout << name << " on 127.0.0.1:" << port << std::endl;
  server->Wait();
  return 0;
}

}  // namespace pwx_test
