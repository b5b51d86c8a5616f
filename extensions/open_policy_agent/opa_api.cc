// OPA's REST Data API (opa_api.h).
#include "opa_api.h"

#include "proxy_wasm/sdk/json.h"

using namespace proxy_wasm;

namespace open_policy_agent {

Expected<Decision, std::string> parseResult(std::string_view body) {
  auto doc = json::parseObject(body);
  if (!doc) return unexpected("OPA answered with something that is not a JSON object");
  auto result = doc->root().find("result");
  if (!result) return unexpected("OPA's answer has no result (is the policy path defined?)");
  Decision d;
  if (!result->isObject()) {
    auto b = result->asBool();
    if (!b) return unexpected("result: " + b.error().message);
    d.allow = *b;
    return d;
  }
  auto allow = result->require("allow");
  if (!allow) return unexpected(allow.error().toString());
  auto a = allow->asBool();
  if (!a) return unexpected(a.error().toString());
  d.allow = *a;
  auto status = result->getUint64("status");
  if (!status) return unexpected(status.error().toString());
  if (*status) d.status = static_cast<uint32_t>(**status);
  auto text = result->getString("body");
  if (!text) return unexpected(text.error().toString());
  if (*text) d.body = **text;
  if (auto h = result->find("headers")) {
    auto members = h->asObject();
    if (!members) return unexpected(members.error().toString());
    for (const auto& [k, v] : *members) {
      auto s = v.asString();
      if (!s) return unexpected(s.error().toString());
      d.headers.emplace_back(k, *s);
    }
  }
  return d;
}

void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      // Short escapes where JSON has them (as nlohmann, so bodies match upstream's byte for byte).
      const char* shortcut = c == '\n'   ? "\\n"
                             : c == '\r' ? "\\r"
                             : c == '\t' ? "\\t"
                             : c == '\b' ? "\\b"
                             : c == '\f' ? "\\f"
                                         : nullptr;
      ++i;
      if (shortcut != nullptr) {
        out += shortcut;
        continue;
      }
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      // A well-formed UTF-8 sequence is copied; anything else is replaced.
      const size_t n = c >= 0xc2 && c <= 0xdf   ? 2
                       : c >= 0xe0 && c <= 0xef ? 3
                       : c >= 0xf0 && c <= 0xf4 ? 4
                                                : 0;
      bool ok = n > 0 && i + n <= s.size();
      for (size_t k = 1; ok && k < n; ++k)
        ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
      if (ok) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        out += "\xef\xbf\xbd";
        ++i;
      }
    }
  }
  out += '"';
}

}  // namespace open_policy_agent
