#include "message.h"

#include <charconv>

namespace wasm_proxy {

uint32_t Message::status() const {
  auto s = headers.get(":status");
  if (!s) return 0;
  uint32_t v = 0;
  std::from_chars(s->data(), s->data() + s->size(), v);
  return v;
}

Message fromBeast(http::request<http::string_body>&& req, std::string_view scheme) {
  Message m;
  m.version = req.version();
  m.headers.add(":method", std::string(req.method_string()));
  m.headers.add(":path", std::string(req.target()));
  m.headers.add(":authority", std::string(req[http::field::host]));
  m.headers.add(":scheme", scheme);
  for (const auto& f : req) {
    if (f.name() == http::field::host) continue;
    m.headers.add(std::string(f.name_string()), std::string(f.value()));
  }
  m.body = std::move(req.body());
  return m;
}

Message fromBeast(http::response<http::string_body>&& res) {
  Message m;
  m.version = res.version();
  m.headers.add(":status", std::to_string(res.result_int()));
  for (const auto& f : res) m.headers.add(std::string(f.name_string()), std::string(f.value()));
  m.body = std::move(res.body());
  return m;
}

namespace {
// Hop-by-hop and framing headers are recomputed for each side.
bool isFraming(std::string_view key) {
  return key == "content-length" || key == "transfer-encoding" || key == "connection" ||
         key == "keep-alive" || key == "te" || key == "upgrade" || key == "proxy-connection";
}
}  // namespace

http::request<http::string_body> toBeastRequest(const Message& m) {
  http::request<http::string_body> req;
  req.version(11);
  m.headers.forEach([&](std::string_view k, std::string_view v) {
    if (k == ":method") {
      req.method_string(v);
    } else if (k == ":path") {
      req.target(v);
    } else if (k == ":authority") {
      req.set(http::field::host, v);
    } else if (!k.empty() && k[0] == ':') {
      return;
    } else if (!isFraming(k)) {
      req.insert(k, v);
    }
  });
  req.body() = m.body;
  if (!m.body.empty() || req.method() == http::verb::post || req.method() == http::verb::put ||
      req.method() == http::verb::patch) {
    req.prepare_payload();
  }
  req.keep_alive(true);
  return req;
}

http::response<http::string_body> toBeastResponse(const Message& m) {
  http::response<http::string_body> res;
  res.version(m.version == 10 ? 10 : 11);
  res.result(m.status() == 0 ? 502 : m.status());
  m.headers.forEach([&](std::string_view k, std::string_view v) {
    if (k.empty() || k[0] == ':' || isFraming(k)) return;
    res.insert(k, v);
  });
  res.body() = m.body;
  res.prepare_payload();
  return res;
}

Message localResponse(uint32_t status, std::string body,
                      const std::vector<std::pair<std::string, std::string>>& extra) {
  Message m;
  m.headers.add(":status", std::to_string(status));
  if (!body.empty()) m.headers.add("content-type", "text/plain");
  for (auto& [k, v] : extra) m.headers.add(k, v);
  m.body = std::move(body);
  return m;
}

}  // namespace wasm_proxy
