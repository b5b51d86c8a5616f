#include "filters/jwt_authn/jwt_authn_filter.h"
#include "filters/native_filter.h"

namespace wasm_proxy {

namespace {

constexpr NativeFilterType kTypes[] = {
    {"envoy.filters.http.jwt_authn", "jwt_authn.v3.JwtAuthentication", jwt_authn::parseFilter},
};

}  // namespace

const NativeFilterType* findNativeFilter(std::string_view name, std::string_view type_url) {
  for (const auto& t : kTypes) {
    if (name == t.name) return &t;
    if (type_url.size() >= t.type_suffix.size() &&
        type_url.substr(type_url.size() - t.type_suffix.size()) == t.type_suffix) {
      return &t;
    }
  }
  return nullptr;
}

std::string nativeFilterNames() {
  std::string out;
  for (const auto& t : kTypes) out.append(out.empty() ? "" : ", ").append(t.name);
  return out;
}

}  // namespace wasm_proxy
