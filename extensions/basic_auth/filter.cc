// basic_auth's contexts (filter.h): the configuration per VM, the check per request, and the
// headers that say who passed.
#include "filter.h"

#include "proxy_wasm/sdk/strings.h"

namespace basic_auth {
namespace {

// Set to "true" on requests that continue as the anonymous consumer (Kong's header).
constexpr std::string_view kAnonymousHeader = "x-anonymous-consumer";

}  // namespace

bool Root::onConfigure(std::string_view configuration) {
  auto parsed = parseConfig(configuration);
  if (!parsed) {
    proxy_wasm::logWarn("basic_auth: ", parsed.error());
    return false;
  }
  config_ = std::move(*parsed);  // replaces the rules (upstream accumulated them)
  cache_ = VerifiedCache();      // entries name passwords of the old configuration
  if (!cache_.keyed()) proxy_wasm::logWarn("basic_auth: no entropy for the credential cache key");
  proxy_wasm::logDebug("basic_auth: ", config_.rules.size(), " rule(s), ", config_.consumers.size(),
                       " consumer credential(s)");
  return true;
}

proxy_wasm::FilterHeadersStatus Stream::continueUnlessIdentityFailed() {
  if (identity_failure_ == proxy_wasm::WasmResult::Ok) {
    return proxy_wasm::FilterHeadersStatus::Continue;
  }
  proxy_wasm::logError("basic_auth: cannot set the identity headers: ", identity_failure_);
  proxy_wasm::sendLocalResponse(500, "", {}, "basic_auth_identity_headers_failed");
  return proxy_wasm::FilterHeadersStatus::StopIteration;
}

proxy_wasm::FilterHeadersStatus Stream::onRequestHeaders(uint32_t, bool) {
  Root& root = rootAs<Root>();
  const Config& config = root.config();
  // The forwarded user is ours to set: a client's own copy never reaches the upstream.
  const std::string& forward = config.forward_username_header;
  if (config.rules.empty()) {
    if (!forward.empty()) identity(removeRequestHeader(forward));
    if (!config.anonymous.empty()) identity(removeRequestHeader(kAnonymousHeader));
    return continueUnlessIdentityFailed();
  }
  // One hostcall for the four headers a check reads (each single lookup is a hostcall plus an
  // allocation in the plugin).
  auto all = proxy_wasm::getHeaderMapPairs(proxy_wasm::MapType::HttpRequestHeaders);
  std::string_view method, path, host;
  std::optional<std::string_view> authorization;
  bool client_sent_forward = false;
  const proxy_wasm::HeaderViews headers = all ? all->pairs() : proxy_wasm::HeaderViews{};
  for (const auto& [key, value] : headers) {
    if (!forward.empty() && proxy_wasm::strings::equalsIgnoreCaseAscii(key, forward))
      client_sent_forward = true;
    if (key == ":method") {
      method = value;
    } else if (key == ":path") {
      path = value;
    } else if (key == ":authority") {
      host = value;
    } else if (key == config.authentication_header && !authorization) {
      authorization = value;
    } else if (!config.anonymous.empty() && key == kAnonymousHeader) {
      identity(removeRequestHeader(kAnonymousHeader));  // ours to set
    }
  }
  Decision d = check(config, method, host, path, authorization, &root.cache());
  if (!d.regex_over_limit.empty()) {
    proxy_wasm::logWarn("basic_auth: regex '", d.regex_over_limit,
                        "' exceeded its match limits; the rule applies");
  }
  switch (d.kind) {
    case Decision::Kind::Allow:
      if (!d.user.empty()) {
        root.allowed_.increment();
        if (!forward.empty()) identity(replaceRequestHeader(forward, d.user));
        if (config.strip_authorization) identity(removeRequestHeader(config.authentication_header));
      } else if (client_sent_forward) {
        identity(removeRequestHeader(forward));  // no rule applied: nobody was authenticated
      }
      return continueUnlessIdentityFailed();
    case Decision::Kind::NoCredentials:
    case Decision::Kind::InvalidCredentials:
      if (!config.anonymous.empty()) {  // Kong: continue as the anonymous consumer
        root.anonymous_.increment();
        if (!forward.empty())
          identity(replaceRequestHeader(forward, config.anonymous));
        else if (client_sent_forward)
          identity(removeRequestHeader(forward));
        identity(replaceRequestHeader(kAnonymousHeader, "true"));
        if (config.strip_authorization) identity(removeRequestHeader(config.authentication_header));
        return continueUnlessIdentityFailed();
      }
      root.denied_.increment();
      proxy_wasm::sendLocalResponse(
          401, "", {{"WWW-Authenticate", challenge(config.realm)}},
          d.kind == Decision::Kind::NoCredentials
              ? "Request denied by Basic Auth check. No Basic Authentication information found."
              : "Request denied by Basic Auth check. Invalid username and/or password");
      return proxy_wasm::FilterHeadersStatus::StopIteration;
    case Decision::Kind::Forbidden:
      root.denied_.increment();
      proxy_wasm::sendLocalResponse(403, "", {},
                                    "Request denied by Basic Auth check. User is not allowed.");
      return proxy_wasm::FilterHeadersStatus::StopIteration;
  }
  return proxy_wasm::FilterHeadersStatus::Continue;
}

static proxy_wasm::RegisterContextFactory register_basic_auth(proxy_wasm::rootFactory<Root>(),
                                                              proxy_wasm::streamFactory<Stream>());

}  // namespace basic_auth
