// open_policy_agent's contexts (filter.h).
#include "filter.h"

#include <algorithm>
#include <map>

using namespace proxy_wasm;

namespace open_policy_agent {

bool Root::onConfigure(std::string_view configuration) {
  auto c = parseConfig(configuration);
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

FilterHeadersStatus Stream::onRequestHeaders(uint32_t, bool) {
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

void Stream::appendInputHeaders(const Config& c) {
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

void Stream::onOpaResponse(const HttpCallResponse& r) {
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
    root.cache().insert(body_, *d, getCurrentTimeNanoseconds() + c.cache_valid_sec * 1'000'000'000);
  }
  if (apply(*d)) continueRequest();
}

bool Stream::apply(const Decision& d) {
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

bool Stream::fail(const char* details) {
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

static RegisterContextFactory register_opa(rootFactory<Root>(), streamFactory<Stream>());

}  // namespace open_policy_agent
