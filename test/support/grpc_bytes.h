// The bytes of a gRPC ByteBuffer, for the test servers (grpc-server, log-collector).
#pragma once

#include <grpcpp/support/byte_buffer.h>

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

}  // namespace pwx_test
