// The "pairs" wire format of the proxy-wasm ABI, used for header maps, gRPC metadata, local-reply
// headers and map-valued properties:
//
//   u32 count | count x (u32 key_len, u32 value_len) | count x (key bytes, 0x00, value bytes, 0x00)
//
// All integers little-endian; lengths exclude the NUL. Both sides of the ABI use this codec.
//
// Decoding follows the reference host: at most kMaxPairs entries and kMaxPairsBytes bytes, every
// NUL present, and the buffer must end exactly after the last value. Anything else is malformed and
// decodes to an empty map (never a crash, never a partial map). An empty buffer is an empty map.
//
// Header-only, C++17, no exceptions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace proxy_wasm::abi {

constexpr size_t kMaxPairs = 1024;
constexpr size_t kMaxPairsBytes = 1024 * 1024;

using PairView = std::pair<std::string_view, std::string_view>;

namespace pairs_detail {
inline uint32_t loadU32(const char* p) {
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{b[0]} | (uint32_t{b[1]} << 8) | (uint32_t{b[2]} << 16) | (uint32_t{b[3]} << 24);
}
inline void storeU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>((v >> 8) & 0xff);
  p[2] = static_cast<char>((v >> 16) & 0xff);
  p[3] = static_cast<char>((v >> 24) & 0xff);
}
}  // namespace pairs_detail

// Bytes needed to encode `pairs` (a range of elements with .first/.second convertible to
// std::string_view). Returns 0 for an empty range, which hosts accept as an empty map.
template <class Pairs>
size_t encodedPairsSize(const Pairs& pairs) {
  size_t n = 0, size = 4;
  for (const auto& p : pairs) {
    size += 8 + std::string_view(p.first).size() + 1 + std::string_view(p.second).size() + 1;
    ++n;
  }
  return n == 0 ? 0 : size;
}

// Encodes into `out`, which must hold encodedPairsSize(pairs) bytes.
template <class Pairs>
void encodePairsTo(const Pairs& pairs, char* out) {
  uint32_t n = 0;
  for (const auto& p : pairs) {
    (void)p;
    ++n;
  }
  if (n == 0) return;
  pairs_detail::storeU32(out, n);
  char* lens = out + 4;
  char* data = lens + 8 * size_t{n};
  for (const auto& p : pairs) {
    std::string_view k(p.first), v(p.second);
    pairs_detail::storeU32(lens, static_cast<uint32_t>(k.size()));
    pairs_detail::storeU32(lens + 4, static_cast<uint32_t>(v.size()));
    lens += 8;
    for (char c : k) *data++ = c;
    *data++ = '\0';
    for (char c : v) *data++ = c;
    *data++ = '\0';
  }
}

template <class Pairs>
std::string encodePairs(const Pairs& pairs) {
  std::string out(encodedPairsSize(pairs), '\0');
  if (!out.empty()) encodePairsTo(pairs, out.data());
  return out;
}

// Decodes `buf` into `out` (a container with emplace_back(string_view, string_view) and clear()).
// The views point into `buf`. Returns false, with `out` cleared, when `buf` is malformed.
template <class Out>
bool decodePairs(std::string_view buf, Out& out) {
  out.clear();
  if (buf.empty()) return true;
  if (buf.size() < 4 || buf.size() > kMaxPairsBytes) return false;
  const uint64_t n = pairs_detail::loadU32(buf.data());
  if (n > kMaxPairs) return false;
  const uint64_t header = 4 + 8 * n;
  if (header > buf.size()) return false;
  uint64_t pos = header;
  for (uint64_t i = 0; i < n; ++i) {
    const char* lens = buf.data() + 4 + 8 * i;
    const uint64_t klen = pairs_detail::loadU32(lens), vlen = pairs_detail::loadU32(lens + 4);
    if (pos + klen + 1 + vlen + 1 > buf.size()) {
      out.clear();
      return false;
    }
    const uint64_t kpos = pos, vpos = pos + klen + 1;
    if (buf[kpos + klen] != '\0' || buf[vpos + vlen] != '\0') {
      out.clear();
      return false;
    }
    out.emplace_back(buf.substr(kpos, klen), buf.substr(vpos, vlen));
    pos = vpos + vlen + 1;
  }
  if (pos != buf.size()) {
    out.clear();
    return false;
  }
  return true;
}

}  // namespace proxy_wasm::abi
