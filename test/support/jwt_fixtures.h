// JWT fixtures made at test time with OpenSSL: a key of each kind JWS uses (RSA, EC P-256/384,
// Ed25519, HMAC secret), its public JWK, and tokens signed with it. Nothing is checked in, so no
// fixture expires or leaks a key.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace pwx_test {

class JwtKey {
 public:
  // alg: RS256/384/512, PS256, ES256, ES384, EdDSA or HS256; the key type follows from it.
  JwtKey(std::string alg, std::string kid);
  ~JwtKey();
  JwtKey(JwtKey&&) noexcept;
  const std::string& alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  // The public JWK (HS: the secret, as an "oct" key), as JSON.
  std::string jwk() const;
  // {"keys":[jwk]}
  std::string jwks() const;
  // A token with header {"alg", "kid" (when set), "typ":"JWT"} and `payload_json`, signed.
  std::string sign(const std::string& payload_json) const;
  // The same with any header (e.g. {"alg":"none"}): signed with this key over what is given.
  std::string signWithHeader(const std::string& header_json, const std::string& payload_json) const;

 private:
  struct Impl;
  std::string alg_, kid_;
  std::unique_ptr<Impl> impl_;
};

std::string base64Url(std::string_view bytes);
// Seconds since the epoch, now.
long long nowSeconds();
// {"iss": iss, "sub": sub, "aud": aud, "exp": now + ttl, ...extra} (extra: JSON members or "").
std::string claims(const std::string& iss, const std::string& sub, const std::string& aud,
                   long long ttl_seconds = 3600, const std::string& extra = "");

}  // namespace pwx_test
