#include "active_stream.h"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>
#include <random>

#include "connection_manager.h"
#include "filters/native_filter.h"
#include "filters/wasm_filter.h"
#include "path_normalization.h"
#include "proxy_stats.h"
#include "router.h"
#include "worker_state.h"

namespace wasm_proxy {

namespace asio = boost::asio;
using Step = UpstreamRequest::Step;

namespace {

uint64_t realtimeNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// A random (version 4) UUID, formatted without printf into `out`.
std::string_view requestId(std::array<char, 36>& out) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kHex[] = "0123456789abcdef";
  const uint64_t words[2] = {rng(), rng()};
  out.fill('-');
  for (int d = 0, i = 0; d < 32; ++d, ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) ++i;
    out[i] = kHex[(words[d / 16] >> (60 - 4 * (d % 16))) & 0xf];
  }
  out[14] = '4';                         // version 4
  out[19] = kHex[8 | (words[1] & 0x3)];  // variant 10xx
  return {out.data(), out.size()};
}

FilterManager::Limits limitsOf(const WorkerOptions& o) {
  return {o.max_request_body_bytes, o.max_response_body_bytes};
}

constexpr auto kNoDeadline = std::chrono::steady_clock::time_point::max();

}  // namespace

ActiveStream::ActiveStream(ConnectionManager& connection, http1::RequestParser& parser,
                           std::shared_ptr<WorkerConfig> config, const Listener& listener)
    : cm_(connection),
      parser_(parser),
      config_(std::move(config)),
      listener_(listener),
      body_(connection.socket(), connection.buffer(), parser),
      filters_(connection.socket().get_executor(), stream_, connection,
               limitsOf(connection.worker().options()),
               [this](const HttpStream& s) -> const Route* {
                 const VirtualHost* vh =
                     selectVirtualHost(listener_.routes, s.request.header(":authority"));
                 return vh != nullptr
                            ? selectRoute(*vh, s.request.header(":path"), s.request.headers)
                            : nullptr;
               }),
      keep_alive_(parser.keep_alive()) {
  stream_.request.headers = std::move(parser.headers());
  stream_.request.version = parser.version();
  stream_.info.connection = &connection.info();
  stream_.info.start_ns = realtimeNs();
  if (listener.request_timeout.count() > 0) {
    request_deadline_ = SocketDeadline::coarseNow() + listener.request_timeout;
  }
  is_head_ = stream_.request.header(":method") == "HEAD";
}

ActiveStream::~ActiveStream() {
  filters_.complete();  // the filters' last look at the stream (nothing when run() got there)
  cm_.recycleHeaders(stream_.request.headers, stream_.response.headers);
}

asio::awaitable<bool> ActiveStream::run() {
  ProxyStats::instance().downstream_rq_total->add(1);
  prepareRequestHeaders();
  createFilters();
  FilterResult r = filters_.decodeHeaders(body_.done());
  if (r == FilterResult::Paused) r = co_await filters_.resume();
  if (r != FilterResult::Continue) {
    if (!giveUp(r)) co_return false;
  } else if (ClusterPool* pool = routeRequest()) {
    if (!co_await forward(*filters_.route(), *pool)) co_return false;
  }
  // A request body not read to its end leaves the connection unusable.
  if (!body_.done()) keep_alive_ = false;
  const bool ok = co_await encode();
  filters_.complete();  // access-log time: on_log, on_done, on_delete
  co_return ok&& keep_alive_;
}

// Envoy's HCM steps before the filters: path normalization, the trust given to the client's
// own headers, the request id and x-forwarded-for.
void ActiveStream::prepareRequestHeaders() {
  VectorHeaderMap& h = stream_.request.headers;
  if (listener_.normalize_path || listener_.merge_slashes) {
    h.replace(":path", normalizePath(stream_.request.header(":path"), listener_.normalize_path,
                                     listener_.merge_slashes));
  }
  if (listener_.use_remote_address) {
    // An external client: Envoy's internal headers are not its to set.
    h.removeIf([](std::string_view k) { return k.substr(0, 8) == "x-envoy-"; });
    if (!listener_.preserve_external_request_id) h.remove("x-request-id");
  }
  if (listener_.generate_request_id && !h.get("x-request-id")) {
    std::array<char, 36> id;
    h.add("x-request-id", requestId(id));
  }
  if (!listener_.skip_xff_append) {
    const std::string& client = cm_.info().source_address;
    if (auto xff = h.get("x-forwarded-for")) {
      h.replace("x-forwarded-for", std::string(*xff) + ", " + client);
    } else {
      h.add("x-forwarded-for", client);
    }
  }
}

void ActiveStream::createFilters() {
  for (const auto& f : listener_.filters) {
    if (f.native) {
      filters_.addFilter([&](StreamFilterCallbacks& callbacks) {
        return f.native->create(callbacks, FilterContext{cm_.socket().get_executor(), config_});
      });
      continue;
    }
    if (!f.wasm) break;  // the router
    auto& plugin = *config_->plugins.at(f.wasm.get());
    auto vm = plugin.vmForNewStream();
    if (!vm) continue;
    const uint32_t root = plugin.rootId();
    const bool fail_open =
        f.wasm->plugin->failure_policy == proxy_wasm::host::FailurePolicy::FailOpen;
    filters_.addFilter([&](StreamFilterCallbacks& callbacks) {
      return std::make_unique<WasmHttpFilter>(callbacks, std::move(vm), root, fail_open);
    });
  }
}

bool ActiveStream::giveUp(FilterResult result) {
  if (result == FilterResult::GiveUp && cm_.pauseTimedOut()) {
    ProxyStats::instance().downstream_rq_timeout->add(1);
    keep_alive_ = false;
    respondLocally(408, "stream timeout", "stream_idle_timeout");
    return true;
  }
  if (result == FilterResult::TooLarge) {
    keep_alive_ = false;
    respondLocally(413, "payload too large", "request_payload_too_large");
    return true;
  }
  if (result == FilterResult::LocalReply) {
    respondLocally(filters_.localReply());
    return true;
  }
  return false;  // reset by a filter, or the client went away
}

ClusterPool* ActiveStream::routeRequest() {
  const Route* route = filters_.route();  // chosen by the headers as the filters left them
  if (route == nullptr) {
    respondLocally(404, "", "route_not_found");
  } else if (route->direct_status) {
    respondLocally(*route->direct_status, route->direct_body, "direct_response");
  } else if (ClusterPool* pool = config_->pool(route->cluster)) {
    return pool;
  } else {
    respondLocally(503, "no healthy upstream", "cluster_not_found");
  }
  return nullptr;
}

asio::awaitable<FilterResult> ActiveStream::decodeBody(std::string& data, bool end_stream) {
  if (filters_.size() != 0 && (!data.empty() || end_stream)) {
    FilterResult r = filters_.decodeData(data, end_stream);
    if (r == FilterResult::Paused) r = co_await filters_.resume();
    if (r != FilterResult::Continue) co_return r;
  }
  if (!end_stream) co_return FilterResult::Continue;
  stream_.request.trailers = std::move(parser_.trailers());
  if (stream_.request.trailers.size() == 0 || filters_.size() == 0) {
    co_return FilterResult::Continue;
  }
  const FilterResult r = filters_.decodeTrailers();
  if (r == FilterResult::Paused) co_return co_await filters_.resume();
  co_return r;
}

asio::awaitable<bool> ActiveStream::readRequestBody(
    std::string& data, std::chrono::steady_clock::time_point deadline) {
  SocketDeadline& timer = cm_.readDeadline();
  timer.arm(cm_.socket(), std::min({deadline, request_deadline_, cm_.idleDeadline()}));
  const auto ec = co_await body_.read(data);
  const bool expired = timer.expired();
  timer.disarm();
  stream_.request.body_bytes = body_.bytes();
  if (!ec) co_return true;
  keep_alive_ = false;
  if (expired) {
    ProxyStats::instance().downstream_rq_timeout->add(1);
    respondLocally(408, "request body timeout", "request_timeout");
  } else if (http1::isMalformedBody(ec)) {
    ProxyStats::instance().downstream_rq_bad->add(1);
    respondLocally(400, "bad request body: " + ec.message() + "\n", "invalid_body");
  } else {
    abort_connection_ = true;  // the client went away mid-body
  }
  co_return false;
}

asio::awaitable<bool> ActiveStream::forward(const Route& route, ClusterPool& pool) {
  Message& request = stream_.request;
  if (route.prefix_rewrite && route.match_kind == Route::MatchKind::Prefix) {
    const std::string path(request.header(":path"));
    request.headers.replace(":path", *route.prefix_rewrite + path.substr(route.match_value.size()));
  }
  if (route.host_rewrite) request.headers.replace(":authority", *route.host_rewrite);
  ProxyStats::instance().upstream_rq_total->add(1);
  const auto deadline =
      route.timeout.count() > 0 ? SocketDeadline::coarseNow() + route.timeout : kNoDeadline;

  // The first piece of the body: what the client sent with the head, through the filters.
  const bool has_body = !body_.done();
  bool eos = !has_body;
  std::string data;
  if (has_body && body_.buffered()) {
    if (!co_await readRequestBody(data, deadline)) co_return !abort_connection_;
    eos = body_.done();
  }
  if (has_body) {
    const FilterResult r = co_await decodeBody(data, eos);
    if (r != FilterResult::Continue) co_return giveUp(r);
  }
  http1::BodyShape shape;
  shape.complete = eos && request.trailers.size() == 0;  // trailers need chunked framing
  shape.known_size = data.size();
  shape.is_request = true;
  shape.method = request.header(":method");
  http1::MessageWriter writer(http1::requestHead(request.headers), request.headers, shape);
  std::string wire;
  bool framed = writer.append(wire, data, eos, &request.trailers);

  // The rest of the body, as it arrives, through the filters and out to the upstream.
  std::optional<FilterResult> stopped;
  bool client_failed = false;
  auto more = [&](std::string& piece) -> asio::awaitable<Step> {
    std::string d;
    if (!co_await readRequestBody(d, deadline)) {
      client_failed = true;
      co_return Step::Abort;
    }
    const bool at_end = body_.done();
    const FilterResult r = co_await decodeBody(d, at_end);
    if (r != FilterResult::Continue) {
      stopped = r;
      co_return Step::Abort;
    }
    framed = writer.append(piece, d, at_end, &request.trailers) && framed;
    // A filter changed the body's length under a declared Content-Length: the upstream must not
    // wait for bytes that will not come, and the connection is not reused.
    if (at_end && !framed) upstream_->endFramingBroken();
    co_return at_end ? Step::Done : Step::More;
  };
  upstream_.emplace(pool, deadline, is_head_, &cm_.spareResponseHeaders());
  if (eos && !framed) upstream_->endFramingBroken();
  const UpstreamFailure failure = co_await upstream_->send(wire, eos, more);
  stream_.info.upstream_address = upstream_->upstreamAddress();
  if (failure == UpstreamFailure::None && !client_failed && !stopped) co_return true;
  upstream_.reset();  // no response from it will be used
  if (client_failed) co_return !abort_connection_;
  if (stopped) co_return giveUp(*stopped);
  switch (failure) {
    case UpstreamFailure::Timeout:
      respondLocally(504, "upstream request timeout", "upstream_response_timeout");
      break;
    case UpstreamFailure::ConnectFail:
      respondLocally(503,
                     "upstream connect error or disconnect/reset before headers. reset reason: "
                     "connection failure",
                     "upstream_reset_before_response_started{connection_failure}");
      break;
    default:
      respondLocally(503,
                     "upstream connect error or disconnect/reset before headers. reset reason: "
                     "connection termination",
                     "upstream_reset_before_response_started{connection_termination}");
      break;
  }
  co_return true;
}

void ActiveStream::respondLocally(uint32_t status, std::string body, std::string details,
                                  const std::vector<std::pair<std::string, std::string>>& headers) {
  stream_.response = localResponse(status, std::move(body), headers);
  stream_.info.response_code_details = std::move(details);
}

void ActiveStream::respondLocally(const LocalReply& reply) {
  respondLocally(reply.status, reply.body, reply.details, reply.headers);
}

void ActiveStream::makeWriter(bool complete, size_t size) {
  Message& res = stream_.response;
  const uint32_t status = res.status();
  ProxyStats::instance().downstream_rq_xx[std::min<uint32_t>(status / 100, 5)]->add(1);
  http1::BodyShape shape;
  shape.no_body_allowed = is_head_ || status < 200 || status == 204 || status == 304;
  shape.complete = complete;
  shape.known_size = size;
  shape.peer_http11 = stream_.request.version >= 11;
  writer_.emplace(http1::responseHead(res.headers, stream_.request.version), res.headers, shape);
  if (writer_->framing() == http1::Framing::Close) keep_alive_ = false;
  if (!keep_alive_) writer_->addHeader("connection", "close");
}

asio::awaitable<bool> ActiveStream::sendDirect(const LocalReply& reply) {
  upstream_.reset();
  respondLocally(reply);
  makeWriter(true, stream_.response.body.size());
  std::string out;
  writer_->append(out, stream_.response.body, true);
  co_return co_await cm_.write(out);
}

asio::awaitable<bool> ActiveStream::encode() {
  Message& res = stream_.response;
  if (upstream_) res.headers = std::move(upstream_->response().headers());
  keep_alive_ = keep_alive_ && !cm_.worker().draining();
  std::string whole = std::move(res.body);
  res.body.clear();
  const bool streamed =
      upstream_ && !upstream_->responseDone() && !upstream_->takeWholeBuffered(whole);
  FilterResult r = filters_.encodeHeaders(!streamed && whole.empty());
  if (r == FilterResult::Paused) r = co_await filters_.resume();
  if (r == FilterResult::LocalReply) {
    upstream_.reset();
    co_return co_await sendDirect(filters_.localReply());
  }
  if (r != FilterResult::Continue) co_return false;
  // (no co_await inside a conditional expression: GCC 12 miscompiles it)
  if (streamed) co_return co_await encodeStreamed();
  co_return co_await encodeWhole(std::move(whole));
}

asio::awaitable<bool> ActiveStream::encodeTrailers() {
  FilterResult r = filters_.encodeTrailers();
  if (r == FilterResult::Paused) r = co_await filters_.resume();
  co_return r == FilterResult::Continue;
}

asio::awaitable<bool> ActiveStream::encodeWhole(std::string data) {
  Message& res = stream_.response;
  if (!data.empty()) {
    FilterResult r = filters_.encodeData(data, true);
    if (r == FilterResult::Paused) r = co_await filters_.resume();
    if (r == FilterResult::LocalReply) {
      upstream_.reset();
      co_return co_await sendDirect(filters_.localReply());
    }
    if (r != FilterResult::Continue) co_return false;
  }
  if (upstream_) {
    res.trailers = std::move(upstream_->response().trailers());
    if (res.trailers.size() != 0 && !co_await encodeTrailers()) co_return false;
  }
  res.body_bytes = data.size();
  makeWriter(res.trailers.size() == 0, data.size());
  std::string out;
  if (!writer_->append(out, data, true, &res.trailers)) keep_alive_ = false;
  if (upstream_) upstream_->finish();
  co_return co_await cm_.write(out);
}

asio::awaitable<bool> ActiveStream::encodeStreamed() {
  Message& res = stream_.response;
  std::string out, data;
  bool framed = true;
  for (;;) {
    // The head goes with the first piece, or at once when nothing is buffered yet (a slow or
    // long-polling upstream still gets its headers to the client promptly).
    if (!writer_ && !upstream_->bodyBuffered()) {
      makeWriter(false, 0);
      writer_->append(out, "", false);
      if (!co_await cm_.write(out)) co_return false;
      out.clear();
    }
    if (auto ec = co_await upstream_->readBody(data)) {
      if (!writer_) {
        const bool timeout = upstream_->timedOut();
        co_await sendDirect(LocalReply{
            timeout ? 504u : 503u,
            timeout ? "upstream request timeout" : "upstream reset",
            {},
            timeout ? "upstream_response_timeout" : "upstream_reset_after_response_started",
            -1});
      }
      co_return false;  // the client sees the response cut short, as from Envoy
    }
    const bool eos = upstream_->responseDone();
    res.body_bytes = upstream_->response().bodyBytes();
    if (eos) res.trailers = std::move(upstream_->response().trailers());
    FilterResult r = filters_.encodeData(data, eos);
    if (r == FilterResult::Paused) r = co_await filters_.resume();
    if (r == FilterResult::LocalReply || r == FilterResult::TooLarge) {
      if (writer_) co_return false;  // headers went out already: all we can do is close
      upstream_->abandon();
      if (r == FilterResult::TooLarge) {
        spdlog::warn("a filter held more than {} bytes of a response body: 500",
                     cm_.worker().options().max_response_body_bytes);
      }
      const LocalReply reply =
          r == FilterResult::LocalReply
              ? filters_.localReply()
              : LocalReply{500, "response payload too large", {}, "response_payload_too_large", -1};
      co_await sendDirect(reply);
      co_return false;
    }
    if (r != FilterResult::Continue) co_return false;
    if (eos && res.trailers.size() != 0 && !co_await encodeTrailers()) co_return false;
    if (!writer_) makeWriter(eos && res.trailers.size() == 0, data.size());
    framed = writer_->append(out, data, eos, &res.trailers) && framed;
    data.clear();
    if (!co_await cm_.write(out)) co_return false;
    out.clear();
    if (eos) break;
  }
  upstream_->finish();
  if (!framed) keep_alive_ = false;
  co_return true;
}

}  // namespace wasm_proxy
