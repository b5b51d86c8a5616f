// A value or an error, for an SDK that is built without exceptions. Small on purpose: ok(),
// error(), value(), operator*, operator->, value_or(). Accessing the wrong alternative traps (the
// plugin's equivalent of an assertion) rather than reading garbage.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

namespace proxy_wasm {

template <class E>
struct Unexpected {
  E error;
};
template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return {std::forward<E>(e)};
}

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  template <class G>
  Expected(Unexpected<G> e) : v_(std::in_place_index<1>, E(std::move(e.error))) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return *check(std::get_if<0>(&v_)); }
  const T& value() const& { return *check(std::get_if<0>(&v_)); }
  T&& value() && { return std::move(*check(std::get_if<0>(&v_))); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const& { return *check(std::get_if<1>(&v_)); }
  E&& error() && { return std::move(*check(std::get_if<1>(&v_))); }

  template <class U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U>
  T value_or(U&& fallback) && {
    return ok() ? std::move(*this).value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  template <class P>
  static P* check(P* p) {
    if (p == nullptr) __builtin_trap();
    return p;
  }
  std::variant<T, E> v_;
};

}  // namespace proxy_wasm
