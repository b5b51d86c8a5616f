// local_rate_limit's contexts (filter.h).
#include "filter.h"

#include <string>
#include <vector>

#include "keys.h"

using namespace proxy_wasm;

namespace local_rate_limit {

bool Root::onConfigure(std::string_view configuration) {
  auto c = parseConfig(configuration);
  if (!c) {
    logWarn("local_rate_limit: ", c.error());
    return false;
  }
  config_ = std::move(*c);
  // Keys carry the plugin's name: two filters sharing a vm_id keep separate buckets; each
  // descriptor has its own, and so has every number of windows (a reload that changes it
  // starts new buckets).
  const std::string base =
      "local_rate_limit." + getPropertyString({"plugin_name"}).value_or("") + ".";
  auto named = [&](std::string prefix, const std::vector<Window>& windows, bool single) {
    if (windows.size() > 1) prefix += strCat("w", windows.size(), ".");
    return Limit{windows, std::move(prefix), single};
  };
  limits_.clear();
  limits_.push_back(named(base, config_.windows, config_.key.empty()));
  for (size_t i = 0; i < config_.descriptors.size(); ++i) {
    limits_.push_back(named(strCat(base, "d", i, "."), config_.descriptors[i].windows, false));
  }
  store_.configure(config_.max_keys);
  if (!store_.initialise(limits_)) {
    logWarn("local_rate_limit: cannot initialise shared data");
    return false;
  }
  // Every counter is listed from the start, at 0 (a scraper sees no gap before the first use).
  for (Counter* c : {&allowed_, &limited_, &contended_, &overflow_, &errors_}) (void)c->resolve({});
  return true;
}

// The limit for the request being handled and its bucket key: the first descriptor whose
// entries all match (the key: their values), else the default limit (the key: `key`'s parts);
// nullptr when no limit applies.
const Limit* Root::limitFor(std::string* key) const {
  for (size_t i = 0; i < config_.descriptors.size(); ++i) {
    std::string values;
    bool matched = true;
    for (const DescriptorEntry& e : config_.descriptors[i].entries) {
      const std::string v = requestKey({e.source});
      if (e.value ? v != *e.value : v.empty()) {
        matched = false;
        break;
      }
      (values += v) += '|';
    }
    if (matched) {
      *key = std::move(values);
      return &limits_[i + 1];
    }
  }
  if (limits_[0].windows.empty()) return nullptr;
  *key = requestKey(config_.key);
  return &limits_[0];
}

FilterHeadersStatus Stream::onRequestHeaders(uint32_t, bool) {
  Root& root = rootAs<Root>();
  const Config& c = root.config();
  if (!root.sample(c.enabled_per_million)) return FilterHeadersStatus::Continue;
  std::string key;
  const Limit* limit = root.limitFor(&key);
  if (limit == nullptr) return FilterHeadersStatus::Continue;  // no descriptor, no default
  Verdict v = root.store().take(key, *limit);
  if (v.overflowed) root.overflow_.increment();
  if (v.error) root.errors_.increment();
  if (v.contended && v.allowed) root.contended_.increment();
  if (c.rate_limit_headers) {
    // Draft 03 with a quota policy: "10, 10;w=60" (the limit, then the limit per window).
    headers_ = {{"x-ratelimit-limit", c.quota_policy
                                          ? strCat(v.limit, ", ", v.limit, ";w=", v.window_seconds)
                                          : strCat(v.limit)},
                {"x-ratelimit-remaining", strCat(v.remaining)},
                {"x-ratelimit-reset", strCat(v.reset_seconds)}};
  }
  if (v.allowed) {
    root.allowed_.increment();
    return FilterHeadersStatus::Continue;
  }
  root.limited_.increment();
  if (c.shadow_mode || !root.sample(c.enforced_per_million)) {
    for (const auto& [k, v] : c.request_headers_to_add_when_not_enforced) {
      (void)addRequestHeader(k, v);  // informational: the request goes on either way
    }
    return FilterHeadersStatus::Continue;
  }
  HeaderList reply = headers_;
  reply.emplace_back("retry-after", strCat(v.reset_seconds == 0 ? 1 : v.reset_seconds));
  reply.insert(reply.end(), c.response_headers_to_add.begin(), c.response_headers_to_add.end());
  // For gRPC clients Envoy turns the reply into a gRPC status: 14 (UNAVAILABLE, mapped from
  // 429) unless this asks for 8 (RESOURCE_EXHAUSTED).
  sendLocalResponse(c.status, c.body, reply, "Too many requests",
                    c.rate_limited_as_resource_exhausted ? GrpcStatus::ResourceExhausted
                                                         : GrpcStatus::InvalidCode);
  headers_.clear();  // already on the local reply
  return FilterHeadersStatus::StopIteration;
}

FilterHeadersStatus Stream::onResponseHeaders(uint32_t, bool) {
  for (const auto& [k, v] : headers_) (void)replaceResponseHeader(k, v);  // informational
  return FilterHeadersStatus::Continue;
}

RegisterContextFactory register_local_rate_limit(rootFactory<Root>(), streamFactory<Stream>());

}  // namespace local_rate_limit
