// IdTable: a map from context id to the context, for either side of the ABI: the SDK looks a
// context up on every callback, the host on every callback and hostcall.
//
// Open addressing with linear probing over a power-of-two array, at most half full; the slot is
// chosen by Fibonacci hashing (one multiply: the host's ids are sequential, so they spread evenly,
// and ids with a common stride do too). Erasing shifts the following entries back (no tombstones),
// so a lookup stops at the first empty slot. Unlike std::unordered_map, a new id costs no
// allocation once the array has grown to the peak number of live contexts; the array shrinks
// again when it falls below an eighth full, but never below kShrinkFloorBits: a small table keeps
// its size, so a live count that swings between a few and a few dozen (streams in flight on a
// busy worker) never rehashes, while the array of a burst of thousands is given back.
//
// Invariant: a pointer returned by find() or insert() stays valid until the next insert() or
// take(): both may move entries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace proxy_wasm::abi {

template <class T>
class IdTable {
 public:
  T* find(uint32_t id) { return const_cast<T*>(std::as_const(*this).find(id)); }
  const T* find(uint32_t id) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = home(id);; i = next(i)) {
      const Slot& s = slots_[i];
      if (!s.value) return nullptr;
      if (s.id == id) return &*s.value;
    }
  }

  // Adds `value` under `id`, which must not be present.
  T& insert(uint32_t id, T value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    size_t i = home(id);
    while (slots_[i].value) i = next(i);
    slots_[i].id = id;
    slots_[i].value.emplace(std::move(value));
    ++size_;
    return *slots_[i].value;
  }

  // Removes `id` and hands its value back, so that the value is destroyed (and whatever its
  // destructor does runs) only once the table is consistent again.
  std::optional<T> take(uint32_t id) {
    if (slots_.empty()) return std::nullopt;
    size_t hole = home(id);
    while (slots_[hole].value && slots_[hole].id != id) hole = next(hole);
    if (!slots_[hole].value) return std::nullopt;
    std::optional<T> out = std::move(slots_[hole].value);
    slots_[hole].value.reset();
    --size_;
    // Backward shift: an entry after the hole moves into it unless its home lies cyclically in
    // (hole, j], where a lookup for it would still reach it without crossing the hole.
    for (size_t j = next(hole); slots_[j].value; j = next(j)) {
      const size_t h = home(slots_[j].id);
      const bool reachable = hole < j ? (hole < h && h <= j) : (hole < h || h <= j);
      if (reachable) continue;
      slots_[hole].id = slots_[j].id;
      slots_[hole].value = std::move(slots_[j].value);
      slots_[j].value.reset();
      hole = j;
    }
    if (bits_ > kShrinkFloorBits && size_ * 8 < slots_.size()) rehash(bits_ - 1);
    return out;
  }

  // f(id, T&) for every entry, in no particular order; f must not insert or take.
  template <class F>
  void forEach(F&& f) {
    for (Slot& s : slots_) {
      if (s.value) f(s.id, *s.value);
    }
  }
  template <class F>
  void forEach(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.value) f(s.id, *s.value);
    }
  }

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }

 private:
  struct Slot {
    uint32_t id = 0;
    std::optional<T> value;
  };
  static constexpr uint32_t kMinBits = 4;
  static constexpr uint32_t kShrinkFloorBits = 8;  // 256 slots

  size_t home(uint32_t id) const { return (id * 0x9E3779B9u) >> (32 - bits_); }
  size_t next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  void grow() { rehash(slots_.empty() ? kMinBits : bits_ + 1); }

  // After a halving the table is under a quarter full, so it does not grow back at once.
  void rehash(uint32_t bits) {
    std::vector<Slot> old = std::move(slots_);
    bits_ = bits;
    slots_ = std::vector<Slot>(size_t{1} << bits_);
    size_ = 0;
    for (Slot& s : old) {
      if (s.value) insert(s.id, std::move(*s.value));
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  uint32_t bits_ = 0;
};

}  // namespace proxy_wasm::abi
