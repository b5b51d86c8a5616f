// basic_auth's configuration: rules (method, host and path), their credentials, consumers and
// the reply options, read from JSON through the SDK's schema; every error names its path. Pure (no
// hostcall). The configuration reference is README.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "password.h"
#include "path_regex.h"
#include "proxy_wasm/sdk/expected.h"

namespace basic_auth {

// A user and its stored password (plain or an htpasswd hash).
struct Credential {
  std::string user;
  StoredPassword password;
  std::string consumer;  // the consumer it belongs to, or empty for a rule's inline credential
};

struct Rule {
  enum class Match { Prefix, Exact, Suffix, Regex } match = Match::Prefix;
  std::string path;
  std::optional<PathRegex> regex;  // for Match::Regex, compiled from `path`
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
  // Where credentials are read (lower case): Envoy's authentication_header, e.g.
  // "proxy-authorization" (Kong reads it too).
  std::string authentication_header = "authorization";
  // Kong's anonymous consumer: requests without valid credentials continue as this consumer
  // (empty: they get 401).
  std::string anonymous;
};

// The largest bcrypt cost accepted. One check at cost 10 takes ~65 ms of a worker's CPU in V8 and
// each step doubles it: cost 12 (260 ms) would overrun the host's 250 ms per-call CPU deadline.
constexpr int kMaxBcryptCost = 10;

// Parses the plugin configuration; the error names the field path.
proxy_wasm::Expected<Config, std::string> parseConfig(std::string_view json);

}  // namespace basic_auth
