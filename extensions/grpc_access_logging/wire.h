// Protocol Buffers wire basics that need no generated code: a varint's size and a length-delimited
// field appended to a buffer. Pure (no hostcall); shared by the configuration (GrpcService), the
// encodings and the exporter's batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace grpc_access_logging {

// Bytes of `v` as a base-128 varint.
size_t varintSize(uint64_t v);
// Bytes appendField() adds around a message of `size` bytes (tag and length), for fields 1-15.
inline size_t fieldFraming(size_t size) {
  return 1 + varintSize(size);
}
// Appends `message` as length-delimited field `field` to `out`.
void appendField(std::string& out, uint32_t field, std::string_view message);

}  // namespace grpc_access_logging
