#include "jwks.h"

#include <nettle/bignum.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <nettle/eddsa.h>
#include <nettle/hmac.h>
#include <nettle/memops.h>
#include <nettle/rsa.h>
#include <nettle/sha2.h>

#include "proxy_wasm/sdk/json.h"

namespace jwt_routing {

namespace {

using Json = nlohmann::json;
using pwx::jwt::base64UrlDecode;

// An mpz_t that clears itself.
struct Mpz {
  mpz_t v;
  Mpz() { mpz_init(v); }
  explicit Mpz(std::string_view bytes) {
    mpz_init(v);
    nettle_mpz_set_str_256_u(v, bytes.size(), reinterpret_cast<const uint8_t*>(bytes.data()));
  }
  ~Mpz() { mpz_clear(v); }
  Mpz(const Mpz&) = delete;
  Mpz& operator=(const Mpz&) = delete;
};

const uint8_t* u8(std::string_view s) {
  return reinterpret_cast<const uint8_t*>(s.data());
}

// The digest of `data` for the SHA-2 size in `alg` ("..256", "..384", "..512").
std::string sha2(std::string_view alg, std::string_view data) {
  const std::string_view bits = alg.substr(alg.size() - 3);
  std::string out;
  if (bits == "256") {
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data.size(), u8(data));
    out.resize(SHA256_DIGEST_SIZE);
    sha256_digest(&c, out.size(), reinterpret_cast<uint8_t*>(out.data()));
  } else if (bits == "384") {
    sha384_ctx c;
    sha384_init(&c);
    sha384_update(&c, data.size(), u8(data));
    out.resize(SHA384_DIGEST_SIZE);
    sha384_digest(&c, out.size(), reinterpret_cast<uint8_t*>(out.data()));
  } else {
    sha512_ctx c;
    sha512_init(&c);
    sha512_update(&c, data.size(), u8(data));
    out.resize(SHA512_DIGEST_SIZE);
    sha512_digest(&c, out.size(), reinterpret_cast<uint8_t*>(out.data()));
  }
  return out;
}

// PKCS#1 v1.5 DigestInfo prefixes (RFC 8017, 9.2 note 1).
std::string_view digestInfoPrefix(std::string_view alg) {
  const std::string_view bits = alg.substr(2);
  if (bits == "256") {
    return {"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20", 19};
  }
  if (bits == "384") {
    return {"\x30\x41\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x02\x05\x00\x04\x30", 19};
  }
  return {"\x30\x51\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x03\x05\x00\x04\x40", 19};
}

bool verifyRsa(const Jwk& k, std::string_view alg, std::string_view data, std::string_view sig) {
  rsa_public_key pub;
  rsa_public_key_init(&pub);
  nettle_mpz_set_str_256_u(pub.n, k.n.size(), u8(k.n));
  nettle_mpz_set_str_256_u(pub.e, k.e.size(), u8(k.e));
  bool ok = rsa_public_key_prepare(&pub) == 1 && sig.size() == pub.size;
  if (ok) {
    Mpz s(sig);
    const std::string digest = sha2(alg, data);
    if (alg[0] == 'P') {
      const uint8_t* d = u8(digest);
      ok = digest.size() == 32   ? rsa_pss_sha256_verify_digest(&pub, 32, d, s.v) == 1
           : digest.size() == 48 ? rsa_pss_sha384_verify_digest(&pub, 48, d, s.v) == 1
                                 : rsa_pss_sha512_verify_digest(&pub, 64, d, s.v) == 1;
    } else {
      const std::string info = std::string(digestInfoPrefix(alg)) + digest;
      ok = rsa_pkcs1_verify(&pub, info.size(), u8(info), s.v) == 1;
    }
  }
  rsa_public_key_clear(&pub);
  return ok;
}

const ecc_curve* curveOf(std::string_view name) {
  if (name == "P-256") return nettle_get_secp_256r1();
  if (name == "P-384") return nettle_get_secp_384r1();
  return nullptr;
}

bool verifyEc(const Jwk& k, std::string_view alg, std::string_view data, std::string_view sig) {
  const size_t half = k.x.size();
  if (sig.size() != 2 * half) return false;
  ecc_point pub;
  ecc_point_init(&pub, curveOf(k.curve));
  Mpz x(k.x), y(k.y);
  bool ok = ecc_point_set(&pub, x.v, y.v) == 1;
  if (ok) {
    dsa_signature rs;
    mpz_init(rs.r);
    mpz_init(rs.s);
    nettle_mpz_set_str_256_u(rs.r, half, u8(sig));
    nettle_mpz_set_str_256_u(rs.s, half, u8(sig.substr(half)));
    const std::string digest = sha2(alg, data);
    ok = mpz_sgn(rs.r) > 0 && mpz_sgn(rs.s) > 0 &&
         ecdsa_verify(&pub, digest.size(), u8(digest), &rs) == 1;
    mpz_clear(rs.r);
    mpz_clear(rs.s);
  }
  ecc_point_clear(&pub);
  return ok;
}

bool verifyHmac(const Jwk& k, std::string_view alg, std::string_view data, std::string_view sig) {
  std::string mac;
  const std::string_view bits = alg.substr(2);
  if (bits == "256") {
    hmac_sha256_ctx c;
    hmac_sha256_set_key(&c, k.secret.size(), u8(k.secret));
    hmac_sha256_update(&c, data.size(), u8(data));
    mac.resize(SHA256_DIGEST_SIZE);
    hmac_sha256_digest(&c, mac.size(), reinterpret_cast<uint8_t*>(mac.data()));
  } else if (bits == "384") {
    hmac_sha384_ctx c;
    hmac_sha384_set_key(&c, k.secret.size(), u8(k.secret));
    hmac_sha384_update(&c, data.size(), u8(data));
    mac.resize(SHA384_DIGEST_SIZE);
    hmac_sha384_digest(&c, mac.size(), reinterpret_cast<uint8_t*>(mac.data()));
  } else {
    hmac_sha512_ctx c;
    hmac_sha512_set_key(&c, k.secret.size(), u8(k.secret));
    hmac_sha512_update(&c, data.size(), u8(data));
    mac.resize(SHA512_DIGEST_SIZE);
    hmac_sha512_digest(&c, mac.size(), reinterpret_cast<uint8_t*>(mac.data()));
  }
  return sig.size() == mac.size() && memeql_sec(sig.data(), mac.data(), mac.size()) == 1;
}

std::string stripZeros(std::string s) {
  const size_t nz = s.find_first_not_of('\0');
  return nz == std::string::npos ? std::string() : s.substr(nz);
}

std::string readRsa(const Json& j, Jwk* k) {
  auto n = pwx::jwt::jwkBytes(j, "n"), e = pwx::jwt::jwkBytes(j, "e");
  if (!n || !e) return "RSA key without n or e";
  k->n = stripZeros(*n);
  k->e = stripZeros(*e);
  if (k->e != std::string("\x03", 1) && k->e != std::string("\x01\x00\x01", 3)) {
    return "RSA exponent is not 3 or 65537";
  }
  if (k->n.size() < 128) return "RSA modulus shorter than 1024 bits";
  return "";
}

std::string readEc(const Json& j, Jwk* k) {
  const ecc_curve* curve = curveOf(k->curve);
  if (curve == nullptr) return "unsupported EC curve '" + k->curve + "'";
  auto x = pwx::jwt::jwkBytes(j, "x"), y = pwx::jwt::jwkBytes(j, "y");
  const size_t len = k->curve == "P-256" ? 32 : 48;
  if (!x || !y || x->size() != len || y->size() != len) return "EC key without valid x and y";
  ecc_point p;
  ecc_point_init(&p, curve);
  Mpz mx(*x), my(*y);
  const bool on_curve = ecc_point_set(&p, mx.v, my.v) == 1;
  ecc_point_clear(&p);
  if (!on_curve) return "EC point is not on the curve";
  k->x = std::move(*x);
  k->y = std::move(*y);
  return "";
}

std::string readKey(const Json& j, Jwk* k) {
  if (std::string why = pwx::jwt::readJwkHeader(j, k); !why.empty()) return why;
  switch (k->type) {
    case Jwk::Type::Rsa:
      return readRsa(j, k);
    case Jwk::Type::Ec:
      return readEc(j, k);
    case Jwk::Type::Okp: {
      auto x = pwx::jwt::jwkBytes(j, "x");
      if (k->curve != "Ed25519") return "unsupported OKP curve '" + k->curve + "'";
      if (!x || x->size() != ED25519_KEY_SIZE) return "Ed25519 key without a 32-byte x";
      k->x = std::move(*x);
      return "";
    }
    case Jwk::Type::Oct: {
      auto secret = pwx::jwt::jwkBytes(j, "k");
      if (!secret || secret->empty()) return "oct key without k";
      k->secret = std::move(*secret);
      return "";
    }
  }
  return "unsupported key";
}

}  // namespace

bool verifySignature(const Jwk& key, std::string_view alg, std::string_view signed_part,
                     std::string_view signature) {
  if (!key.allows(alg)) return false;
  switch (key.type) {
    case Jwk::Type::Rsa:
      return verifyRsa(key, alg, signed_part, signature);
    case Jwk::Type::Ec:
      return verifyEc(key, alg, signed_part, signature);
    case Jwk::Type::Okp:
      return signature.size() == ED25519_SIGNATURE_SIZE &&
             ed25519_sha512_verify(u8(key.x), signed_part.size(), u8(signed_part), u8(signature)) ==
                 1;
    case Jwk::Type::Oct:
      return verifyHmac(key, alg, signed_part, signature);
  }
  return false;
}

std::shared_ptr<const Jwks> Jwks::parse(std::string_view text, std::string* error,
                                        std::vector<std::string>* skipped) {
  Json doc;
  std::vector<const Json*> entries;
  if (!pwx::jwt::jwkEntries(text, &doc, &entries, error)) return nullptr;
  auto jwks = std::make_shared<Jwks>();
  for (size_t i = 0; i < entries.size(); ++i) {
    Jwk k;
    std::string why = readKey(*entries[i], &k);
    if (why.empty()) {
      jwks->keys_.push_back(std::move(k));
    } else if (skipped != nullptr) {
      skipped->push_back("keys[" + std::to_string(i) + "]: " + why);
    }
  }
  return jwks;
}

bool Jwks::hasKid(std::string_view kid) const {
  return pwx::jwt::hasKid(keys_, kid);
}

Status Jwks::verify(const Jwt& jwt) const {
  return pwx::jwt::verifyWithKeys(keys_, jwt, [&](const Jwk& k) {
    return verifySignature(k, jwt.alg, jwt.signed_part, jwt.signature);
  });
}

}  // namespace jwt_routing
