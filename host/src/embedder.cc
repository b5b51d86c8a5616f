#include "proxy_wasm/host/embedder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace proxy_wasm::host {

void lowerAsciiInPlace(char* p, size_t n) {
  // Eight bytes at a time: a byte is upper case when its low seven bits are in 'A'..'Z' and its
  // top bit is clear. Each sum stays below 256, so no carry crosses into the next byte.
  constexpr uint64_t kOnes = 0x0101010101010101ull;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    const uint64_t low7 = w & (0x7F * kOnes);
    const uint64_t at_least_a = low7 + (0x80 - 'A') * kOnes;  // top bit: >= 'A'
    const uint64_t above_z = low7 + (0x7F - 'Z') * kOnes;     // top bit: > 'Z'
    const uint64_t upper = (at_least_a ^ above_z) & ~w & (0x80 * kOnes);
    w |= upper >> 2;  // 0x80 >> 2 is 0x20, the case bit, in the same byte
    std::memcpy(p + i, &w, 8);
  }
  for (; i < n; ++i) {
    if (p[i] >= 'A' && p[i] <= 'Z') p[i] = static_cast<char>(p[i] - 'A' + 'a');
  }
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  lowerAsciiInPlace(out.data(), out.size());
  return out;
}

namespace {
bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // keys are stored lower-cased and mostly asked for that way
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
}  // namespace

VectorHeaderMap::VectorHeaderMap(const Entries& entries) {
  entries_.reserve(entries.size());
  for (auto& [k, v] : entries) add(k, v);
}

std::optional<std::string_view> VectorHeaderMap::get(std::string_view key) const {
  for (auto& [k, v] : entries_) {
    if (equalsIgnoreCase(k, key)) return std::string_view(v);
  }
  return std::nullopt;
}

void VectorHeaderMap::add(std::string_view key, std::string_view value) {
  auto& e = entries_.emplace_back(std::piecewise_construct, std::forward_as_tuple(key),
                                  std::forward_as_tuple(value));
  lowerAsciiInPlace(e.first.data(), e.first.size());
}

void VectorHeaderMap::replace(std::string_view key, std::string_view value) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](auto& e) { return equalsIgnoreCase(e.first, key); });
  if (it == entries_.end()) {
    add(key, value);
    return;
  }
  it->second.assign(value);
  entries_.erase(std::remove_if(it + 1, entries_.end(),
                                [&](auto& e) { return equalsIgnoreCase(e.first, key); }),
                 entries_.end());
}

void VectorHeaderMap::remove(std::string_view key) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](auto& e) { return equalsIgnoreCase(e.first, key); }),
                 entries_.end());
}

void VectorHeaderMap::forEach(
    const std::function<void(std::string_view, std::string_view)>& f) const {
  for (auto& [k, v] : entries_) f(k, v);
}

size_t VectorHeaderMap::byteSize() const {
  size_t n = 0;
  for (auto& [k, v] : entries_) n += k.size() + v.size();
  return n;
}

}  // namespace proxy_wasm::host
