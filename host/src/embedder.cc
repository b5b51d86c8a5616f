#include "proxy_wasm/host/embedder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace proxy_wasm::host {

namespace {
// The word at p, lower-cased: a byte is upper case when its low seven bits are in 'A'..'Z' and its
// top bit is clear. Each per-byte sum stays below 256, so no carry crosses into the next byte.
template <class Word>
inline Word loweredWordAt(const char* p) {
  constexpr Word kOnes = static_cast<Word>(0x0101010101010101ull);
  Word w;
  std::memcpy(&w, p, sizeof w);
  const Word low7 = w & (0x7F * kOnes);
  const Word at_least_a = low7 + (0x80 - 'A') * kOnes;  // top bit: >= 'A'
  const Word above_z = low7 + (0x7F - 'Z') * kOnes;     // top bit: > 'Z'
  const Word upper = (at_least_a ^ above_z) & ~w & (0x80 * kOnes);
  return w | (upper >> 2);  // 0x80 >> 2 is 0x20, the case bit, in the same byte
}
template <class Word>
inline void storeWord(char* p, Word w) {
  std::memcpy(p, &w, sizeof w);
}

// Writes the lower-cased src[0, n) over dst, which already holds a copy of it, a word at a time.
// The words are read from src: reading them back from dst would stall on the stores just made.
// A tail is written as the last word, overlapping what is already written.
void writeLowered(const char* src, char* dst, size_t n) {
  if (n >= 8) {
    for (size_t i = 0; i + 8 <= n; i += 8) storeWord(dst + i, loweredWordAt<uint64_t>(src + i));
    storeWord(dst + n - 8, loweredWordAt<uint64_t>(src + n - 8));
  } else if (n >= 4) {
    storeWord(dst, loweredWordAt<uint32_t>(src));
    storeWord(dst + n - 4, loweredWordAt<uint32_t>(src + n - 4));
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (src[i] >= 'A' && src[i] <= 'Z') dst[i] = static_cast<char>(src[i] - 'A' + 'a');
    }
  }
}
}  // namespace

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  writeLowered(s.data(), out.data(), s.size());
  return out;
}

bool equalsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a == b) return true;  // header keys are stored lower-cased and mostly asked for that way
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

VectorHeaderMap::VectorHeaderMap(const Entries& entries) {
  entries_.reserve(entries.size());
  for (auto& [k, v] : entries) add(k, v);
}

std::optional<std::string_view> VectorHeaderMap::get(std::string_view key) const {
  for (auto& [k, v] : entries_) {
    if (equalsIgnoreCaseAscii(k, key)) return std::string_view(v);
  }
  return std::nullopt;
}

void VectorHeaderMap::add(std::string_view key, std::string_view value) {
  auto& e = entries_.emplace_back(std::piecewise_construct, std::forward_as_tuple(key),
                                  std::forward_as_tuple(value));
  writeLowered(key.data(), e.first.data(), key.size());
}

void VectorHeaderMap::replace(std::string_view key, std::string_view value) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](auto& e) { return equalsIgnoreCaseAscii(e.first, key); });
  if (it == entries_.end()) {
    add(key, value);
    return;
  }
  it->second.assign(value);
  entries_.erase(std::remove_if(it + 1, entries_.end(),
                                [&](auto& e) { return equalsIgnoreCaseAscii(e.first, key); }),
                 entries_.end());
}

void VectorHeaderMap::remove(std::string_view key) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](auto& e) { return equalsIgnoreCaseAscii(e.first, key); }),
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
