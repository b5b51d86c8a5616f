// scaffold's configuration, natively under ASan and UBSan: the defaults, the one field, and that
// every refused value is refused with its JSON path.
#include <gtest/gtest.h>

#include "config.h"
#include "testing/config_expectations.h"

namespace scaffold {
namespace {

using pwx::testing::expectRefused;

TEST(ScaffoldConfig, NoConfigurationMeansTheDefaults) {
  for (const char* json : {"", "{}"}) {
    auto c = parseConfig(json);
    ASSERT_TRUE(c) << json << ": " << c.error();
    EXPECT_TRUE(c->response_headers_to_add.empty());
  }
}

TEST(ScaffoldConfig, ResponseHeadersToAdd) {
  auto c = parseConfig(R"({"response_headers_to_add": {"x-powered-by": "scaffold", "x-b": ""}})");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->response_headers_to_add, (std::vector<std::pair<std::string, std::string>>{
                                            {"x-b", ""}, {"x-powered-by", "scaffold"}}))
      << "by name (a JSON object has no order)";
}

TEST(ScaffoldConfig, RefusedValuesNameTheirPath) {
  expectRefused(parseConfig, {
                                 {"not json", "not valid JSON"},
                                 {"[1]", "configuration must be a JSON object, got array"},
                                 {R"({"response_header": {}})", "response_header: unknown field"},
                                 {R"({"response_headers_to_add": []})",
                                  "response_headers_to_add: expected object"},
                                 {R"({"response_headers_to_add": {"x-a": 1}})",
                                  "response_headers_to_add.x-a: expected string"},
                                 {R"({"response_headers_to_add": {":status": "500"}})",
                                  "response_headers_to_add.:status: not a header name"},
                             });
}

}  // namespace
}  // namespace scaffold
