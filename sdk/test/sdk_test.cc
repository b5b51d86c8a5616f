// The SDK's pure helpers, natively under ASan and UBSan. What needs a host (dispatch, callouts,
// shared state, properties) runs on the real host in sdk_on_host_test.cc.
#include <gtest/gtest.h>

#include "proxy_wasm/sdk.h"

namespace proxy_wasm {
namespace {

TEST(Sdk, LogLinesNameWasmResults) {
  EXPECT_EQ(strCat("write: ", WasmResult::CasMismatch, " after ", 3), "write: CasMismatch after 3");
}

TEST(Sdk, StrCatFormatsMixedArguments) {
  EXPECT_EQ(strCat("a", 1, '-', true, std::string_view("z"), -5, 18446744073709551615ull),
            "a1-truez-518446744073709551615");
}

}  // namespace
}  // namespace proxy_wasm
