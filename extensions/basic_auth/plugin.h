// basic_auth: HTTP Basic authentication for requests selected by method, host and path rules.
// A drop-in for istio-ecosystem's basic_auth (same configuration, same replies), with its bugs
// fixed and named consumers, allow lists, environment-sourced credentials and counters added.
// The configuration reference is README.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_wasm/sdk.h"

namespace basic_auth {

// A user and password, as "user:password" bytes.
struct Credential {
  std::string user_pass;
  std::string user;
  std::string consumer;  // the consumer it belongs to, or empty for a rule's inline credential
};

struct Rule {
  enum class Match { Prefix, Exact, Suffix } match = Match::Prefix;
  std::string path;
  std::vector<std::string> hosts;
  std::vector<std::string> methods;
  std::vector<Credential> credentials;  // inline credentials
  std::vector<std::string> allow;       // consumer names
};

struct Config {
  std::vector<Rule> rules;
  std::vector<Credential> consumers;  // every consumer's credentials
  std::string realm = "istio";
  std::string forward_username_header;
  bool strip_authorization = false;
};

// Parses the plugin configuration; the error names the field path.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view json);

// The header value of a 401's WWW-Authenticate for `realm` (quoted only when not a token).
std::string challenge(std::string_view realm);

// Result of checking one request against the rules.
struct Decision {
  enum class Kind { Allow, NoCredentials, InvalidCredentials, Forbidden } kind = Kind::Allow;
  std::string user;  // the authenticated user when allowed (empty when no rule applied)
};

// The request-independent core, testable natively.
Decision check(const Config& config, std::string_view method, std::string_view host,
               std::string_view path, std::optional<std::string_view> authorization);

class Root : public proxy_wasm::RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override;
  const Config& config() const { return config_; }
  proxy_wasm::Counter allowed_{"basic_auth.allowed"};
  proxy_wasm::Counter denied_{"basic_auth.denied"};

 private:
  Config config_;
};

class Stream : public proxy_wasm::HttpContext {
 public:
  using HttpContext::HttpContext;
  proxy_wasm::FilterHeadersStatus onRequestHeaders(uint32_t headers, bool end_of_stream) override;
};

}  // namespace basic_auth
