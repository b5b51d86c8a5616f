// Expectations shared by the extensions' native configuration tests (test/config_test.cc): a
// configuration's parse error as text, and a table of refused configurations with the text
// their errors must contain (the field's JSON path and what is wrong).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pwx::testing {

// The error `parse` gives for `json`, or "<accepted>".
template <class Parse>
std::string errorOf(Parse parse, std::string_view json) {
  auto config = parse(json);
  return config ? std::string("<accepted>") : std::string(config.error());
}

// Each case is a configuration that `parse` must refuse with an error containing the text.
template <class Parse>
void expectRefused(Parse parse, const std::vector<std::pair<std::string, std::string>>& cases) {
  for (const auto& [json, error] : cases) {
    const std::string got = errorOf(parse, json);
    EXPECT_NE(got.find(error), std::string::npos) << json << "\n  -> " << got;
  }
}

}  // namespace pwx::testing
