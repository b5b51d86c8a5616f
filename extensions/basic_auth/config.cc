// basic_auth's configuration read through the SDK's schema (config.h).
#include "config.h"

#include <cstdlib>

#include "proxy_wasm/sdk/base64.h"
#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/json.h"
#include "proxy_wasm/sdk/strings.h"

namespace basic_auth {

using proxy_wasm::Expected;
using proxy_wasm::unexpected;
namespace json = proxy_wasm::json;

namespace {

// One credential entry: "user:password" (the password plain or an htpasswd hash), a base64 token
// of it, or "env:NAME" naming a VM
// environment variable that holds one or more entries (newline or comma separated).
Expected<std::vector<Credential>, std::string> parseCredential(const std::string& entry,
                                                               const std::string& path,
                                                               bool allow_env = true) {
  std::vector<Credential> out;
  if (allow_env && entry.rfind("env:", 0) == 0) {
    std::string name = entry.substr(4);
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) {
      return unexpected(path + ": environment variable " + name +
                        " is not set (set it in vm_config.environment_variables)");
    }
    std::string all(value);
    size_t start = 0;
    while (start <= all.size()) {
      size_t end = all.find_first_of(",\n", start);
      if (end == std::string::npos) end = all.size();
      std::string item = all.substr(start, end - start);
      while (!item.empty() && (item.back() == '\r' || item.back() == ' ')) item.pop_back();
      while (!item.empty() && item.front() == ' ') item.erase(item.begin());
      if (!item.empty()) {
        auto parsed = parseCredential(item, path + " (from " + name + ")", false);
        if (!parsed) return parsed;
        out.insert(out.end(), parsed->begin(), parsed->end());
      }
      start = end + 1;
    }
    if (out.empty()) return unexpected(path + ": environment variable " + name + " is empty");
    return out;
  }
  std::string user_pass;
  if (entry.find(':') != std::string::npos) {
    user_pass = entry;
  } else {
    auto decoded = proxy_wasm::base64::decode(entry);
    if (!decoded || decoded->empty()) {
      return unexpected(path + ": expected \"user:password\" or its base64 encoding");
    }
    user_pass = std::move(*decoded);
  }
  size_t colon = user_pass.find(':');
  if (colon == std::string::npos) {
    return unexpected(path + ": the base64 token does not decode to \"user:password\"");
  }
  auto password = StoredPassword::parse(std::string_view(user_pass).substr(colon + 1));
  if (!password) return unexpected(path + ": " + password.error());
  if (password->cost() > kMaxBcryptCost) {
    return unexpected(path + ": bcrypt cost " + std::to_string(password->cost()) + " is above " +
                      std::to_string(kMaxBcryptCost) +
                      ", too slow to check per request (rehash with htpasswd -B -C 10)");
  }
  Credential c;
  c.user = user_pass.substr(0, colon);
  c.password = std::move(*password);
  out.push_back(std::move(c));
  return out;
}

Expected<std::vector<Credential>, std::string> parseCredentials(const json::Value& list) {
  auto items = list.asArray();
  if (!items) return unexpected(items.error().toString());
  std::vector<Credential> out;
  for (const auto& item : *items) {
    auto s = item.asString();
    if (!s) return unexpected(s.error().toString());
    auto parsed = parseCredential(*s, item.path());
    if (!parsed) return unexpected(parsed.error());
    out.insert(out.end(), parsed->begin(), parsed->end());
  }
  return out;
}

Expected<Rule, std::string> parseRule(const json::Value& v, const Config& config) {
  Rule rule;
  if (!v.isObject()) return unexpected(v.path() + ": expected an object");
  int paths = 0;
  for (auto [key, kind] :
       {std::pair{"prefix", Rule::Match::Prefix}, std::pair{"exact", Rule::Match::Exact},
        std::pair{"suffix", Rule::Match::Suffix}, std::pair{"regex", Rule::Match::Regex}}) {
    auto p = v.getString(key);
    if (!p) return unexpected(p.error().toString());
    if (!*p) continue;
    ++paths;
    if ((*p)->empty()) {
      return unexpected(v.path() + "." + key +
                        ": must not be empty (use \"prefix\": \"/\" to match all)");
    }
    rule.match = kind;
    rule.path = **p;
    if (kind == Rule::Match::Regex) {
      auto regex = PathRegex::compile(rule.path);
      if (!regex) return unexpected(v.path() + ".regex: " + regex.error());
      rule.regex = std::move(*regex);
    }
  }
  if (paths != 1) {
    return unexpected(v.path() +
                      ": exactly one of 'prefix', 'suffix', 'exact' and 'regex' is required");
  }
  auto hosts = v.getStringList("hosts");
  if (!hosts) return unexpected(hosts.error().toString());
  rule.hosts = std::move(*hosts);
  auto methods = v.require("request_methods");
  if (!methods) return unexpected(methods.error().toString());
  auto method_list = methods->asStringList();
  if (!method_list) return unexpected(method_list.error().toString());
  if (method_list->empty())
    return unexpected(methods->path() + ": at least one method is required");
  rule.methods = std::move(*method_list);
  if (auto creds = v.find("credentials")) {
    auto parsed = parseCredentials(*creds);
    if (!parsed) return unexpected(parsed.error());
    rule.credentials = std::move(*parsed);
  }
  auto allow = v.getStringList("allow");
  if (!allow) return unexpected(allow.error().toString());
  for (size_t i = 0; i < allow->size(); ++i) {
    bool known = false;
    for (const auto& c : config.consumers) known = known || c.consumer == (*allow)[i];
    if (!known) {
      return unexpected(v.path() + ".allow[" + std::to_string(i) + "]: unknown consumer '" +
                        (*allow)[i] + "'");
    }
  }
  rule.allow = std::move(*allow);
  if (rule.credentials.empty() && rule.allow.empty()) {
    return unexpected(v.path() + ": credentials (or allow) must name at least one credential");
  }
  return rule;
}

std::optional<std::string> readAuthenticationHeader(const json::Value& v, Config& c) {
  auto header = v.asString();
  if (!header) return header.error().toString();
  if (header->empty() || header->front() == ':') return v.path() + ": expected a header name";
  c.authentication_header = *header;
  proxy_wasm::strings::lowerAsciiInPlace(c.authentication_header);
  return std::nullopt;
}

std::optional<std::string> readConsumers(const json::Value& v, Config& config) {
  auto consumers = v.asArray();
  if (!consumers) return consumers.error().toString();
  for (const auto& c : *consumers) {
    auto name = c.requireString("name");
    if (!name) return name.error().toString();
    auto list = c.require("credentials");
    if (!list) return list.error().toString();
    auto creds = parseCredentials(*list);
    if (!creds) return creds.error();
    if (creds->empty()) return list->path() + ": at least one credential is required";
    for (auto& cred : *creds) {
      cred.consumer = *name;
      config.consumers.push_back(std::move(cred));
    }
  }
  return std::nullopt;
}

// After consumers (rules may name them).
std::optional<std::string> readRules(const json::Value& v, Config& config) {
  auto rules = v.asArray();
  if (!rules) return rules.error().toString();
  for (const auto& r : *rules) {
    auto rule = parseRule(r, config);
    if (!rule) return rule.error();
    config.rules.push_back(std::move(*rule));
  }
  return std::nullopt;
}

const auto kSchema = proxy_wasm::config::Schema<Config>()
                         .string("realm", &Config::realm)
                         .string("forward_username_header", &Config::forward_username_header)
                         .boolean("strip_authorization", &Config::strip_authorization)
                         .field("authentication_header", readAuthenticationHeader)
                         .string("anonymous", &Config::anonymous, proxy_wasm::config::kNonEmpty)
                         .field("consumers", readConsumers)
                         .field("basic_auth_rules", readRules);

}  // namespace

Expected<Config, std::string> parseConfig(std::string_view text) {
  return kSchema.parse(text, /*empty_is_object=*/true);
}

}  // namespace basic_auth
