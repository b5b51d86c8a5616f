// Stored passwords of basic_auth credentials: plain text or the htpasswd hash formats
// {SHA} (SHA-1, base64), $apr1$ (Apache's MD5-crypt) and bcrypt ($2a$, $2b$, $2y$).
// The digests come from nettle (Debian's source package); only the $apr1$ composition of MD5
// rounds is written here, from its published description.
#pragma once

#include <string>
#include <string_view>

#include "proxy_wasm/sdk.h"

namespace basic_auth {

class StoredPassword {
 public:
  enum class Scheme { Plain, Sha1, Apr1, Bcrypt };

  // Parses what follows "user:" in a credential. Strings that start like a hash but are not a
  // well-formed one are errors (a mistyped hash must not become a plain-text password).
  static proxy_wasm::Expected<StoredPassword, std::string> parse(std::string_view stored);

  // True when `password` is the one stored. The final comparison takes the same time wherever
  // the bytes differ; the work before it depends only on the scheme (and bcrypt's cost).
  bool verify(std::string_view password) const;

  Scheme scheme() const { return scheme_; }
  // True for the schemes whose verification is deliberately slow (worth caching).
  bool slow() const { return scheme_ == Scheme::Apr1 || scheme_ == Scheme::Bcrypt; }
  // bcrypt's log2 of the rounds; 0 for other schemes.
  int cost() const { return cost_; }
  const std::string& text() const { return stored_; }

 private:
  Scheme scheme_ = Scheme::Plain;
  std::string stored_;  // the string as configured
  std::string digest_;  // {SHA}: the 20 decoded bytes
  int cost_ = 0;
};

// $apr1$ hash of `password` with `salt` (at most 8 characters used), as "$apr1$salt$hash".
std::string apr1Hash(std::string_view password, std::string_view salt);

// Equality whose time depends only on the lengths, never on where the bytes differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace basic_auth
