// How a request's bucket key is made: its parts read from the request, joined and bounded.
#include "keys.h"
#include "proxy_wasm/sdk/strings.h"

using namespace proxy_wasm;

namespace local_rate_limit {

namespace {

std::optional<std::string> header(std::string_view name) {
  auto v = getHeaderMapValue(MapType::HttpRequestHeaders, name);
  if (!v) return std::nullopt;
  return v->toString();
}

// Keys are client-controlled (headers, query parameters): one longer than kMaxKeyBytes is kept as
// its first bytes and a 64-bit FNV-1a hash of the whole, so that a bucket's name costs at most
// ~100 bytes of shared memory whatever a client sends.
constexpr size_t kMaxKeyBytes = 64;

std::string boundedKey(std::string key) {
  if (key.size() <= kMaxKeyBytes) return key;
  const uint64_t h = fnv1a(key);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = key.substr(0, kMaxKeyBytes - 18);
  out += "#";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(h >> shift) & 0xf];
  return out;
}

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookieValue(std::string_view header, std::string_view name) {
  size_t start = 0;
  while (start < header.size()) {
    size_t end = header.find(';', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(start, end - start);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
    start = end + 1;
  }
  return "";
}

// The network of `address` (no port): the first v4_prefix / v6_prefix bits kept, the rest zero,
// written as "<network>/<bits>". An address that does not parse is returned as it is.
std::string maskAddress(std::string_view address, int v4_prefix, int v6_prefix) {
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  uint8_t bytes[16] = {};
  int size = 0;
  if (address.find(':') == std::string_view::npos) {  // IPv4: a.b.c.d
    size = 4;
    size_t at = 0;
    for (int i = 0; i < 4; ++i) {
      size_t end = i < 3 ? address.find('.', at) : address.size();
      if (end == std::string_view::npos || end == at || end - at > 3) return std::string(address);
      int v = 0;
      for (char c : address.substr(at, end - at)) {
        if (c < '0' || c > '9') return std::string(address);
        v = v * 10 + (c - '0');
      }
      if (v > 255) return std::string(address);
      bytes[i] = static_cast<uint8_t>(v);
      at = end + 1;
    }
  } else {  // IPv6: groups, at most one "::"
    size = 16;
    std::vector<uint16_t> head, tail;
    std::vector<uint16_t>* groups = &head;
    size_t at = 0;
    bool gap = false;
    while (at <= address.size()) {
      if (address.substr(at, 2) == "::") {
        if (gap) return std::string(address);
        gap = true;
        groups = &tail;
        at += 2;
        if (at >= address.size()) break;
        continue;
      }
      size_t end = address.find(':', at);
      if (end == std::string_view::npos) end = address.size();
      std::string_view g = address.substr(at, end - at);
      if (g.empty() || g.size() > 4) return std::string(address);
      uint16_t v = 0;
      for (char c : g) {
        const int d = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                             : -1;
        if (d < 0) return std::string(address);
        v = static_cast<uint16_t>(v * 16 + d);
      }
      groups->push_back(v);
      if (end == address.size()) break;
      at = end + (address.substr(end, 2) == "::" ? 0 : 1);
    }
    if (head.size() + tail.size() > 8 || (!gap && head.size() != 8)) return std::string(address);
    for (size_t i = 0; i < head.size(); ++i) {
      bytes[2 * i] = static_cast<uint8_t>(head[i] >> 8);
      bytes[2 * i + 1] = static_cast<uint8_t>(head[i]);
    }
    for (size_t i = 0; i < tail.size(); ++i) {
      const size_t j = 8 - tail.size() + i;
      bytes[2 * j] = static_cast<uint8_t>(tail[i] >> 8);
      bytes[2 * j + 1] = static_cast<uint8_t>(tail[i]);
    }
  }
  const int prefix = size == 4 ? v4_prefix : v6_prefix;
  for (int bit = prefix; bit < size * 8; ++bit)
    bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  std::string out;
  if (size == 4) {
    for (int i = 0; i < 4; ++i) out += (i ? "." : "") + std::to_string(bytes[i]);
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i += 2) {
      if (i) out += ':';
      const unsigned v = (bytes[i] << 8) | bytes[i + 1];
      for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(v >> shift) & 15]);
    }
  }
  return out + "/" + std::to_string(prefix);
}

}  // namespace

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string requestKey(const std::vector<KeyPart>& parts) {
  std::string k;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) k += '|';
    const KeyPart& p = parts[i];
    switch (p.kind) {
      case KeyPart::Kind::Header:
        k += header(p.name).value_or("");
        break;
      case KeyPart::Kind::SourceAddress:
        k += proxy_wasm::strings::stripPort(getPropertyString({"source", "address"}).value_or(""));
        break;
      case KeyPart::Kind::MaskedAddress:
        k += maskAddress(
            proxy_wasm::strings::stripPort(getPropertyString({"source", "address"}).value_or("")),
            p.v4_prefix, p.v6_prefix);
        break;
      case KeyPart::Kind::Cookie:
        k += cookieValue(header("cookie").value_or(""), p.name);
        break;
      case KeyPart::Kind::Connection:  // its id, 8 bytes
        k += getPropertyString({"connection", "id"}).value_or("");
        break;
      case KeyPart::Kind::XffHop: {
        std::string xff = header("x-forwarded-for").value_or("");
        std::vector<std::string> hops;
        size_t start = 0;
        while (start <= xff.size()) {
          size_t end = xff.find(',', start);
          if (end == std::string::npos) end = xff.size();
          std::string hop = xff.substr(start, end - start);
          while (!hop.empty() && hop.front() == ' ') hop.erase(hop.begin());
          while (!hop.empty() && hop.back() == ' ') hop.pop_back();
          if (!hop.empty()) hops.push_back(hop);
          start = end + 1;
        }
        if (static_cast<int64_t>(hops.size()) >= p.hop) k += hops[hops.size() - p.hop];
        break;
      }
      case KeyPart::Kind::Path: {
        std::string path = header(":path").value_or("");
        k += path.substr(0, path.find('?'));
        break;
      }
      case KeyPart::Kind::QueryParam: {
        std::string path = header(":path").value_or("");
        size_t q = path.find('?');
        std::string query = q == std::string::npos ? "" : path.substr(q + 1);
        size_t start = 0;
        while (start < query.size()) {
          size_t end = query.find('&', start);
          if (end == std::string::npos) end = query.size();
          std::string pair = query.substr(start, end - start);
          size_t eq = pair.find('=');
          if (pair.substr(0, eq) == p.name) {
            k += eq == std::string::npos ? "" : pair.substr(eq + 1);
            break;
          }
          start = end + 1;
        }
        break;
      }
    }
  }
  return boundedKey(std::move(k));
}
}  // namespace local_rate_limit
