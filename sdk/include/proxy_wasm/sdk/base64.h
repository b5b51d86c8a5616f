// Base64 (RFC 4648 standard alphabet) with a strict decoder.
//
// decode() accepts padded input and unpadded input whose length is not 1 mod 4, and rejects
// everything else: characters outside the alphabet (including whitespace and the URL-safe '-'/'_'),
// '=' anywhere but the end, wrong padding, and non-zero bits in the last character. Unlike
// upstream's helper, failure (nullopt) is distinguishable from a valid empty result ("").
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace proxy_wasm::base64 {

std::string encode(std::string_view input);
std::optional<std::string> decode(std::string_view input);

}  // namespace proxy_wasm::base64
