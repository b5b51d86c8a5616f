// A rate-limit bucket key: which parts of a request make it (configuration), and the key of the
// current request. Client-chosen parts are bounded: a key longer than 64 bytes is kept as its
// first 46 bytes and a 64-bit hash of the whole.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy_wasm/sdk.h"

namespace local_rate_limit {

// One component of a bucket key.
struct KeyPart {
  enum class Kind {
    Header,
    SourceAddress,
    MaskedAddress,
    XffHop,
    Path,
    QueryParam,
    Cookie,
    Connection,  // the downstream connection (Envoy's local_rate_limit_per_downstream_connection)
  } kind;
  std::string name;  // header, query parameter or cookie
  int64_t hop = 1;   // x-forwarded-for hop counted from the right (1 = the last address)
  int v4_prefix = 32, v6_prefix = 128;  // masked_remote_address
};

// The key of the request being handled: its parts joined with '|', bounded in length.
std::string requestKey(const std::vector<KeyPart>& parts);

// 64-bit FNV-1a.
uint64_t fnv1a(std::string_view s);

}  // namespace local_rate_limit
