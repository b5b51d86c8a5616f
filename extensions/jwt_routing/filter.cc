#include "filter.h"

#include <nettle/sha2.h>

namespace jwt_routing {

using proxy_wasm::FilterHeadersStatus;
using pwx::jwt::parseJwt;
using pwx::jwt::queryParam;
using pwx::jwt::statusText;
using pwx::jwt::tokenAfter;
using pwx::jwt::withoutParam;

namespace {

uint64_t nowMs() {
  return proxy_wasm::getCurrentTimeNanoseconds() / 1000000;
}
int64_t nowSeconds() {
  return static_cast<int64_t>(nowMs() / 1000);
}

std::string sha256Key(std::string_view s) {
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, s.size(), reinterpret_cast<const uint8_t*>(s.data()));
  std::string out(SHA256_DIGEST_SIZE, '\0');
  sha256_digest(&c, out.size(), reinterpret_cast<uint8_t*>(out.data()));
  return out;
}

// Where a provider's token is, if the request has one.
struct Found {
  std::string token;
  std::string header;  // the header it came from, or
  std::string param;   // the query parameter
};

Found findToken(const Provider& p, const proxy_wasm::HttpContext& stream) {
  Found f;
  auto fromHeader = [&](const std::string& name, std::string_view prefix, bool ignore_case) {
    if (auto v = stream.requestHeader(name)) f.token = tokenAfter(*v, prefix, ignore_case);
    if (!f.token.empty()) f.header = name;
    return !f.token.empty();
  };
  auto fromParam = [&](const std::string& name) {
    f.token = queryParam(stream.requestHeader(":path").value_or(""), name);
    if (!f.token.empty()) f.param = name;
    return !f.token.empty();
  };
  if (p.from_headers.empty() && p.from_params.empty()) {
    if (!fromHeader("authorization", "Bearer ", true)) fromParam("access_token");
    return f;
  }
  for (const auto& h : p.from_headers) {
    if (fromHeader(h.name, h.value_prefix, false)) return f;
  }
  for (const auto& name : p.from_params) {
    if (fromParam(name)) return f;
  }
  return f;
}

}  // namespace

bool Root::onConfigure(std::string_view configuration) {
  auto parsed = parseConfig(configuration);
  if (!parsed) {
    proxy_wasm::logWarn("jwt_routing: ", parsed.error());
    return false;
  }
  config_ = std::move(*parsed);
  routed_.clear();
  for (const auto& r : config_.rules) {
    routed_.push_back(
        std::make_unique<proxy_wasm::Counter>("jwt_routing.rule." + r.name + ".routed"));
  }
  remote_.clear();  // keyed by the old providers
  verified_.reset(config_.cache_size);
  return true;
}

const Jwks* Root::remoteKeys(const Provider& p, std::string_view kid) const {
  auto it = remote_.find(&p);
  if (it == remote_.end()) return nullptr;
  const uint64_t age = nowMs() - it->second.fetched_ms;
  if (age >= p.remote_jwks->cache_duration_ms) return nullptr;
  // A kid the set lacks may be a rotated key: fetch again, at most once a second.
  if (!kid.empty() && !it->second.jwks->hasKid(kid) && age >= 1000) return nullptr;
  return it->second.jwks.get();
}

bool Root::fetchedRecently(const Provider& p) const {
  auto it = remote_.find(&p);
  return it != remote_.end() && nowMs() - it->second.fetched_ms < 1000;
}

void Root::storeRemoteKeys(const Provider& p, std::shared_ptr<const Jwks> jwks) {
  remote_[&p] = CachedKeys{std::move(jwks), nowMs()};
}

FilterHeadersStatus Stream::onRequestHeaders(uint32_t, bool) {
  Root& root = rootAs<Root>();
  const Config& config = root.config();
  // Headers this plugin sets from verified claims are ours: a client's copy never goes on.
  for (const auto& h : config.managed_headers) {
    if (proxy_wasm::WasmResult r = removeRequestHeader(h); r != proxy_wasm::WasmResult::Ok) {
      proxy_wasm::logError("jwt_routing: cannot remove ", h, ": ", r);
      proxy_wasm::sendLocalResponse(500, "", {}, "jwt_routing_managed_header_not_removed");
      return FilterHeadersStatus::StopIteration;
    }
  }
  if (!config.providers.empty()) {
    return verifyAndRoute() == Step::Done ? FilterHeadersStatus::Continue
                                          : FilterHeadersStatus::StopIteration;
  }
  auto payload = proxy_wasm::getProperty(
      {"metadata", "filter_metadata", config.metadata_namespace, config.payload_key});
  if (!payload) {
    route(nullptr);
  } else {
    MetadataClaims claims(payload->toString());
    route(&claims);
  }
  return FilterHeadersStatus::Continue;
}

Stream::Step Stream::verifyAndRoute() {
  Root& root = rootAs<Root>();
  const Config& config = root.config();
  for (const Provider& p : config.providers) {
    Found found = findToken(p, *this);
    if (found.token.empty()) continue;
    const std::string cache_key = sha256Key(found.token);
    VerifiedToken* known = root.verified().find(cache_key);
    Status status = Status::Ok;
    VerifiedToken fresh;
    if (known != nullptr && known->provider == &p) {
      root.cache_hits_.increment();
    } else {
      known = nullptr;
      pwx::jwt::Jwt jwt;
      status = parseJwt(found.token, &jwt);
      if (status == Status::Ok && !p.issuer.empty() && jwt.iss != p.issuer) {
        status = Status::JwtUnknownIssuer;
      }
      if (status == Status::Ok && !pwx::jwt::audienceAllowed(jwt, p.audiences)) {
        status = Status::JwtAudienceNotAllowed;
      }
      if (status == Status::Ok) {
        const Jwks* keys = p.local_jwks ? p.local_jwks.get() : root.remoteKeys(p, jwt.kid);
        if (keys == nullptr && !fetched_ && !root.fetchedRecently(p)) {
          fetchKeys(p);
          return Step::Waiting;
        }
        status = keys != nullptr ? keys->verify(jwt) : Status::JwksFetchFail;
      }
      if (status == Status::Ok) {
        fresh = VerifiedToken{&p, std::make_shared<const nlohmann::json>(std::move(jwt.payload)),
                              jwt.exp, jwt.nbf};
        if (config.cache_size > 0) root.verified().insert(cache_key, fresh);
      }
    }
    const VerifiedToken& v = known != nullptr ? *known : fresh;
    if (status == Status::Ok) {
      pwx::jwt::Jwt times;
      times.exp = v.exp;
      times.nbf = v.nbf;
      status = pwx::jwt::checkTime(times, nowSeconds(), p.clock_skew_seconds, p.require_expiration);
    }
    if (status != Status::Ok) {
      reject(status);
      return Step::Done;
    }
    if (!p.forward) {
      if (!found.header.empty()) changed(removeRequestHeader(found.header), found.header);
      if (!found.param.empty()) {
        changed(replaceRequestHeader(
                    ":path", withoutParam(requestHeader(":path").value_or(""), found.param)),
                ":path");
      }
    }
    auto payload = v.payload;  // the cache may drop the entry while routing
    JsonClaims claims(*payload);
    route(&claims);
    return Step::Done;
  }
  if (config.require_token) {
    reject(Status::JwtMissed);
  } else {
    route(nullptr);
  }
  return Step::Done;
}

void Stream::fetchKeys(const Provider& p) {
  fetched_ = true;
  const RemoteJwks& r = *p.remote_jwks;
  auto sent = httpCall(
      r.cluster,
      {{":method", "GET"},
       {":path", r.path},
       {":authority", r.authority},
       {"accept", "application/json"}},
      "", {}, r.timeout,
      [&p](proxy_wasm::HttpContext& ctx, const proxy_wasm::HttpCallResponse& resp) {
        auto& self = static_cast<Stream&>(ctx);
        Root& root = self.rootAs<Root>();
        std::string error;
        std::shared_ptr<const Jwks> jwks;
        if (resp.failed() || resp.status() != 200) {
          error = resp.failed() ? "no response" : "HTTP " + std::to_string(resp.status());
        } else {
          jwks = Jwks::parse(resp.body(), &error);
          if (jwks && jwks->keys().empty()) error = "no usable key";
        }
        if (error.empty()) {
          root.storeRemoteKeys(p, std::move(jwks));
          root.jwks_fetched_.increment();
        } else {
          proxy_wasm::logWarn("jwt_routing: provider ", p.name, ": fetching keys failed: ", error);
          root.jwks_failed_.increment();
        }
        if (self.verifyAndRoute() == Step::Done) self.continueRequest();
      });
  if (!sent) {
    proxy_wasm::logWarn("jwt_routing: provider ", p.name, ": cannot call cluster ", r.cluster);
    rootAs<Root>().jwks_failed_.increment();
    if (verifyAndRoute() == Step::Done) continueRequest();
  }
}

void Stream::route(const Claims* claims) {
  Root& root = rootAs<Root>();
  const Config& config = root.config();
  if (claims == nullptr) {
    root.no_claims_.increment();
    return;
  }
  for (const auto& c : config.claim_to_headers) {
    if (auto value = claims->headerValue(c.claim)) {
      changed(replaceRequestHeader(c.header, *value), c.header);
    }
  }
  const Rule* rule = matchRule(config, *claims);
  if (rule == nullptr) {
    root.unmatched_.increment();
  } else {
    root.routed(*rule).increment();
    for (const auto& [name, value] : rule->set_headers) {
      changed(replaceRequestHeader(name, value), name);
    }
    if (!rule->set_authority.empty()) {
      changed(replaceRequestHeader(":authority", rule->set_authority), ":authority");
    }
  }
  // Envoy >= 1.33 recomputes the route only when asked; older hosts (ABI 0.2.1) and wasm-proxy do
  // it after any header change. Hosts without the function answer NotFound, which is fine.
  (void)proxy_wasm::callForeignFunction("clear_route_cache", "");
}

void Stream::changed(proxy_wasm::WasmResult r, std::string_view header) {
  if (r != proxy_wasm::WasmResult::Ok)
    proxy_wasm::logWarn("jwt_routing: ", header, " not set: ", r);
}

void Stream::reject(Status status) {
  rootAs<Root>().denied_.increment();
  const std::string path = requestHeader(":path").value_or("");
  const std::string realm = requestHeader(":scheme").value_or("http") + "://" +
                            requestHeader(":authority").value_or("") +
                            path.substr(0, path.find('?'));
  std::string challenge = "Bearer realm=\"" + realm + "\"";
  if (status != Status::JwtMissed) challenge += ", error=\"invalid_token\"";
  proxy_wasm::sendLocalResponse(status == Status::JwtAudienceNotAllowed ? 403 : 401,
                                statusText(status), {{"www-authenticate", challenge}},
                                "jwt_routing_denied");
}

static proxy_wasm::RegisterContextFactory register_jwt_routing(proxy_wasm::rootFactory<Root>(),
                                                               proxy_wasm::streamFactory<Stream>());

}  // namespace jwt_routing
