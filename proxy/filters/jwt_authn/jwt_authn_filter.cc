#include "filters/jwt_authn/jwt_authn_filter.h"

#include <spdlog/spdlog.h>

#include "proxy_wasm/host/shared_state.h"
#include "upstream/upstream_exchange.h"
#include "worker_state.h"

namespace wasm_proxy::jwt_authn {

namespace asio = boost::asio;
using proxy_wasm::host::Metric;
using proxy_wasm::host::MetricsRegistry;
using proxy_wasm::host::MetricType;

namespace {

// Envoy's names (http.<prefix>.jwt_authn.*).
struct Stats {
  Metric* allowed;
  Metric* denied;
  Metric* jwks_fetch_success;
  Metric* jwks_fetch_failed;
  static Stats& get() {
    static Stats s = [] {
      auto& r = MetricsRegistry::instance();
      return Stats{r.define(MetricType::Counter, "http.jwt_authn.allowed"),
                   r.define(MetricType::Counter, "http.jwt_authn.denied"),
                   r.define(MetricType::Counter, "http.jwt_authn.jwks_fetch_success"),
                   r.define(MetricType::Counter, "http.jwt_authn.jwks_fetch_failed")};
    }();
    return s;
  }
};

// A claim by dotted path; only scalars become header values (as Envoy: no arrays or objects).
std::optional<std::string> claimValue(const nlohmann::json& payload, std::string_view name) {
  const nlohmann::json* v = &payload;
  while (!name.empty()) {
    const std::string_view key = name.substr(0, name.find('.'));
    if (!v->is_object()) return std::nullopt;
    auto it = v->find(std::string(key));
    if (it == v->end()) return std::nullopt;
    v = &*it;
    name.remove_prefix(std::min(name.size(), key.size() + 1));
  }
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean()) return v->get<bool>() ? "true" : "false";
  if (v->is_number()) return v->dump();
  return std::nullopt;
}

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::unique_ptr<StreamFilter> FilterConfig::create(StreamFilterCallbacks& callbacks,
                                                   const FilterContext& context) const {
  return std::make_unique<JwtAuthnFilter>(callbacks, context, config_);
}

std::vector<std::string> FilterConfig::clusters() const {
  std::vector<std::string> out;
  for (const auto& [name, p] : config_->providers) {
    if (p.remote_jwks) out.push_back(p.remote_jwks->cluster);
  }
  return out;
}

std::shared_ptr<const NativeFilterConfig> parseFilter(const YAML::Node& typed_config,
                                                      const std::string& path,
                                                      const std::string& base_dir) {
  return std::make_shared<FilterConfig>(parseJwtAuthn(typed_config, path, base_dir));
}

JwtAuthnFilter::JwtAuthnFilter(StreamFilterCallbacks& callbacks, FilterContext context,
                               std::shared_ptr<const JwtAuthnConfig> config)
    : callbacks_(callbacks), context_(std::move(context)), config_(std::move(config)) {}

JwtAuthnFilter::~JwtAuthnFilter() {
  *alive_ = false;
}

HeadersStatus JwtAuthnFilter::decodeHeaders(bool) {
  // Headers this filter writes are the verified tokens' word only.
  auto& headers = callbacks_.stream().request.headers;
  for (const auto& h : config_->managed_headers) headers.remove(h);
  const JwtRule* rule = config_->ruleFor(callbacks_.stream().request.header(":path"));
  if (rule == nullptr || !rule->requirement) return HeadersStatus::Continue;
  requirement_ = &*rule->requirement;
  // A rejection is a local reply, which ends the iteration.
  return decide() == Decision::Accepted ? HeadersStatus::Continue : HeadersStatus::StopIteration;
}

JwtAuthnFilter::Decision JwtAuthnFilter::decide() {
  results_.clear();
  to_fetch_.clear();
  Status status = Status::Ok;
  if (evaluate(*requirement_, &status) == Outcome::NeedsKeys) {
    fetchKeys();
    return Decision::Pending;
  }
  if (status == Status::Ok) {
    accept();
    return Decision::Accepted;
  }
  reject(status);
  return Decision::Rejected;
}

JwtAuthnFilter::Outcome JwtAuthnFilter::evaluate(const Requirement& r, Status* status) {
  using Kind = Requirement::Kind;
  switch (r.kind) {
    case Kind::Provider:
      return checkProvider(*r.provider, status);
    case Kind::All:
      for (const auto& c : r.children) {
        if (evaluate(c, status) == Outcome::NeedsKeys) return Outcome::NeedsKeys;
        if (*status != Status::Ok) return Outcome::Done;
      }
      return Outcome::Done;
    case Kind::Any: {
      // Satisfied by any child; otherwise the first failure that is not a missing token.
      Status failure = Status::JwtMissed;
      bool pending = false;
      for (const auto& c : r.children) {
        Status s = Status::Ok;
        if (evaluate(c, &s) == Outcome::NeedsKeys) {
          pending = true;
        } else if (s == Status::Ok) {
          *status = Status::Ok;
          return Outcome::Done;
        } else if (failure == Status::JwtMissed) {
          failure = s;
        }
      }
      *status = failure;
      return pending ? Outcome::NeedsKeys : Outcome::Done;
    }
    case Kind::AllowMissing:
    case Kind::AllowMissingOrFailed: {
      // Every provider's locations: valid tokens are used; a missing one (or, for
      // allow_missing_or_failed, any failure) still lets the request through.
      Status any = Status::JwtMissed;
      bool pending = false;
      for (const auto& [name, p] : config_->providers) {
        Status s = Status::Ok;
        if (checkProvider(p, &s) == Outcome::NeedsKeys) {
          pending = true;
        } else if (s != Status::JwtMissed && any != Status::Ok) {
          any = s;
        }
      }
      if (pending) return Outcome::NeedsKeys;
      *status = any == Status::JwtMissed || r.kind == Kind::AllowMissingOrFailed ? Status::Ok : any;
      return Outcome::Done;
    }
  }
  return Outcome::Done;
}

JwtAuthnFilter::Verified JwtAuthnFilter::extract(const JwtProvider& p) const {
  const Message& req = callbacks_.stream().request;
  Verified v;
  auto fromHeader = [&](const std::string& name, std::string_view prefix, bool ignore_case) {
    if (auto value = req.headers.get(name)) {
      v.token = tokenAfter(*value, prefix, ignore_case);
      if (!v.token.empty()) v.header = name;
    }
    return !v.token.empty();
  };
  auto fromParam = [&](const std::string& name) {
    v.token = queryParam(req.header(":path"), name);
    if (!v.token.empty()) v.param = name;
    return !v.token.empty();
  };
  if (p.from_headers.empty() && p.from_params.empty()) {
    if (!fromHeader("authorization", "Bearer ", true)) fromParam("access_token");
    return v;
  }
  for (const auto& h : p.from_headers) {
    if (fromHeader(h.name, h.value_prefix, false)) return v;
  }
  for (const auto& name : p.from_params) {
    if (fromParam(name)) return v;
  }
  return v;
}

JwtAuthnFilter::Outcome JwtAuthnFilter::checkProvider(const JwtProvider& p, Status* status) {
  if (auto done = results_.find(&p); done != results_.end()) {
    *status = done->second.status;
    return Outcome::Done;
  }
  Verified v = extract(p);
  if (v.token.empty()) {
    *status = Status::JwtMissed;
  } else if (auto known = p.cache->find(v.token)) {  // verified before: only time can change
    v.jwt = known;
    *status = checkTime(*known, nowSeconds(), p.clock_skew_seconds, p.require_expiration);
  } else {
    auto jwt = std::make_shared<Jwt>();
    *status = parseJwt(v.token, jwt.get());
    if (*status == Status::Ok && !p.issuer.empty() && jwt->iss != p.issuer) {
      *status = Status::JwtUnknownIssuer;
    }
    if (*status == Status::Ok) {
      *status = checkTime(*jwt, nowSeconds(), p.clock_skew_seconds, p.require_expiration);
    }
    if (*status == Status::Ok && !audienceAllowed(*jwt, p.audiences)) {
      *status = Status::JwtAudienceNotAllowed;
    }
    if (*status == Status::Ok) {
      const Jwks* keys = nullptr;
      if (!keysFor(p, *jwt, &keys, status)) return Outcome::NeedsKeys;
      if (keys != nullptr) *status = keys->verify(*jwt);
    }
    if (*status == Status::Ok) p.cache->insert(v.token, jwt);
    v.jwt = std::move(jwt);
  }
  v.status = *status;
  results_.emplace(&p, std::move(v));
  return Outcome::Done;
}

// The provider's keys for `jwt`: local ones, or the cached remote set when it is fresh and knows
// the token's kid. false when this stream must fetch the set first.
bool JwtAuthnFilter::keysFor(const JwtProvider& p, const Jwt& jwt, const Jwks** keys,
                             Status* status) {
  if (p.local_jwks) {
    *keys = p.local_jwks.get();
    return true;
  }
  const RemoteJwks& remote = *p.remote_jwks;
  const JwksCache::Entry cached = remote.cache->get();
  if (auto f = fetched_.find(&p); f != fetched_.end()) {
    if (!f->second && !cached.jwks) {
      *status = Status::JwksFetchFail;
      return true;
    }
    *keys = cached.jwks.get();
    if (*keys == nullptr) *status = Status::JwksFetchFail;
    return true;
  }
  const auto now = std::chrono::steady_clock::now();
  const bool stale = !cached.jwks || now - cached.fetched >= remote.cache_duration;
  const bool unknown_kid = cached.jwks && !jwt.kid.empty() && !cached.jwks->hasKid(jwt.kid) &&
                           now - cached.fetched >= remote.refetch_interval;
  if (stale || unknown_kid) {
    to_fetch_.insert(&p);
    return false;
  }
  *keys = cached.jwks.get();
  return true;
}

void JwtAuthnFilter::fetchKeys() {
  auto pending = std::make_shared<size_t>(to_fetch_.size());
  for (const JwtProvider* p : to_fetch_) {
    fetched_[p] = false;
    ClusterPool* pool = context_.config->pool(p->remote_jwks->cluster);
    auto request = std::make_shared<Message>();
    request->headers.add(":method", "GET");
    request->headers.add(":path", p->remote_jwks->path);
    request->headers.add(":authority", p->remote_jwks->authority);
    request->headers.add(":scheme", "http");
    request->headers.add("accept", "application/json");
    std::weak_ptr<bool> alive = alive_;
    auto config = context_.config;  // keeps the pool alive
    asio::co_spawn(
        context_.executor,
        [this, alive, config, pool, p, request, pending]() -> asio::awaitable<void> {
          CalloutResult r = co_await fetchWhole(*pool, *request, p->remote_jwks->timeout);
          std::string error;
          std::shared_ptr<const Jwks> jwks;
          if (r.failure != UpstreamFailure::None) {
            error = "cluster " + p->remote_jwks->cluster + " did not answer";
          } else if (r.response.status() != 200) {
            error = "HTTP " + std::to_string(r.response.status());
          } else {
            jwks = Jwks::parse(r.response.body, &error);
            if (jwks && jwks->keys().empty()) error = "no usable key";
          }
          if (error.empty()) {
            p->remote_jwks->cache->put(jwks, std::chrono::steady_clock::now());
            Stats::get().jwks_fetch_success->add(1);
          } else {
            spdlog::warn("jwt_authn: provider {}: fetching {} failed: {}", p->name,
                         p->remote_jwks->uri, error);
            Stats::get().jwks_fetch_failed->add(1);
          }
          auto live = alive.lock();
          if (!live || !*live) co_return;  // the stream is gone
          fetched_[p] = error.empty();
          if (--*pending != 0) co_return;
          if (decide() == Decision::Accepted) callbacks_.continueDecoding();
        },
        asio::detached);
  }
}

void JwtAuthnFilter::accept() {
  Stats::get().allowed->add(1);
  HttpStream& stream = callbacks_.stream();
  auto& headers = stream.request.headers;
  bool changed = false;
  for (auto& [p, v] : results_) {
    if (v.status != Status::Ok) continue;
    if (!p->forward) {
      if (!v.header.empty()) headers.remove(v.header);
      if (!v.param.empty()) {
        headers.replace(":path", withoutParam(stream.request.header(":path"), v.param));
      }
    }
    if (!p->forward_payload_header.empty()) {
      std::string b64 = base64UrlEncode(v.jwt->payload_json);
      if (p->pad_forward_payload_header) b64.append((4 - b64.size() % 4) % 4, '=');
      headers.replace(p->forward_payload_header, b64);
    }
    if (!p->payload_in_metadata.empty()) {
      stream.info.dynamic_metadata[std::string(kMetadataNamespace)][p->payload_in_metadata] =
          v.jwt->payload;
      changed = true;
    }
    for (const auto& c : p->claim_to_headers) {
      if (auto value = claimValue(v.jwt->payload, c.claim_name)) {
        headers.replace(c.header_name, *value);
        changed = true;
      }
    }
    if (changed && p->clear_route_cache) callbacks_.clearRouteCache();
  }
}

void JwtAuthnFilter::reject(Status status) {
  Stats::get().denied->add(1);
  const Message& req = callbacks_.stream().request;
  const std::string_view path = req.header(":path");
  std::string scheme(req.header(":scheme"));
  std::string realm = (scheme.empty() ? "http" : scheme) + "://" +
                      std::string(req.header(":authority")) +
                      std::string(path.substr(0, path.find('?')));
  std::string challenge = "Bearer realm=\"" + realm + "\"";
  if (status != Status::JwtMissed) challenge += ", error=\"invalid_token\"";
  LocalReply reply;
  reply.status = status == Status::JwtAudienceNotAllowed ? 403 : 401;
  reply.body = std::string(statusText(status));
  reply.headers.emplace_back("www-authenticate", std::move(challenge));
  reply.details = "jwt_authn_access_denied{" + reply.body + "}";
  for (char& c : reply.details) {
    if (c == ' ') c = '_';
  }
  callbacks_.sendLocalReply(std::move(reply));
}

}  // namespace wasm_proxy::jwt_authn
