#include "jwt/jwk.h"

namespace pwx::jwt {

bool JwkBase::allows(std::string_view a) const {
  if (!alg.empty() && alg != a) return false;
  const std::string_view family = a.substr(0, 2);
  switch (type) {
    case Type::Rsa:
      return family == "RS" || family == "PS";
    case Type::Ec:
      return (a == "ES256" && curve == "P-256") || (a == "ES384" && curve == "P-384") ||
             (a == "ES512" && curve == "P-521");
    case Type::Okp:
      return a == "EdDSA";
    case Type::Oct:
      return family == "HS";
  }
  return false;
}

std::string readJwkHeader(const nlohmann::json& j, JwkBase* k) {
  if (!j.is_object()) return "not an object";
  auto str = [&](const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const std::string kty = str("kty"), use = str("use");
  k->kid = str("kid");
  k->alg = str("alg");
  k->curve = str("crv");
  if (!use.empty() && use != "sig") return "use is '" + use + "', not 'sig'";
  if (!k->alg.empty() && !isSupportedAlg(k->alg)) return "unsupported alg '" + k->alg + "'";
  if (kty == "RSA") {
    k->type = JwkBase::Type::Rsa;
  } else if (kty == "EC") {
    k->type = JwkBase::Type::Ec;
  } else if (kty == "OKP") {
    k->type = JwkBase::Type::Okp;
  } else if (kty == "oct") {
    k->type = JwkBase::Type::Oct;
  } else {
    return "unsupported kty '" + kty + "'";
  }
  return "";
}

bool jwkEntries(std::string_view text, nlohmann::json* doc,
                std::vector<const nlohmann::json*>* entries, std::string* error) {
  *doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc->is_object()) {
    *error = "not a JSON object";
    return false;
  }
  if (auto keys = doc->find("keys"); keys != doc->end()) {
    if (!keys->is_array()) {
      *error = "\"keys\" is not a list";
      return false;
    }
    for (const auto& k : *keys) entries->push_back(&k);
    return true;
  }
  if (doc->contains("kty")) {
    entries->push_back(doc);
    return true;
  }
  *error = "neither a JWKS ({\"keys\": [...]}) nor a JWK";
  return false;
}

std::optional<std::string> jwkBytes(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return std::nullopt;
  return base64UrlDecode(it->get<std::string>());
}

}  // namespace pwx::jwt
