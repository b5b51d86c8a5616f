// A verified token's claims, looked up by dotted path ("plan.tier"), from either source
// jwt_routing reads: the payload JSON it verified itself, or the payload jwt_authn left in dynamic
// metadata, which a host hands over in CEL's encoding (an object as pairs, a list as pairs whose
// keys are the elements, a string raw, a number as an 8-byte double, a bool as one byte).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_wasm/sdk/json.h"

namespace jwt_routing {

class Claims {
 public:
  virtual ~Claims() = default;
  // The claim's values: one for a scalar, the elements for a list, the space-separated items for
  // `scope`/`scp` strings (OAuth 2.0 scopes). nullopt when absent or an object.
  virtual std::optional<std::vector<std::string>> values(std::string_view path) const = 0;
  // As a header value: a list joined with ",", a scope string as is.
  std::optional<std::string> headerValue(std::string_view path) const;
};

class JsonClaims final : public Claims {
 public:
  explicit JsonClaims(const nlohmann::json& payload) : payload_(payload) {}
  std::optional<std::vector<std::string>> values(std::string_view path) const override;

 private:
  const nlohmann::json& payload_;
};

class MetadataClaims final : public Claims {
 public:
  // `encoded`: the payload property's bytes (a pairs-encoded map).
  explicit MetadataClaims(std::string encoded) : encoded_(std::move(encoded)) {}
  std::optional<std::vector<std::string>> values(std::string_view path) const override;

 private:
  std::string encoded_;
};

// Splits OAuth scope strings.
bool isScopeClaim(std::string_view path);

}  // namespace jwt_routing
