#include "proxy_wasm/host/embedder.h"

#include <algorithm>

namespace proxy_wasm::host {

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
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
  for (char& c : e.first) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
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
