// open_policy_agent: asks an OPA server (REST Data API) whether to let each request through,
// with a per-VM LRU cache of decisions. See README.md.

#include <algorithm>
#include <map>

#include "proxy_wasm/sdk.h"
#include "proxy_wasm/sdk/config_schema.h"
#include "proxy_wasm/sdk/fractional_percent.h"
#include "proxy_wasm/sdk/json.h"
#include "proxy_wasm/sdk/lru_cache.h"
#include "proxy_wasm/sdk/strings.h"

using namespace proxy_wasm;

namespace open_policy_agent {
namespace {

// Envoy's StringMatcher on a header name (names are lower-case; ignore_case lowers the pattern).
struct NameMatcher {
  enum class Kind { Exact, Prefix, Suffix, Contains } kind = Kind::Exact;
  std::string text;
  bool matches(std::string_view name) const {
    switch (kind) {
      case Kind::Exact:
        return name == text;
      case Kind::Prefix:
        return name.starts_with(text);
      case Kind::Suffix:
        return name.ends_with(text);
      case Kind::Contains:
        return name.find(text) != std::string_view::npos;
    }
    return false;
  }
};

struct Config {
  std::string service_host;
  std::string cluster;
  uint64_t cache_valid_sec = 0;  // 0: no cache
  std::string policy_path = "test/allow";
  uint32_t timeout_ms = 5000;
  bool failure_mode_allow = false;
  bool failure_mode_allow_header_add = false;
  uint32_t status_on_error = 500;
  size_t cache_max_entries = 1000;
  std::vector<std::string> input_headers;
  // ext_authz's allowed_headers / disallowed_headers: request headers whose names match go into
  // input.headers (all of them when only disallowed_headers is given), but for disallowed ones.
  std::vector<NameMatcher> allowed_headers, disallowed_headers;
  bool header_matchers = false;
  uint32_t enabled_per_million = kPerMillionAll;  // ext_authz's filter_enabled
};

// What OPA decided: a bool result, or an object with allow and optional status/headers/body.
struct Decision {
  bool allow = false;
  uint32_t status = 403;
  HeaderList headers;  // added upstream when allowed
  std::string body;    // body of the denial
};

// LRU keyed by the full input document (no hash truncation, no order-insensitive collisions);
// entries expire at an absolute time.
class DecisionCache {
 public:
  void configure(size_t capacity) { lru_.reset(capacity); }
  const Decision* find(const std::string& key, uint64_t now) {
    Entry* e = lru_.find(key);
    if (e == nullptr) return nullptr;
    if (e->expires_ns <= now) {
      lru_.erase(key);
      return nullptr;
    }
    return &e->decision;
  }
  void insert(const std::string& key, Decision d, uint64_t expires_ns) {
    lru_.insert(key, Entry{std::move(d), expires_ns});
  }
  size_t size() const { return lru_.size(); }

 private:
  struct Entry {
    Decision decision;
    uint64_t expires_ns;
  };
  proxy_wasm::LruCache<Entry> lru_{1000};
};

std::optional<std::string> readMatchers(const json::Value& v, std::vector<NameMatcher>& out) {
  if (auto bad = v.unknownField({"patterns"})) return bad->toString();
  auto patterns = v.getArray("patterns");
  if (!patterns) return patterns.error().toString();
  for (const auto& p : *patterns) {
    if (auto bad = p.unknownField({"exact", "prefix", "suffix", "contains", "ignore_case"})) {
      return bad->toString() + (bad->path.ends_with("safe_regex")
                                    ? " (regular expressions are not supported by this plugin)"
                                    : "");
    }
    constexpr std::pair<const char*, NameMatcher::Kind> kKinds[] = {
        {"exact", NameMatcher::Kind::Exact},
        {"prefix", NameMatcher::Kind::Prefix},
        {"suffix", NameMatcher::Kind::Suffix},
        {"contains", NameMatcher::Kind::Contains}};
    std::optional<NameMatcher> m;
    for (auto [key, kind] : kKinds) {
      auto text = p.getString(key);
      if (!text) return text.error().toString();
      if (!*text) continue;
      if (m) return p.path() + ": exactly one of exact, prefix, suffix, contains";
      m = NameMatcher{kind, **text};
    }
    if (!m) return p.path() + ": exactly one of exact, prefix, suffix, contains";
    // Header names are lower-case, so every match ignores case (ignore_case: false included).
    proxy_wasm::strings::lowerAsciiInPlace(m->text);
    auto ignore_case = p.getBool("ignore_case");
    if (!ignore_case) return ignore_case.error().toString();
    out.push_back(std::move(*m));
  }
  return std::nullopt;
}

void lowerCaseAll(std::vector<std::string>& names) {
  for (auto& h : names) proxy_wasm::strings::lowerAsciiInPlace(h);
}

const auto kSchema =
    config::Schema<Config>()
        .string("opa_service_host", &Config::service_host, config::kRequired | config::kNonEmpty)
        .string("opa_cluster_name", &Config::cluster, config::kRequired | config::kNonEmpty)
        .string("policy_path", &Config::policy_path, config::kNonEmpty)
        .integer("check_result_cache_valid_sec", &Config::cache_valid_sec)
        .integer("timeout_ms", &Config::timeout_ms, {1, 600'000})
        .boolean("failure_mode_allow", &Config::failure_mode_allow)
        .boolean("failure_mode_allow_header_add", &Config::failure_mode_allow_header_add)
        .integer("status_on_error", &Config::status_on_error, {200, 599})
        .integer("cache_max_entries", &Config::cache_max_entries)
        .stringList("input_headers", &Config::input_headers)
        .field("allowed_headers",
               [](const json::Value& v, Config& c) {
                 c.header_matchers = true;
                 return readMatchers(v, c.allowed_headers);
               })
        .field("disallowed_headers",
               [](const json::Value& v, Config& c) {
                 c.header_matchers = true;
                 return readMatchers(v, c.disallowed_headers);
               })
        .field("filter_enabled",
               [](const json::Value& v, Config& c) -> std::optional<std::string> {
                 auto fraction = parseFractionalPercent(v);
                 if (!fraction) return fraction.error();
                 c.enabled_per_million = *fraction;
                 return std::nullopt;
               })
        .check([](const json::Value&, Config& c) -> std::optional<std::string> {
          // "/v1/data/x/allow", "/x/allow" and "x/allow" name the same document.
          while (!c.policy_path.empty() && c.policy_path.front() == '/') c.policy_path.erase(0, 1);
          if (c.policy_path.rfind("v1/data/", 0) == 0) c.policy_path.erase(0, 8);
          lowerCaseAll(c.input_headers);
          return std::nullopt;
        });

// Reads OPA's {"result": ...}: a bool, or an object with "allow" (bool) and optionally "status",
// "headers" (object of strings) and "body".
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

// Appends `s` as a JSON string; invalid UTF-8 bytes become U+FFFD (nlohmann's "replace").
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

class Root : public RootContext {
 public:
  using RootContext::RootContext;
  bool onConfigure(std::string_view configuration) override {
    auto c = kSchema.parse(configuration);
    if (!c) {
      logWarn("open_policy_agent: ", c.error());
      return false;
    }
    config_ = std::move(*c);
    cache_.configure(config_.cache_max_entries);
    // The node's workload does not change while this configuration lives.
    workload_ = getPropertyString({"node", "metadata", "WORKLOAD_NAME"}).value_or("");
    return true;
  }
  const std::string& workload() const { return workload_; }
  const Config& config() const { return config_; }
  DecisionCache& cache() { return cache_; }

  Counter cache_count_{"policy_cache_count", {"wasm_filter", "cache"}};
  Counter allowed_{"opa.allowed"};
  Counter denied_{"opa.denied"};
  Counter errors_{"opa.error"};
  Counter timeouts_{"opa.timeout"};
  Counter disabled_{"opa.disabled"};  // passed unasked: outside filter_enabled (ext_authz's)

  bool enabledFor() { return sampler_.sample(config_.enabled_per_million); }

 private:
  Config config_;
  DecisionCache cache_;
  std::string workload_;
  FractionSampler sampler_;
};

class Stream : public HttpContext {
 public:
  using HttpContext::HttpContext;

  FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    Root& root = rootAs<Root>();
    const Config& c = root.config();
    // The failure-mode marker is ours to set: a client's copy must not reach the upstream.
    if (c.failure_mode_allow_header_add &&
        removeRequestHeader("x-envoy-auth-failure-mode-allowed") != WasmResult::Ok) {
      sendLocalResponse(c.status_on_error, "", {}, "OPA marker header not removed");
      return FilterHeadersStatus::StopIteration;
    }
    if (!root.enabledFor()) {
      root.disabled_.increment();
      return FilterHeadersStatus::Continue;
    }
    // The input document, keys sorted as upstream's (nlohmann's) serialisation. Written directly:
    // it is built for every request, cache hits included.
    body_.clear();
    body_ += R"({"input":{"destination_workload":)";
    appendJsonString(body_, root.workload());
    if (!c.input_headers.empty() || c.header_matchers) appendInputHeaders(c);
    body_ += R"(,"request_method":)";
    appendJsonString(body_, getPropertyString({"request", "method"}).value_or(""));
    body_ += R"(,"request_url_path":)";
    appendJsonString(body_, getPropertyString({"request", "url_path"}).value_or(""));
    body_ += R"(,"source_principal":)";
    appendJsonString(body_,
                     getPropertyString({"connection", "uri_san_peer_certificate"}).value_or(""));
    body_ += "}}";
    const uint64_t now = getCurrentTimeNanoseconds();
    if (const Decision* d = root.cache().find(body_, now)) {
      root.cache_count_.increment(1, {"opa_filter", "hit"});
      return apply(*d) ? FilterHeadersStatus::Continue : FilterHeadersStatus::StopIteration;
    }
    root.cache_count_.increment(1, {"opa_filter", "miss"});
    auto token = httpCall(c.cluster,
                          {{":method", "POST"},
                           {":path", "/v1/data/" + c.policy_path},
                           {":authority", c.service_host},
                           {"content-type", "application/json"}},
                          body_, {}, std::chrono::milliseconds(c.timeout_ms),
                          [](HttpContext& self, const HttpCallResponse& r) {
                            static_cast<Stream&>(self).onOpaResponse(r);
                          });
    if (!token) {
      logDebug("open_policy_agent: cannot make call to OPA policy server: ",
               abi::toString(token.error()));
      return fail("OPA policy check call failed") ? FilterHeadersStatus::Continue
                                                  : FilterHeadersStatus::StopIteration;
    }
    return FilterHeadersStatus::StopIteration;
  }

 private:
  // input.headers: the input_headers, then (with allowed/disallowed_headers) every matching
  // request header; sorted by name, repeated ones joined with ','.
  void appendInputHeaders(const Config& c) {
    std::map<std::string, std::string> headers;
    auto add = [&](const std::string& name, std::string_view value) {
      auto [it, fresh] = headers.try_emplace(name, value);
      if (!fresh) (it->second += ',') += value;
    };
    for (const auto& h : c.input_headers) {
      if (auto v = requestHeader(h)) add(h, *v);
    }
    if (c.header_matchers) {
      auto any = [](const std::vector<NameMatcher>& ms, std::string_view name) {
        for (const auto& m : ms) {
          if (m.matches(name)) return true;
        }
        return false;
      };
      for (const auto& [name, value] : requestHeaders()) {
        if (name.empty() || name[0] == ':') continue;
        if (!c.allowed_headers.empty() && !any(c.allowed_headers, name)) continue;
        if (any(c.disallowed_headers, name)) continue;
        if (std::find(c.input_headers.begin(), c.input_headers.end(), name) !=
            c.input_headers.end()) {
          continue;  // already in
        }
        add(name, value);
      }
    }
    body_ += R"(,"headers":{)";
    bool first = true;
    for (const auto& [name, value] : headers) {
      if (!first) body_ += ',';
      first = false;
      appendJsonString(body_, name);
      body_ += ':';
      appendJsonString(body_, value);
    }
    body_ += '}';
  }

  void onOpaResponse(const HttpCallResponse& r) {
    Root& root = rootAs<Root>();
    if (r.failed() || r.status() == 504) {
      if (!r.failed()) root.timeouts_.increment();
      if (fail(r.failed() ? "OPA policy check call failed" : "OPA policy check timed out")) {
        continueRequest();
      }
      return;
    }
    if (r.status() != 200) {
      logWarn("open_policy_agent: OPA answered HTTP ", r.status(), ": ", r.body());
      if (fail("OPA policy check failed")) continueRequest();
      return;
    }
    auto d = parseResult(r.body());
    if (!d) {
      logWarn("open_policy_agent: ", d.error(), ": ", r.body());
      if (fail("OPA policy check failed")) continueRequest();
      return;
    }
    // Only real decisions are cached, never errors.
    const Config& c = root.config();
    if (c.cache_valid_sec > 0) {
      root.cache().insert(body_, *d,
                          getCurrentTimeNanoseconds() + c.cache_valid_sec * 1'000'000'000);
    }
    if (apply(*d)) continueRequest();
  }

  // Returns true when the request may go on.
  bool apply(const Decision& d) {
    Root& root = rootAs<Root>();
    if (d.allow) {
      root.allowed_.increment();
      for (const auto& [k, v] : d.headers) {
        if (WasmResult r = replaceRequestHeader(k, v); r != WasmResult::Ok) {
          logWarn("open_policy_agent: the policy's header ", k, " was not set: ", r);
        }
      }
      return true;
    }
    root.denied_.increment();
    sendLocalResponse(d.status, d.body, {}, "OPA policy check denied");
    return false;
  }

  // An error: failure_mode_allow lets the request through, else status_on_error.
  bool fail(const char* details) {
    Root& root = rootAs<Root>();
    root.errors_.increment();
    if (root.config().failure_mode_allow) {
      // Envoy ext_authz's marker, so the upstream knows the check did not happen.
      if (root.config().failure_mode_allow_header_add &&
          replaceRequestHeader("x-envoy-auth-failure-mode-allowed", "true") != WasmResult::Ok) {
        logWarn("open_policy_agent: x-envoy-auth-failure-mode-allowed was not set");
      }
      return true;
    }
    sendLocalResponse(root.config().status_on_error, "", {}, details);
    return false;
  }

  std::string body_;
};

RegisterContextFactory register_opa(rootFactory<Root>(), streamFactory<Stream>());

}  // namespace
}  // namespace open_policy_agent
