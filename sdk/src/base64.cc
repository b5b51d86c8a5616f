#include "proxy_wasm/sdk/base64.h"

#include <cstdint>

namespace proxy_wasm::base64 {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int8_t sextet(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<int8_t>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<int8_t>(c - 'a' + 26);
  if (c >= '0' && c <= '9') return static_cast<int8_t>(c - '0' + 52);
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string encode(std::string_view input) {
  std::string out;
  out.reserve((input.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= input.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<uint8_t>(input[i])} << 16) |
                 (uint32_t{static_cast<uint8_t>(input[i + 1])} << 8) |
                 uint32_t{static_cast<uint8_t>(input[i + 2])};
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = input.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(input[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(input[i + 1])} << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> decode(std::string_view input) {
  if (input.size() % 4 == 0 && !input.empty()) {
    // Padded form: strip up to two '=' at the end only.
    size_t pad = 0;
    while (pad < 2 && input[input.size() - 1 - pad] == '=') ++pad;
    input.remove_suffix(pad);
  }
  if (input.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(input.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : input) {
    int8_t s = sextet(c);
    if (s < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(s);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero (canonical encoding).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace proxy_wasm::base64
