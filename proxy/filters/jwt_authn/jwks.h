// A JSON Web Key Set (RFC 7517) as verification keys, and the signature check of a JWT against
// them (RFC 7518), with OpenSSL.
//
// The algorithm comes from the key, not from the token: a key of type RSA verifies RS*/PS*, an EC
// key only the ES* of its curve, an OKP key EdDSA, an "oct" key HS*; a JWK that names its `alg`
// verifies only that one. Keys whose `use` is not "sig", RSA keys with an exponent other than 3 or
// 65537 and EC points off their curve are dropped when the set is read.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jwt/jwk.h"
#include "jwt/jwt.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace wasm_proxy::jwt_authn {

using namespace pwx::jwt;

struct Jwk : JwkBase {
  std::shared_ptr<EVP_PKEY> key;  // public key (not for oct)
  std::string secret;             // oct
};

class Jwks {
 public:
  // Parses a JWKS document ({"keys": [...]}) or a single JWK. Keys that cannot be used are
  // skipped (reason in `skipped`); an error when the text is not a key set at all.
  static std::shared_ptr<const Jwks> parse(std::string_view text, std::string* error,
                                           std::vector<std::string>* skipped = nullptr);
  const std::vector<Jwk>& keys() const { return keys_; }
  // Ok when a key that matches the token's kid (both set) and allows its alg verifies it;
  // JwksKidAlgMismatch when no key is eligible; JwtVerificationFail when none verifies.
  Status verify(const Jwt& jwt) const;
  bool hasKid(std::string_view kid) const;

 private:
  std::vector<Jwk> keys_;
};

// The signature check for one key (exposed for tests).
bool verifySignature(const Jwk& key, std::string_view alg, std::string_view signed_part,
                     std::string_view signature);

}  // namespace wasm_proxy::jwt_authn
