// envoy.filters.http.jwt_authn in wasm-proxy: verifies the JWTs a request carries against the
// requirement of the first rule its path matches, then forwards what the verified tokens say
// (payload in dynamic metadata, claims and payload in headers) or answers 401/403 as Envoy does.
// Remote key sets are fetched through the provider's cluster on first use, cached for
// cache_duration and fetched again (rate-limited) when a token names a kid the set lacks.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "filters/jwt_authn/config.h"
#include "filters/native_filter.h"

namespace wasm_proxy::jwt_authn {

// Dynamic metadata namespace of the payloads (payload_in_metadata).
inline constexpr std::string_view kMetadataNamespace = "envoy.filters.http.jwt_authn";

class FilterConfig final : public NativeFilterConfig {
 public:
  explicit FilterConfig(std::shared_ptr<const JwtAuthnConfig> config)
      : config_(std::move(config)) {}
  std::unique_ptr<StreamFilter> create(StreamFilterCallbacks& callbacks,
                                       const FilterContext& context) const override;
  std::vector<std::string> clusters() const override;

 private:
  std::shared_ptr<const JwtAuthnConfig> config_;
};

std::shared_ptr<const NativeFilterConfig> parseFilter(const YAML::Node& typed_config,
                                                      const std::string& path,
                                                      const std::string& base_dir);

class JwtAuthnFilter final : public StreamFilter {
 public:
  JwtAuthnFilter(StreamFilterCallbacks& callbacks, FilterContext context,
                 std::shared_ptr<const JwtAuthnConfig> config);
  ~JwtAuthnFilter() override;

  HeadersStatus decodeHeaders(bool end_stream) override;
  DataStatus decodeData(std::string&, bool) override { return DataStatus::Continue; }
  TrailersStatus decodeTrailers() override { return TrailersStatus::Continue; }
  HeadersStatus encodeHeaders(bool) override { return HeadersStatus::Continue; }
  DataStatus encodeData(std::string&, bool) override { return DataStatus::Continue; }
  TrailersStatus encodeTrailers() override { return TrailersStatus::Continue; }

 private:
  // Where a provider found its token, and what verifying it gave.
  struct Verified {
    Status status = Status::JwtMissed;
    std::string header;  // the header it came from, or
    std::string param;   // the query parameter
    std::string token;
    std::shared_ptr<const Jwt> jwt;  // parsed (verified when status is Ok)
  };
  enum class Outcome { Done, NeedsKeys };
  enum class Decision { Accepted, Rejected, Pending };

  Outcome evaluate(const Requirement& r, Status* status);
  Outcome checkProvider(const JwtProvider& p, Status* status);
  Verified extract(const JwtProvider& p) const;
  bool keysFor(const JwtProvider& p, const Jwt& jwt, const Jwks** keys, Status* status);
  // Runs the rule's requirement: accepts (headers, metadata), rejects (local reply), or starts
  // fetching the key sets it needs (and decides again when they are in).
  Decision decide();
  void accept();
  void reject(Status status);
  void fetchKeys();

  StreamFilterCallbacks& callbacks_;
  FilterContext context_;
  std::shared_ptr<const JwtAuthnConfig> config_;
  const Requirement* requirement_ = nullptr;
  std::map<const JwtProvider*, Verified> results_;
  std::set<const JwtProvider*> to_fetch_;       // remote sets this stream must fetch
  std::map<const JwtProvider*, bool> fetched_;  // fetched for this stream: succeeded?
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace wasm_proxy::jwt_authn
