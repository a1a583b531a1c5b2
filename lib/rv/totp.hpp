// HOTP (RFC 4226) and TOTP (RFC 6238) with HMAC-SHA1, and the constant-time check.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rv {

struct totp_params {
  std::vector<std::uint8_t> key;  // the decoded base32 secret
  unsigned step = 30;             // seconds per counter step
  unsigned digits = 6;            // 6..8
};

// RFC 4226 §5.3: HMAC-SHA1 over the 8-byte big-endian counter, dynamic
// truncation, modulo 10^digits, zero-padded. digits must be 1..9, else it
// throws std::invalid_argument (totp_match instead matches nothing).
std::string hotp(std::span<const std::uint8_t> key, std::uint64_t counter, unsigned digits);

// RFC 6238's counter, floor(unix_time / step) (0 before the epoch). Throws
// std::invalid_argument for a step of 0.
std::uint64_t totp_counter(const totp_params& params, std::int64_t unix_time);

// RFC 6238: hotp with counter totp_counter(params, unix_time).
std::string totp(const totp_params& params, std::int64_t unix_time);

// Accepts the step of unix_time and one either side (RFC 6238 §5.2 skew) and
// says which counter matched (replay protection needs it); nullopt when none
// did. It does the same work whatever the token's length and content: all
// three candidates are always computed (three HMACs) and each is compared in
// constant time over a fixed width, a token of the wrong length included. So
// the time taken does not depend on which candidate (if any) matched, nor on
// whether the token's length is params.digits.
std::optional<std::uint64_t> totp_match(const totp_params& params, std::string_view token, std::int64_t unix_time);

// Constant time in the contents (the length is not secret).
bool constant_time_equal(std::string_view a, std::string_view b);

namespace detail {
// How many HMACs hotp() has computed on this thread. For the tests only: a
// time cannot be measured reliably enough to show that totp_match does the
// same work for every token, but the HMACs it computes can be counted.
std::uint64_t hmac_count();
}  // namespace detail

} // namespace rv
