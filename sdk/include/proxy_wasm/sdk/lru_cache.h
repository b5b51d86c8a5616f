// A map from strings to values that keeps at most `capacity` entries and, when full, evicts the
// least recently used one. find() counts as a use. Capacity 0 keeps nothing. One per VM, like
// everything in a plugin (no locking).
#pragma once

#include <list>
#include <string>
#include <unordered_map>
#include <utility>

namespace proxy_wasm {

template <class V>
class LruCache {
 public:
  explicit LruCache(size_t capacity = 0) : capacity_(capacity) {}

  // Empties the cache and sets its capacity.
  void reset(size_t capacity) {
    capacity_ = capacity;
    order_.clear();
    index_.clear();
  }
  // The value of `key`, now the most recently used, or nullptr.
  V* find(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  // Sets the value of `key`, which becomes the most recently used.
  void insert(const std::string& key, V value) {
    if (capacity_ == 0) return;
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      order_.splice(order_.begin(), order_, it->second);
      return;
    }
    if (order_.size() >= capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    order_.emplace_front(key, std::move(value));
    index_.emplace(key, order_.begin());
  }
  void erase(const std::string& key) {
    if (auto it = index_.find(key); it != index_.end()) {
      order_.erase(it->second);
      index_.erase(it);
    }
  }
  size_t size() const { return order_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<std::string, V>;
  size_t capacity_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

}  // namespace proxy_wasm
