// libFuzzer target for the pairs codec (abi/pairs.h), the parser every host runs on bytes that a
// plugin controls. Invariants checked on every input:
//  * decoding never reads outside the input (ASan) and never crashes;
//  * a rejected input yields an empty map;
//  * an accepted input respects the limits and re-encodes to exactly the same bytes (the format
//    has one encoding per map), except a count-0 header, whose canonical form is empty.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_wasm/abi/pairs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace proxy_wasm::abi;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<PairView> pairs;
  bool ok = decodePairs(in, pairs);
  if (!ok) {
    if (!pairs.empty()) std::abort();
    return 0;
  }
  if (pairs.size() > kMaxPairs || in.size() > kMaxPairsBytes) std::abort();
  for (auto& [k, v] : pairs) {
    if (k.data() < in.data() || k.data() + k.size() > in.data() + in.size()) std::abort();
    if (v.data() < in.data() || v.data() + v.size() > in.data() + in.size()) std::abort();
  }
  std::string again = encodePairs(pairs);
  if (pairs.empty()) {
    if (!again.empty()) std::abort();
  } else if (again != in) {
    std::abort();
  }
  return 0;
}
