// RFC 4648 §4 base64, for Basic credentials and SPKI pins.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rv {

std::string base64_encode(std::span<const std::uint8_t> bytes);  // with '=' padding
// Strict: padding required to a multiple of 4, no whitespace; nullopt on error.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text);

} // namespace rv
