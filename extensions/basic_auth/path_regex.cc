#include "path_regex.h"

#include <pcre2.h>

namespace basic_auth {

namespace {

// Backtracking bounds per match: ample for path patterns (a ".*" costs one step per character
// it gives back), and at most ~1 ms of work in V8 (~50 ms in the wabt interpreter) for a
// pathological one, well inside the host's per-call CPU deadline.
constexpr uint32_t kMatchLimit = 20000;
constexpr uint32_t kDepthLimit = 1000;

}  // namespace

struct PathRegex::Compiled {
  pcre2_code* code = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_match_data* data = nullptr;
  ~Compiled() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_code_free(code);
  }
};

proxy_wasm::Expected<PathRegex, std::string> PathRegex::compile(std::string_view pattern) {
  auto compiled = std::make_shared<Compiled>();
  int error = 0;
  PCRE2_SIZE offset = 0;
  compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                 PCRE2_NEVER_BACKSLASH_C, &error, &offset, nullptr);
  if (compiled->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof message);
    return proxy_wasm::unexpected(std::string("invalid regex at offset ") + std::to_string(offset) +
                                  ": " + reinterpret_cast<const char*>(message));
  }
  compiled->context = pcre2_match_context_create(nullptr);
  compiled->data = pcre2_match_data_create_from_pattern(compiled->code, nullptr);
  if (compiled->context == nullptr || compiled->data == nullptr) {
    return proxy_wasm::unexpected(std::string("out of memory compiling the regex"));
  }
  pcre2_set_match_limit(compiled->context, kMatchLimit);
  pcre2_set_depth_limit(compiled->context, kDepthLimit);
  PathRegex regex;
  regex.compiled_ = std::move(compiled);
  regex.pattern_ = std::string(pattern);
  return regex;
}

PathRegex::Result PathRegex::fullMatch(std::string_view subject) const {
  int rc =
      pcre2_match(compiled_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                  PCRE2_ANCHORED | PCRE2_ENDANCHORED, compiled_->data, compiled_->context);
  if (rc >= 0) return Result::Match;
  if (rc == PCRE2_ERROR_NOMATCH) return Result::NoMatch;
  return Result::LimitExceeded;
}

}  // namespace basic_auth
