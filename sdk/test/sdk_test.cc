// The SDK's pure helpers, natively under ASan and UBSan. What needs a host (dispatch, callouts,
// shared state, properties) runs on the real host in sdk_on_host_test.cc.
#include <gtest/gtest.h>

#include "proxy_wasm/sdk.h"

namespace proxy_wasm {
namespace {

// A module exports a stream callback only when a registered class overrides it: what counts.
struct OverridesHeaders : HttpContext {
  using HttpContext::HttpContext;
  FilterHeadersStatus onRequestHeaders(uint32_t, bool) override {
    return FilterHeadersStatus::Continue;
  }
};
struct InheritsAnOverride : OverridesHeaders {  // through an intermediate class
  using OverridesHeaders::OverridesHeaders;
};
struct OverloadsTheName : HttpContext {  // a helper of the same name: assumed overridden
  using HttpContext::HttpContext;
  using HttpContext::onLog;
  void onLog(int) {}
};
struct RedeclaresTheBase : HttpContext {  // a using-declaration alone overrides nothing
  using HttpContext::HttpContext;
  using HttpContext::onResponseBody;
};
struct RootWithDone : RootContext {
  using RootContext::RootContext;
  bool onDone() override { return false; }
};
template <class T>
constexpr bool overridesRequestHeaders() {
  return PROXY_WASM_SDK_OVERRIDES(T, HttpContext, onRequestHeaders);
}
template <class T>
constexpr bool overridesLog() {
  return PROXY_WASM_SDK_OVERRIDES(T, HttpContext, onLog);
}
template <class T>
constexpr bool overridesResponseBody() {
  return PROXY_WASM_SDK_OVERRIDES(T, HttpContext, onResponseBody);
}
template <class T>
constexpr bool rootOverridesDone() {
  return PROXY_WASM_SDK_OVERRIDES(T, RootContext, onDone);
}
static_assert(overridesRequestHeaders<OverridesHeaders>());
static_assert(overridesRequestHeaders<InheritsAnOverride>());
static_assert(!overridesRequestHeaders<HttpContext>());
static_assert(!overridesLog<OverridesHeaders>());
static_assert(overridesLog<OverloadsTheName>());
static_assert(!overridesResponseBody<RedeclaresTheBase>());
static_assert(rootOverridesDone<RootWithDone>());
static_assert(!rootOverridesDone<RootContext>());

TEST(Sdk, LogLinesNameWasmResults) {
  EXPECT_EQ(strCat("write: ", WasmResult::CasMismatch, " after ", 3), "write: CasMismatch after 3");
}

TEST(Sdk, StrCatFormatsMixedArguments) {
  EXPECT_EQ(strCat("a", 1, '-', true, std::string_view("z"), -5, 18446744073709551615ull),
            "a1-truez-518446744073709551615");
}

}  // namespace
}  // namespace proxy_wasm
