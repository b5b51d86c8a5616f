#include "password.h"

#include <nettle/blowfish.h>
#include <nettle/md5.h>
#include <nettle/sha1.h>

namespace basic_auth {

using proxy_wasm::unexpected;

namespace {

constexpr std::string_view kApr1Magic = "$apr1$";
constexpr std::string_view kCrypt64 =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool isCrypt64(std::string_view s) {
  for (char c : s) {
    if (kCrypt64.find(c) == std::string_view::npos) return false;
  }
  return true;
}

// Appends `count` characters of crypt's base64 for `v`, least significant 6 bits first.
void appendCrypt64(std::string& out, uint32_t v, int count) {
  for (int i = 0; i < count; ++i) {
    out.push_back(kCrypt64[v & 0x3f]);
    v >>= 6;
  }
}

class Md5 {
 public:
  Md5() { nettle_md5_init(&ctx_); }
  Md5& add(std::string_view s) {
    nettle_md5_update(&ctx_, s.size(), reinterpret_cast<const uint8_t*>(s.data()));
    return *this;
  }
  Md5& add(const uint8_t* p, size_t n) {
    nettle_md5_update(&ctx_, n, p);
    return *this;
  }
  void digest(uint8_t out[MD5_DIGEST_SIZE]) { nettle_md5_digest(&ctx_, MD5_DIGEST_SIZE, out); }

 private:
  md5_ctx ctx_;
};

bool validBcrypt(std::string_view s, int& cost) {
  // $2?$NN$ + 22 characters of salt + 31 of hash.
  if (s.size() != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$') return false;
  if (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') return false;
  if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9') return false;
  cost = (s[4] - '0') * 10 + (s[5] - '0');
  return isCrypt64(s.substr(7));
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  const size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned diff = a.size() != b.size() ? 1u : 0u;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned>(x ^ y);
  }
  return diff == 0;
}

std::string apr1Hash(std::string_view password, std::string_view salt) {
  salt = salt.substr(0, 8);
  uint8_t alt[MD5_DIGEST_SIZE];
  Md5().add(password).add(salt).add(password).digest(alt);
  Md5 ctx;
  ctx.add(password).add(kApr1Magic).add(salt);
  for (size_t left = password.size(); left > 0; left -= left > 16 ? 16 : left) {
    ctx.add(alt, left > 16 ? 16 : left);
  }
  static const uint8_t zero = 0;
  for (size_t i = password.size(); i != 0; i >>= 1) {
    if (i & 1) {
      ctx.add(&zero, 1);
    } else {
      ctx.add(password.substr(0, 1));
    }
  }
  uint8_t final[MD5_DIGEST_SIZE];
  ctx.digest(final);
  for (int i = 0; i < 1000; ++i) {
    Md5 round;
    if (i & 1) {
      round.add(password);
    } else {
      round.add(final, sizeof final);
    }
    if (i % 3) round.add(salt);
    if (i % 7) round.add(password);
    if (i & 1) {
      round.add(final, sizeof final);
    } else {
      round.add(password);
    }
    round.digest(final);
  }
  std::string out(kApr1Magic);
  out.append(salt).push_back('$');
  auto triple = [&](int a, int b, int c) {
    appendCrypt64(out, (uint32_t{final[a]} << 16) | (uint32_t{final[b]} << 8) | final[c], 4);
  };
  triple(0, 6, 12);
  triple(1, 7, 13);
  triple(2, 8, 14);
  triple(3, 9, 15);
  triple(4, 10, 5);
  appendCrypt64(out, final[11], 2);
  return out;
}

proxy_wasm::Expected<StoredPassword, std::string> StoredPassword::parse(std::string_view stored) {
  StoredPassword p;
  p.stored_ = std::string(stored);
  if (stored.substr(0, 5) == "{SHA}") {
    auto digest = proxy_wasm::base64::decode(stored.substr(5));
    if (!digest || digest->size() != SHA1_DIGEST_SIZE) {
      return unexpected(std::string(
          "a {SHA} password must be the base64 of a 20-byte SHA-1 digest (htpasswd -s)"));
    }
    p.scheme_ = Scheme::Sha1;
    p.digest_ = std::move(*digest);
    return p;
  }
  if (stored.substr(0, kApr1Magic.size()) == kApr1Magic) {
    std::string_view rest = stored.substr(kApr1Magic.size());
    size_t dollar = rest.find('$');
    if (dollar == std::string_view::npos || dollar == 0 || dollar > 8 ||
        rest.size() - dollar - 1 != 22 || !isCrypt64(rest.substr(dollar + 1))) {
      return unexpected(std::string(
          "an $apr1$ password must be \"$apr1$<salt of 1-8 characters>$<22 characters>\" "
          "(htpasswd -m)"));
    }
    p.scheme_ = Scheme::Apr1;
    return p;
  }
  if (stored.substr(0, 2) == "$2") {
    if (!validBcrypt(stored, p.cost_) || p.cost_ < 4 || p.cost_ > 31) {
      return unexpected(std::string(
          "a bcrypt password must be \"$2a$\", \"$2b$\" or \"$2y$\", a cost of 04 to 31, '$' and "
          "53 characters (htpasswd -B)"));
    }
    p.scheme_ = Scheme::Bcrypt;
    return p;
  }
  return p;
}

bool StoredPassword::verify(std::string_view password) const {
  switch (scheme_) {
    case Scheme::Plain:
      return constantTimeEquals(password, stored_);
    case Scheme::Sha1: {
      sha1_ctx ctx;
      nettle_sha1_init(&ctx);
      nettle_sha1_update(&ctx, password.size(), reinterpret_cast<const uint8_t*>(password.data()));
      uint8_t digest[SHA1_DIGEST_SIZE];
      nettle_sha1_digest(&ctx, sizeof digest, digest);
      return constantTimeEquals(
          std::string_view(reinterpret_cast<const char*>(digest), sizeof digest), digest_);
    }
    case Scheme::Apr1: {
      std::string_view rest = std::string_view(stored_).substr(kApr1Magic.size());
      return constantTimeEquals(apr1Hash(password, rest.substr(0, rest.find('$'))), stored_);
    }
    case Scheme::Bcrypt: {
      uint8_t hash[BLOWFISH_BCRYPT_HASH_SIZE] = {};
      int ok = nettle_blowfish_bcrypt_hash(
          hash, password.size(), reinterpret_cast<const uint8_t*>(password.data()), stored_.size(),
          reinterpret_cast<const uint8_t*>(stored_.data()), -1, nullptr);
      std::string_view computed(reinterpret_cast<const char*>(hash), stored_.size());
      return (ok != 0) & constantTimeEquals(computed, stored_);
    }
  }
  return false;
}

}  // namespace basic_auth
