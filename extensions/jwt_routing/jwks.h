// JSON Web Key Sets (RFC 7517) and JWS signature checks (RFC 7518) inside the plugin, with nettle
// compiled to wasm (RSA PKCS#1 v1.5 and PSS, ECDSA P-256/P-384, Ed25519, HMAC). The same rules
// as wasm-proxy's jwt_authn: the algorithm comes from the key (an RSA key verifies RS*/PS*, an EC
// key the ES* of its curve, OKP EdDSA, oct HS*), a JWK's `alg` must match, keys whose `use` is
// not "sig", RSA exponents other than 3 or 65537 and EC points off their curve are dropped.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "jwt/jwk.h"
#include "jwt/jwt.h"

namespace jwt_routing {

using pwx::jwt::Jwt;
using pwx::jwt::Status;

struct Jwk : pwx::jwt::JwkBase {
  std::string n, e;    // RSA, big-endian bytes
  std::string x, y;    // EC coordinates / Ed25519 public key
  std::string secret;  // oct
};

class Jwks {
 public:
  // A JWKS document ({"keys": [...]}) or one JWK; unusable keys are skipped (the reasons in
  // `skipped`). nullptr with `error` when the text is not a key set.
  static std::shared_ptr<const Jwks> parse(std::string_view text, std::string* error,
                                           std::vector<std::string>* skipped = nullptr);
  const std::vector<Jwk>& keys() const { return keys_; }
  bool hasKid(std::string_view kid) const;
  // Ok, JwtVerificationFail (an eligible key, no valid signature) or JwksKidAlgMismatch.
  Status verify(const Jwt& jwt) const;

 private:
  std::vector<Jwk> keys_;
};

bool verifySignature(const Jwk& key, std::string_view alg, std::string_view signed_part,
                     std::string_view signature);

}  // namespace jwt_routing
