// The parts of a JSON Web Key Set (RFC 7517) that do not depend on the crypto library holding the
// keys: reading a set's entries, a key's type, kid, alg, curve and use, which algorithms a key
// may verify (RFC 8725: the algorithm comes from the key), and the loop that tries a token
// against the eligible keys. wasm-proxy's jwt_authn (OpenSSL) and jwt_routing (nettle in wasm)
// each add their key material and signature check.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "jwt/jwt.h"

namespace pwx::jwt {

struct JwkBase {
  enum class Type { Rsa, Ec, Okp, Oct } type = Type::Rsa;
  std::string kid;
  std::string alg;    // "" when the JWK does not name one
  std::string curve;  // EC: "P-256" / "P-384" / "P-521"; OKP: "Ed25519"
  // A key of type RSA verifies RS*/PS*, EC the ES* of its curve, OKP EdDSA, oct HS*; a JWK that
  // names its alg verifies only that one.
  bool allows(std::string_view alg) const;
};

// Reads kty, kid, alg, crv and use into `key`; "" when usable so far, else why not (use other
// than "sig", an unknown alg or kty).
std::string readJwkHeader(const nlohmann::json& j, JwkBase* key);

// The key objects of a JWKS document ({"keys": [...]}) or of a single JWK, parsed into `doc`;
// false with `error` when the text is neither.
bool jwkEntries(std::string_view text, nlohmann::json* doc,
                std::vector<const nlohmann::json*>* entries, std::string* error);

// A base64url member of a JWK, decoded; nullopt when absent or not base64url.
std::optional<std::string> jwkBytes(const nlohmann::json& j, const char* key);

template <class Key>
bool hasKid(const std::vector<Key>& keys, std::string_view kid) {
  for (const auto& k : keys) {
    if (k.kid == kid) return true;
  }
  return false;
}

// Ok when a key that matches the token's kid (when both have one) and allows its alg verifies
// it (`verify(key)`); JwksKidAlgMismatch when no key is eligible; JwtVerificationFail when none
// verifies; JwksNoValidKeys for an empty set.
template <class Key, class Verify>
Status verifyWithKeys(const std::vector<Key>& keys, const Jwt& jwt, Verify&& verify) {
  bool eligible = false;
  for (const auto& k : keys) {
    if (!jwt.kid.empty() && !k.kid.empty() && k.kid != jwt.kid) continue;
    if (!k.allows(jwt.alg)) continue;
    eligible = true;
    if (verify(k)) return Status::Ok;
  }
  if (keys.empty()) return Status::JwksNoValidKeys;
  return eligible ? Status::JwtVerificationFail : Status::JwksKidAlgMismatch;
}

}  // namespace pwx::jwt
