#include "jwt_fixtures.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <chrono>
#include <stdexcept>
#include <vector>

namespace pwx_test {

struct JwtKey::Impl {
  EVP_PKEY* key = nullptr;
  std::string secret;
  ~Impl() { EVP_PKEY_free(key); }
};

namespace {

std::string bnBytes(EVP_PKEY* key, const char* param, size_t pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, param, &bn) != 1) throw std::runtime_error("no key parameter");
  std::string out(std::max<size_t>(pad, size_t(BN_num_bytes(bn))), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), int(out.size()));
  BN_free(bn);
  return out;
}

const EVP_MD* digestOf(const std::string& alg) {
  if (alg == "EdDSA") return nullptr;
  const std::string bits = alg.substr(2);
  return bits == "384" ? EVP_sha384() : bits == "512" ? EVP_sha512() : EVP_sha256();
}

size_t ecSize(const std::string& alg) {
  return alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
}

}  // namespace

std::string base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

long long nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string claims(const std::string& iss, const std::string& sub, const std::string& aud,
                   long long ttl_seconds, const std::string& extra) {
  std::string out = "{\"iss\":\"" + iss + "\",\"sub\":\"" + sub + "\"";
  if (!aud.empty()) out += ",\"aud\":\"" + aud + "\"";
  out += ",\"iat\":" + std::to_string(nowSeconds());
  out += ",\"exp\":" + std::to_string(nowSeconds() + ttl_seconds);
  if (!extra.empty()) out += "," + extra;
  return out + "}";
}

JwtKey::JwtKey(std::string alg, std::string kid)
    : alg_(std::move(alg)), kid_(std::move(kid)), impl_(std::make_unique<Impl>()) {
  const std::string family = alg_.substr(0, 2);
  if (family == "RS" || family == "PS") {
    impl_->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  } else if (alg_ == "ES256") {
    impl_->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  } else if (alg_ == "ES384") {
    impl_->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  } else if (alg_ == "EdDSA") {
    impl_->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  } else if (family == "HS") {
    impl_->secret.resize(32);
    RAND_bytes(reinterpret_cast<unsigned char*>(impl_->secret.data()), 32);
    return;
  }
  if (impl_->key == nullptr) throw std::runtime_error("cannot make a key for " + alg_);
}

JwtKey::~JwtKey() = default;
JwtKey::JwtKey(JwtKey&&) noexcept = default;

std::string JwtKey::jwk() const {
  std::string out = "{";
  if (!kid_.empty()) out += "\"kid\":\"" + kid_ + "\",";
  out += "\"alg\":\"" + alg_ + "\",\"use\":\"sig\",";
  const std::string family = alg_.substr(0, 2);
  if (family == "RS" || family == "PS") {
    out += "\"kty\":\"RSA\",\"n\":\"" + base64Url(bnBytes(impl_->key, OSSL_PKEY_PARAM_RSA_N)) +
           "\",\"e\":\"" + base64Url(bnBytes(impl_->key, OSSL_PKEY_PARAM_RSA_E)) + "\"";
  } else if (family == "ES") {
    const size_t n = ecSize(alg_);
    out += std::string("\"kty\":\"EC\",\"crv\":\"") + (n == 32 ? "P-256" : "P-384") +
           "\",\"x\":\"" + base64Url(bnBytes(impl_->key, OSSL_PKEY_PARAM_EC_PUB_X, n)) +
           "\",\"y\":\"" + base64Url(bnBytes(impl_->key, OSSL_PKEY_PARAM_EC_PUB_Y, n)) + "\"";
  } else if (alg_ == "EdDSA") {
    unsigned char raw[32];
    size_t len = sizeof raw;
    EVP_PKEY_get_raw_public_key(impl_->key, raw, &len);
    out += "\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" +
           base64Url(std::string_view(reinterpret_cast<char*>(raw), len)) + "\"";
  } else {
    out += "\"kty\":\"oct\",\"k\":\"" + base64Url(impl_->secret) + "\"";
  }
  return out + "}";
}

std::string JwtKey::jwks() const {
  return "{\"keys\":[" + jwk() + "]}";
}

std::string JwtKey::sign(const std::string& payload_json) const {
  std::string header = "{\"alg\":\"" + alg_ + "\",\"typ\":\"JWT\"";
  if (!kid_.empty()) header += ",\"kid\":\"" + kid_ + "\"";
  return signWithHeader(header + "}", payload_json);
}

std::string JwtKey::signWithHeader(const std::string& header_json,
                                   const std::string& payload_json) const {
  const std::string input = base64Url(header_json) + "." + base64Url(payload_json);
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  std::string sig;
  if (alg_.substr(0, 2) == "HS") {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(digestOf(alg_), impl_->secret.data(), int(impl_->secret.size()), data, input.size(), mac,
         &len);
    sig.assign(reinterpret_cast<char*>(mac), len);
    return input + "." + base64Url(sig);
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, digestOf(alg_), nullptr, impl_->key);
  if (alg_[0] == 'P') {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST);
  }
  size_t len = 0;
  EVP_DigestSign(ctx, nullptr, &len, data, input.size());
  sig.resize(len);
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, data, input.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  if (alg_.substr(0, 2) == "ES") {  // DER -> R||S
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, long(sig.size()));
    const size_t n = ecSize(alg_);
    std::string raw(2 * n, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(es), reinterpret_cast<unsigned char*>(raw.data()), int(n));
    BN_bn2binpad(ECDSA_SIG_get0_s(es), reinterpret_cast<unsigned char*>(raw.data() + n), int(n));
    ECDSA_SIG_free(es);
    sig = raw;
  }
  return input + "." + base64Url(sig);
}

}  // namespace pwx_test
