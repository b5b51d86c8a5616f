#include "jwks.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <nlohmann/json.hpp>

namespace wasm_proxy::jwt_authn {

namespace {

using Json = nlohmann::json;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using SigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

std::shared_ptr<EVP_PKEY> fromData(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  CtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return nullptr;
  }
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

BnPtr bignum(const std::string& bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

std::string rsaKey(const Json& j, Jwk* k) {
  auto n = jwkBytes(j, "n"), e = jwkBytes(j, "e");
  if (!n || !e) return "RSA key without n or e";
  BnPtr bn_n = bignum(*n), bn_e = bignum(*e);
  if (!BN_is_word(bn_e.get(), 3) && !BN_is_word(bn_e.get(), 65537)) {
    return "RSA exponent is not 3 or 65537";
  }
  if (BN_num_bits(bn_n.get()) < 1024) return "RSA modulus shorter than 1024 bits";
  BldPtr bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get());
  k->key = fromData("RSA", bld.get());
  return k->key ? "" : "invalid RSA key";
}

std::string ecKey(const Json& j, Jwk* k) {
  static const std::pair<const char*, const char*> kCurves[] = {
      {"P-256", "prime256v1"}, {"P-384", "secp384r1"}, {"P-521", "secp521r1"}};
  const char* group = nullptr;
  for (auto [jwk_name, ossl_name] : kCurves) {
    if (k->curve == jwk_name) group = ossl_name;
  }
  if (group == nullptr) return "unsupported EC curve '" + k->curve + "'";
  auto x = jwkBytes(j, "x"), y = jwkBytes(j, "y");
  const size_t len = k->curve == "P-256" ? 32 : k->curve == "P-384" ? 48 : 66;
  if (!x || !y || x->size() != len || y->size() != len) return "EC key without valid x and y";
  std::string point = "\x04" + *x + *y;
  BldPtr bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  k->key = fromData("EC", bld.get());
  if (!k->key) return "EC point is not on the curve";
  CtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, k->key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return "EC point is not on the curve";
  return "";
}

std::string okpKey(const Json& j, Jwk* k) {
  if (k->curve != "Ed25519") return "unsupported OKP curve '" + k->curve + "'";
  auto x = jwkBytes(j, "x");
  if (!x || x->size() != 32) return "Ed25519 key without a 32-byte x";
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size());
  if (key == nullptr) return "invalid Ed25519 key";
  k->key = std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
  return "";
}

std::string readKey(const Json& j, Jwk* k) {
  if (std::string why = readJwkHeader(j, k); !why.empty()) return why;
  switch (k->type) {
    case Jwk::Type::Rsa:
      return rsaKey(j, k);
    case Jwk::Type::Ec:
      return ecKey(j, k);
    case Jwk::Type::Okp:
      return okpKey(j, k);
    case Jwk::Type::Oct: {
      auto secret = jwkBytes(j, "k");
      if (!secret || secret->empty()) return "oct key without k";
      k->secret = std::move(*secret);
      return "";
    }
  }
  return "unsupported key";
}

const EVP_MD* digestOf(std::string_view alg) {
  std::string_view bits = alg.substr(2);
  if (bits == "256") return EVP_sha256();
  if (bits == "384") return EVP_sha384();
  if (bits == "512") return EVP_sha512();
  return nullptr;
}

// JWS ECDSA signatures are R||S, each the curve's size; OpenSSL verifies DER.
std::optional<std::string> ecdsaDer(std::string_view sig, size_t half) {
  if (sig.size() != 2 * half) return std::nullopt;
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data()), int(half), nullptr);
  BIGNUM* s =
      BN_bin2bn(reinterpret_cast<const unsigned char*>(sig.data() + half), int(half), nullptr);
  SigPtr esig(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || BN_is_zero(r) || BN_is_zero(s) || !esig ||
      ECDSA_SIG_set0(esig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(esig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), size_t(len));
  OPENSSL_free(der);
  return out;
}

bool digestVerify(EVP_PKEY* key, const EVP_MD* md, std::string_view data, std::string_view sig,
                  bool pss) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key) != 1) return false;
  if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
              EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

}  // namespace

bool verifySignature(const Jwk& key, std::string_view alg, std::string_view signed_part,
                     std::string_view signature) {
  if (!key.allows(alg)) return false;
  if (key.type == Jwk::Type::Oct) {
    const EVP_MD* md = digestOf(alg);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (md == nullptr || HMAC(md, key.secret.data(), int(key.secret.size()),
                              reinterpret_cast<const unsigned char*>(signed_part.data()),
                              signed_part.size(), mac, &len) == nullptr) {
      return false;
    }
    return signature.size() == len && CRYPTO_memcmp(mac, signature.data(), len) == 0;
  }
  if (key.type == Jwk::Type::Okp) {
    return digestVerify(key.key.get(), nullptr, signed_part, signature, false);
  }
  if (key.type == Jwk::Type::Ec) {
    const size_t half = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
    auto der = ecdsaDer(signature, half);
    return der && digestVerify(key.key.get(), digestOf(alg), signed_part, *der, false);
  }
  return digestVerify(key.key.get(), digestOf(alg), signed_part, signature, alg[0] == 'P');
}

std::shared_ptr<const Jwks> Jwks::parse(std::string_view text, std::string* error,
                                        std::vector<std::string>* skipped) {
  Json doc;
  std::vector<const Json*> entries;
  if (!jwkEntries(text, &doc, &entries, error)) return nullptr;
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
  return verifyWithKeys(keys_, jwt, [&](const Jwk& k) {
    return verifySignature(k, jwt.alg, jwt.signed_part, jwt.signature);
  });
}

}  // namespace wasm_proxy::jwt_authn
