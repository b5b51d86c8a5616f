#include "router.h"

#include <re2/re2.h>

#include <algorithm>

namespace wasm_proxy {
namespace {

using proxy_wasm::host::equalsIgnoreCaseAscii;
using proxy_wasm::host::lowerAscii;

bool startsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
bool endsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

bool headerMatches(const HeaderMatcher& m, const proxy_wasm::host::HeaderMap& headers) {
  auto v = headers.get(m.name);
  bool match = false;
  switch (m.kind) {
    case HeaderMatcher::Kind::Present:
      match = v.has_value() == m.present;
      break;
    case HeaderMatcher::Kind::Exact:
      match = v && *v == m.value;
      break;
    case HeaderMatcher::Kind::Prefix:
      match = v && startsWith(*v, m.value);
      break;
    case HeaderMatcher::Kind::Suffix:
      match = v && endsWith(*v, m.value);
      break;
    case HeaderMatcher::Kind::Contains:
      match = v && v->find(m.value) != std::string_view::npos;
      break;
    case HeaderMatcher::Kind::Regex:
      match = v && re2::RE2::FullMatch(re2::StringPiece(v->data(), v->size()), *m.regex);
      break;
  }
  return match != m.invert;
}

}  // namespace

const VirtualHost* selectVirtualHost(const RouteConfig& routes, std::string_view authority) {
  std::string host = lowerAscii(authority);
  const VirtualHost* best = nullptr;
  size_t best_len = 0;
  int best_rank = 4;  // 0 exact, 1 suffix wildcard, 2 prefix wildcard, 3 "*"
  for (int pass = 0; pass < 2; ++pass) {
    // Second pass: the authority without its port.
    if (pass == 1) {
      size_t colon = host.rfind(':');
      if (colon == std::string::npos || host.find(']') != std::string::npos) break;
      host.resize(colon);
    }
    for (const auto& vh : routes.virtual_hosts) {
      for (const auto& d : vh.domains) {
        int rank;
        size_t len = d.size();
        if (d == "*")
          rank = 3;
        else if (d == host)
          rank = 0;
        else if (d.size() > 1 && d[0] == '*' && endsWith(host, std::string_view(d).substr(1)))
          rank = 1;
        else if (d.size() > 1 && d.back() == '*' &&
                 startsWith(host, std::string_view(d).substr(0, d.size() - 1)))
          rank = 2;
        else
          continue;
        if (rank < best_rank || (rank == best_rank && len > best_len)) {
          best = &vh;
          best_rank = rank;
          best_len = len;
        }
      }
    }
    if (best != nullptr && best_rank < 3) return best;
  }
  return best;
}

const Route* selectRoute(const VirtualHost& vh, std::string_view path,
                         const proxy_wasm::host::HeaderMap& headers) {
  std::string_view url_path = path.substr(0, path.find('?'));
  for (const auto& r : vh.routes) {
    bool ok = false;
    switch (r.match_kind) {
      case Route::MatchKind::Prefix:
        ok = r.case_sensitive
                 ? startsWith(path, r.match_value)
                 : equalsIgnoreCaseAscii(path.substr(0, r.match_value.size()), r.match_value);
        break;
      case Route::MatchKind::Path:
        ok = r.case_sensitive ? url_path == r.match_value
                              : equalsIgnoreCaseAscii(url_path, r.match_value);
        break;
      case Route::MatchKind::Regex:
        ok =
            re2::RE2::FullMatch(re2::StringPiece(url_path.data(), url_path.size()), *r.match_regex);
        break;
    }
    if (!ok) continue;
    if (std::all_of(r.headers.begin(), r.headers.end(),
                    [&](const HeaderMatcher& m) { return headerMatches(m, headers); })) {
      return &r;
    }
  }
  return nullptr;
}

}  // namespace wasm_proxy
