// ASCII string helpers the extensions share. HTTP header names, hosts and auth schemes compare
// without regard to ASCII case (RFC 9110); nothing here is locale-dependent, and bytes outside
// ASCII are left as they are.
#pragma once

#include <string>
#include <string_view>

namespace proxy_wasm::strings {

constexpr char lowerAscii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline void lowerAsciiInPlace(std::string& s) {
  for (char& c : s) c = lowerAscii(c);
}

inline std::string lowerAscii(std::string_view s) {
  std::string out(s);
  lowerAsciiInPlace(out);
  return out;
}

constexpr bool equalsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

constexpr bool startsWithIgnoreCaseAscii(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && equalsIgnoreCaseAscii(s.substr(0, prefix.size()), prefix);
}

// A host or address without its port: the text before the last ':' unless that ':' is inside an
// IPv6 literal ("[::1]:80" -> "[::1]", "[::1]" stays). A value without a port is returned whole.
constexpr std::string_view stripPort(std::string_view host) {
  const size_t colon = host.rfind(':');
  const size_t bracket = host.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || bracket < colon)) {
    return host.substr(0, colon);
  }
  return host;
}

}  // namespace proxy_wasm::strings
