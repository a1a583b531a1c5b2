// RFC 4648 base32, the alphabet TOTP secrets are written in.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rv {

// Decodes RFC 4648 §6 base32. Case-insensitive; trailing '=' padding is
// optional; spaces and any other character outside the alphabet make it fail
// (std::nullopt). Non-zero trailing bits in the last symbol are rejected.
std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text);

// Encodes without padding, upper case (the form otpauth:// URIs use).
std::string base32_encode(std::span<const std::uint8_t> bytes);

} // namespace rv
