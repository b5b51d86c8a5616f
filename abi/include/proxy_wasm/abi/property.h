// Property paths and property values on the wire (proxy_get_property / proxy_set_property).
//
// A path is its segments joined by NUL. Some SDKs add a trailing NUL, others do not; a reader must
// accept both, so splitPropertyPath drops one trailing empty segment. Values: strings raw, integers
// and timestamps as 8-byte little-endian, bools as one byte, maps as pairs (see pairs.h).
//
// Header-only, C++17, no exceptions.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace proxy_wasm::abi {

inline std::string encodePropertyPath(std::initializer_list<std::string_view> segments) {
  std::string path;
  bool first = true;
  for (std::string_view s : segments) {
    if (!first) path.push_back('\0');
    path.append(s.data(), s.size());
    first = false;
  }
  return path;
}

// Calls visit(segment) for each segment of `path`; ignores one trailing NUL.
template <class Visit>
void splitPropertyPath(std::string_view path, Visit&& visit) {
  if (!path.empty() && path.back() == '\0') path.remove_suffix(1);
  size_t start = 0;
  for (;;) {
    size_t end = path.find('\0', start);
    if (end == std::string_view::npos) {
      visit(path.substr(start));
      return;
    }
    visit(path.substr(start, end - start));
    start = end + 1;
  }
}

inline std::string encodeInt64(int64_t v) {
  std::string out(8, '\0');
  auto u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  return out;
}

inline std::optional<int64_t> decodeInt64(std::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u |= uint64_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  return static_cast<int64_t>(u);
}

inline std::optional<double> decodeDouble(std::string_view bytes) {
  auto bits = decodeInt64(bytes);
  if (!bits) return std::nullopt;
  double d;
  std::memcpy(&d, &*bits, sizeof d);
  return d;
}

inline std::string encodeDouble(double d) {
  int64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  return encodeInt64(bits);
}

inline std::string encodeBool(bool b) {
  return std::string(1, b ? '\1' : '\0');
}

inline std::optional<bool> decodeBool(std::string_view bytes) {
  if (bytes.size() != 1) return std::nullopt;
  return bytes[0] != 0;
}

}  // namespace proxy_wasm::abi
