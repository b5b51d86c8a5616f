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

Message localResponse(uint32_t status, std::string body,
                      const std::vector<std::pair<std::string, std::string>>& extra) {
  Message m;
  m.headers.add(":status", std::to_string(status));
  // The caller's headers win; a default content-type only when none is given (as Envoy).
  for (auto& [k, v] : extra) m.headers.add(k, v);
  if (!body.empty() && !m.headers.get("content-type")) m.headers.add("content-type", "text/plain");
  m.body = std::move(body);
  return m;
}

}  // namespace wasm_proxy
