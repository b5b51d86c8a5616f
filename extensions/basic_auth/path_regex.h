// A compiled regular expression for matching request paths, on PCRE2 (Debian's source package,
// 8-bit, interpreter, no Unicode). The syntax covers RE2's, which Envoy's safe_regex uses.
// Matching is bounded (match and depth limits), so a pathological pattern cannot stall the VM.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proxy_wasm/sdk.h"

namespace basic_auth {

class PathRegex {
 public:
  // Compiles `pattern`; the error gives PCRE2's message and the offset in the pattern.
  static proxy_wasm::Expected<PathRegex, std::string> compile(std::string_view pattern);

  enum class Result { Match, NoMatch, LimitExceeded };
  // Whether the whole of `subject` matches (anchored at both ends, like RE2::FullMatch).
  Result fullMatch(std::string_view subject) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  std::shared_ptr<const Compiled> compiled_;
  std::string pattern_;
};

}  // namespace basic_auth
