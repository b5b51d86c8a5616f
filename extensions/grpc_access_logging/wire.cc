// Protocol Buffers wire basics (wire.h).
#include "wire.h"

namespace grpc_access_logging {
namespace {

constexpr uint32_t kLengthDelimited = 2;

void appendVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

}  // namespace

size_t varintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void appendField(std::string& out, uint32_t field, std::string_view message) {
  appendVarint(out, (uint64_t{field} << 3) | kLengthDelimited);
  appendVarint(out, message.size());
  out.append(message);
}

}  // namespace grpc_access_logging
