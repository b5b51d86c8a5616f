// A JSON Web Token as read off a request (RFC 7519): its three base64url sections decoded, the
// header and payload parsed, and the checks that need no key (format, algorithm, time,
// audience). Statuses and their texts are Envoy's (jwt_verify_lib), which clients see as the
// body of a 401/403.
//
// Shared by wasm-proxy's native jwt_authn filter and the jwt_routing plugin (compiled to wasm,
// where nlohmann::json runs without exceptions: only non-throwing calls are used here).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pwx::jwt {

enum class Status {
  Ok,
  JwtMissed,
  JwtBadFormat,
  JwtHeaderParseError,
  JwtHeaderBadAlg,
  JwtPayloadParseError,
  JwtSignatureParseError,
  JwtExpired,
  JwtNotYetValid,
  JwtMissingExpiration,
  JwtUnknownIssuer,
  JwtAudienceNotAllowed,
  JwtVerificationFail,
  JwtTooLarge,
  JwksKidAlgMismatch,
  JwksFetchFail,
  JwksNoValidKeys,
};
std::string_view statusText(Status s);

// Base64url without padding (as JWTs use; trailing '=' tolerated). nullopt on a bad character.
std::optional<std::string> base64UrlDecode(std::string_view in);
std::string base64UrlEncode(std::string_view in);

struct Jwt {
  std::string alg;
  std::string kid;
  std::string header_json, payload_json;  // decoded
  nlohmann::json payload;                 // an object
  std::string signed_part;                // "header.payload" as sent
  std::string signature;                  // decoded
  std::string iss, sub;
  std::vector<std::string> audiences;
  std::optional<int64_t> exp, nbf;
};

// Splits, decodes and parses `token`; checks the header names a supported algorithm ("none" is
// not one) and that the registered claims have their types.
Status parseJwt(std::string_view token, Jwt* out);

// The algorithms a verifier accepts (RFC 7518 names).
bool isSupportedAlg(std::string_view alg);

// exp/nbf against `now` (seconds since the epoch) with `skew` seconds of leeway either way.
Status checkTime(const Jwt& jwt, int64_t now, int64_t skew, bool require_expiration);
// Any of the token's audiences in `allowed` (nothing configured: any audience).
bool audienceAllowed(const Jwt& jwt, const std::vector<std::string>& allowed);

// Where tokens are carried (RFC 6750 and Envoy's jwt_authn locations).
// The token after `prefix` in a header value, up to the next ',' or whitespace; "" when the
// value does not start with the prefix (compared without case when `ignore_case`).
std::string tokenAfter(std::string_view value, std::string_view prefix, bool ignore_case);
// The value of query parameter `name` in a request path, or "".
std::string queryParam(std::string_view path, std::string_view name);
// `path` without any occurrence of query parameter `name`.
std::string withoutParam(std::string_view path, std::string_view name);

}  // namespace pwx::jwt
