#include "path_normalization.h"

#include <vector>

namespace wasm_proxy {

namespace {

// "%2e" / "%2E" as '.', so that encoded dot segments are segments too (as Envoy decodes
// unreserved characters before removing them).
std::string decodeDots(std::string_view path) {
  std::string out;
  out.reserve(path.size());
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() && path[i + 1] == '2' &&
        (path[i + 2] == 'e' || path[i + 2] == 'E')) {
      out.push_back('.');
      i += 2;
    } else {
      out.push_back(path[i]);
    }
  }
  return out;
}

std::string removeDotSegments(std::string_view path) {
  std::vector<std::string_view> kept;
  size_t at = path.empty() || path[0] != '/' ? 0 : 1;
  bool trailing_slash = false;
  while (at <= path.size()) {
    const size_t slash = path.find('/', at);
    const std::string_view seg =
        path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
    trailing_slash = false;
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
      trailing_slash = true;
    } else if (seg == ".") {
      trailing_slash = true;
    } else {
      kept.push_back(seg);
    }
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  std::string out;
  for (const auto& seg : kept) out.append("/").append(seg);
  if (out.empty() || trailing_slash) out.push_back('/');
  return out;
}

}  // namespace

std::string normalizePath(std::string_view target, bool dots, bool merge) {
  const size_t q = target.find('?');
  std::string path(target.substr(0, q));
  if (dots) path = removeDotSegments(decodeDots(path));
  if (merge) {
    std::string merged;
    merged.reserve(path.size());
    for (char c : path) {
      if (c == '/' && !merged.empty() && merged.back() == '/') continue;
      merged.push_back(c);
    }
    path = std::move(merged);
  }
  if (q != std::string_view::npos) path.append(target.substr(q));
  return path;
}

}  // namespace wasm_proxy
