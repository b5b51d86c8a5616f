// Route selection: path matching with and without case_sensitive (Envoy's RouteMatch).
#include "router.h"

#include <gtest/gtest.h>

namespace wasm_proxy {
namespace {

Route route(Route::MatchKind kind, std::string value, bool case_sensitive, std::string cluster) {
  Route r;
  r.match_kind = kind;
  r.match_value = std::move(value);
  r.case_sensitive = case_sensitive;
  r.cluster = std::move(cluster);
  return r;
}

std::string clusterFor(const VirtualHost& vh, std::string_view path) {
  proxy_wasm::host::VectorHeaderMap headers;
  const Route* r = selectRoute(vh, path, headers);
  return r == nullptr ? "<none>" : r->cluster;
}

TEST(Router, CaseInsensitivePrefixAndPathMatchAnyCase) {
  VirtualHost vh;
  vh.routes.push_back(route(Route::MatchKind::Path, "/Exact/Path", false, "exact"));
  vh.routes.push_back(route(Route::MatchKind::Prefix, "/Api/V1", false, "api"));
  EXPECT_EQ(clusterFor(vh, "/exact/PATH?q=1"), "exact");  // the query is not part of the path
  EXPECT_EQ(clusterFor(vh, "/exact/path/more"), "<none>");
  EXPECT_EQ(clusterFor(vh, "/API/v1/users"), "api");
  EXPECT_EQ(clusterFor(vh, "/api/v"), "<none>");  // shorter than the prefix
  EXPECT_EQ(clusterFor(vh, "/api/v2"), "<none>");
}

TEST(Router, CaseSensitiveIsTheDefaultAndComparesBytes) {
  VirtualHost vh;
  vh.routes.push_back(route(Route::MatchKind::Prefix, "/Api", true, "api"));
  vh.routes.push_back(route(Route::MatchKind::Prefix, "/", true, "fallback"));
  EXPECT_EQ(clusterFor(vh, "/Api/x"), "api");
  EXPECT_EQ(clusterFor(vh, "/api/x"), "fallback");
  EXPECT_TRUE(Route{}.case_sensitive);
}

}  // namespace
}  // namespace wasm_proxy
