#include "claims.h"

#include <cstring>

#include "proxy_wasm/abi/pairs.h"

namespace jwt_routing {

namespace {

using PairList = std::vector<std::pair<std::string_view, std::string_view>>;

std::vector<std::string> splitSpaces(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t sp = s.find(' ');
    if (sp != 0) out.emplace_back(s.substr(0, sp));
    if (sp == std::string_view::npos) break;
    s.remove_prefix(sp + 1);
  }
  return out;
}

std::string scalarText(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  // Whole doubles print as integers, as they are usually written in tokens.
  const double d = v.get<double>();
  if (d == static_cast<double>(static_cast<int64_t>(d))) {
    return std::to_string(static_cast<int64_t>(d));
  }
  return v.dump();
}

// A list in CEL's encoding: pairs whose values are all empty.
bool asList(std::string_view bytes, PairList* items) {
  if (!proxy_wasm::abi::decodePairs(bytes, *items) || items->empty()) return false;
  for (const auto& [k, v] : *items) {
    if (!v.empty()) return false;
  }
  return true;
}

bool printable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// A scalar leaf: strings come raw; a number (8-byte double) or bool (one byte) is told apart by
// its unprintable bytes, which a claim string sent in a header cannot have.
std::string metadataScalar(std::string_view bytes) {
  if (printable(bytes)) return std::string(bytes);
  if (bytes.size() == 1) return bytes[0] != 0 ? "true" : "false";
  if (bytes.size() == 8) {
    double d;
    std::memcpy(&d, bytes.data(), sizeof d);
    return scalarText(nlohmann::json(d));
  }
  return std::string(bytes);
}

}  // namespace

bool isScopeClaim(std::string_view path) {
  return path == "scope" || path == "scp";
}

std::optional<std::string> Claims::headerValue(std::string_view path) const {
  auto v = values(path);
  if (!v) return std::nullopt;
  std::string out;
  const char* sep = isScopeClaim(path) ? " " : ",";
  for (const auto& item : *v) out.append(out.empty() ? "" : sep).append(item);
  return out;
}

std::optional<std::vector<std::string>> JsonClaims::values(std::string_view path) const {
  const nlohmann::json* v = &payload_;
  std::string_view rest = path;
  while (!rest.empty()) {
    const std::string_view key = rest.substr(0, rest.find('.'));
    if (!v->is_object()) return std::nullopt;
    auto it = v->find(key);
    if (it == v->end()) return std::nullopt;
    v = &*it;
    rest.remove_prefix(std::min(rest.size(), key.size() + 1));
  }
  if (v->is_array()) {
    std::vector<std::string> out;
    for (const auto& e : *v) {
      if (e.is_primitive() && !e.is_null()) out.push_back(scalarText(e));
    }
    return out;
  }
  if (!v->is_primitive() || v->is_null()) return std::nullopt;
  if (v->is_string() && isScopeClaim(path)) return splitSpaces(v->get<std::string>());
  return std::vector<std::string>{scalarText(*v)};
}

std::optional<std::vector<std::string>> MetadataClaims::values(std::string_view path) const {
  std::string_view cur = encoded_;
  std::string_view rest = path;
  while (!rest.empty()) {
    const std::string_view key = rest.substr(0, rest.find('.'));
    PairList members;
    if (!proxy_wasm::abi::decodePairs(cur, members)) return std::nullopt;
    bool found = false;
    for (const auto& [k, v] : members) {
      if (k == key) {
        cur = v;
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
    rest.remove_prefix(std::min(rest.size(), key.size() + 1));
  }
  PairList items;
  if (asList(cur, &items)) {
    std::vector<std::string> out;
    for (const auto& [k, v] : items) out.push_back(metadataScalar(k));
    return out;
  }
  if (isScopeClaim(path)) return splitSpaces(cur);
  return std::vector<std::string>{metadataScalar(cur)};
}

}  // namespace jwt_routing
