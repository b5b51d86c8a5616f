#include "jwt.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace pwx::jwt {

std::string_view statusText(Status s) {
  switch (s) {
    case Status::Ok:
      return "OK";
    case Status::JwtMissed:
      return "Jwt is missing";
    case Status::JwtBadFormat:
      return "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections";
    case Status::JwtHeaderParseError:
      return "Jwt header is an invalid JSON";
    case Status::JwtHeaderBadAlg:
      return "Jwt header [alg] is not supported";
    case Status::JwtPayloadParseError:
      return "Jwt payload is an invalid JSON";
    case Status::JwtSignatureParseError:
      return "Jwt signature is an invalid Base64url encoded";
    case Status::JwtExpired:
      return "Jwt is expired";
    case Status::JwtNotYetValid:
      return "Jwt not yet valid";
    case Status::JwtMissingExpiration:
      return "Jwt doesn't have an expiration time";
    case Status::JwtUnknownIssuer:
      return "Jwt issuer is not configured";
    case Status::JwtAudienceNotAllowed:
      return "Audiences in Jwt are not allowed";
    case Status::JwtVerificationFail:
      return "Jwt verification fails";
    case Status::JwtTooLarge:
      return "Jwt size exceeds the limit";
    case Status::JwksKidAlgMismatch:
      return "Jwks doesn't have key to match kid or alg from Jwt";
    case Status::JwksFetchFail:
      return "Jwks remote fetch is failed";
    case Status::JwksNoValidKeys:
      return "Jwks doesn't have any valid public key";
  }
  return "unknown";
}

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> decodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i) t[static_cast<uint8_t>(kAlphabet[i])] = int8_t(i);
  return t;
}
constexpr auto kDecode = decodeTable();

std::optional<std::string> field(const nlohmann::json& obj, const char* key, bool* bad) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (!it->is_string()) {
    *bad = true;
    return std::nullopt;
  }
  return it->get<std::string>();
}

std::optional<int64_t> timeClaim(const nlohmann::json& obj, const char* key, bool* bad) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_unsigned())
    return static_cast<int64_t>(std::min<uint64_t>(it->get<uint64_t>(), INT64_MAX));
  if (it->is_number_float()) return static_cast<int64_t>(it->get<double>());
  *bad = true;
  return std::nullopt;
}

std::string_view normalizedAudience(std::string_view a) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (a.substr(0, scheme.size()) == scheme) a.remove_prefix(scheme.size());
  }
  if (!a.empty() && a.back() == '/') a.remove_suffix(1);
  return a;
}

}  // namespace

std::optional<std::string> base64UrlDecode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int8_t v = kDecode[static_cast<uint8_t>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits must be zero (one encoding per value).
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
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

bool isSupportedAlg(std::string_view alg) {
  static constexpr std::string_view kAlgs[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                               "PS512", "ES256", "ES384", "ES512", "EdDSA",
                                               "HS256", "HS384", "HS512"};
  for (auto a : kAlgs) {
    if (a == alg) return true;
  }
  return false;
}

Status parseJwt(std::string_view token, Jwt* out) {
  const size_t d1 = token.find('.');
  const size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Status::JwtBadFormat;
  }
  auto header = base64UrlDecode(token.substr(0, d1));
  if (!header) return Status::JwtHeaderParseError;
  auto payload = base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload) return Status::JwtPayloadParseError;
  auto signature = base64UrlDecode(token.substr(d2 + 1));
  if (!signature) return Status::JwtSignatureParseError;

  nlohmann::json h = nlohmann::json::parse(*header, nullptr, false);
  if (!h.is_object()) return Status::JwtHeaderParseError;
  bool bad = false;
  out->alg = field(h, "alg", &bad).value_or("");
  out->kid = field(h, "kid", &bad).value_or("");
  if (bad) return Status::JwtHeaderParseError;
  if (!isSupportedAlg(out->alg)) return Status::JwtHeaderBadAlg;

  out->payload = nlohmann::json::parse(*payload, nullptr, false);
  if (!out->payload.is_object()) return Status::JwtPayloadParseError;
  const nlohmann::json& p = out->payload;
  out->iss = field(p, "iss", &bad).value_or("");
  out->sub = field(p, "sub", &bad).value_or("");
  out->exp = timeClaim(p, "exp", &bad);
  out->nbf = timeClaim(p, "nbf", &bad);
  if (auto aud = p.find("aud"); aud != p.end()) {
    if (aud->is_string()) {
      out->audiences.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const auto& a : *aud) {
        if (!a.is_string()) return Status::JwtPayloadParseError;
        out->audiences.push_back(a.get<std::string>());
      }
    } else {
      bad = true;
    }
  }
  if (bad) return Status::JwtPayloadParseError;
  out->header_json = std::move(*header);
  out->payload_json = std::move(*payload);
  out->signed_part.assign(token.substr(0, d2));
  out->signature = std::move(*signature);
  return Status::Ok;
}

Status checkTime(const Jwt& jwt, int64_t now, int64_t skew, bool require_expiration) {
  if (jwt.nbf && now + skew < *jwt.nbf) return Status::JwtNotYetValid;
  if (!jwt.exp) return require_expiration ? Status::JwtMissingExpiration : Status::Ok;
  if (now - skew >= *jwt.exp) return Status::JwtExpired;
  return Status::Ok;
}

bool audienceAllowed(const Jwt& jwt, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  for (const auto& a : jwt.audiences) {
    for (const auto& b : allowed) {
      if (normalizedAudience(a) == normalizedAudience(b)) return true;
    }
  }
  return false;
}

std::string tokenAfter(std::string_view value, std::string_view prefix, bool ignore_case) {
  if (value.size() < prefix.size()) return "";
  for (size_t i = 0; i < prefix.size(); ++i) {
    char a = value[i], b = prefix[i];
    if (ignore_case) {
      a = static_cast<char>(std::tolower(static_cast<unsigned char>(a)));
      b = static_cast<char>(std::tolower(static_cast<unsigned char>(b)));
    }
    if (a != b) return "";
  }
  value.remove_prefix(prefix.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  return std::string(value.substr(0, value.find_first_of(", \t")));
}

std::string queryParam(std::string_view path, std::string_view name) {
  const size_t q = path.find('?');
  if (q == std::string_view::npos) return "";
  std::string_view query = path.substr(q + 1);
  while (!query.empty()) {
    const std::string_view pair = query.substr(0, query.find('&'));
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      return std::string(pair.substr(eq + 1));
    }
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
  }
  return "";
}

std::string withoutParam(std::string_view path, std::string_view name) {
  const size_t q = path.find('?');
  if (q == std::string_view::npos) return std::string(path);
  std::string out(path.substr(0, q));
  std::string_view query = path.substr(q + 1);
  char sep = '?';
  while (!query.empty()) {
    const std::string_view pair = query.substr(0, query.find('&'));
    if (pair.substr(0, pair.find('=')) != name) {
      out.push_back(sep);
      out.append(pair);
      sep = '&';
    }
    query.remove_prefix(std::min(query.size(), pair.size() + 1));
  }
  return out;
}

}  // namespace pwx::jwt
