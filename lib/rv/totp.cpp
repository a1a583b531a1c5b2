// HOTP/TOTP with HMAC-SHA1 (RFC 4226, RFC 6238) and constant-time comparison.
#include "rv/totp.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <stdexcept>

namespace rv {
namespace {
thread_local std::uint64_t hmacs_computed = 0;
}  // namespace

std::string hotp(std::span<const std::uint8_t> key, std::uint64_t counter, unsigned digits) {
  // 10^9 still fits the 31-bit truncated value's modulus; more digits would
  // only ever be zero-padding.
  if (digits < 1 || digits > 9) throw std::invalid_argument("hotp: digits must be 1..9");
  std::array<unsigned char, 8> message{};
  for (int i = 7; i >= 0; --i, counter >>= 8) message[i] = static_cast<unsigned char>(counter);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned mac_len = 0;
  // HMAC() is OpenSSL 3's one-shot API; an empty key still needs a valid pointer.
  static const unsigned char no_key = 0;
  if (!HMAC(EVP_sha1(), key.empty() ? &no_key : key.data(), static_cast<int>(key.size()),
            message.data(), message.size(), mac.data(), &mac_len) ||
      mac_len != 20)
    throw std::runtime_error("HMAC-SHA1 failed");
  ++hmacs_computed;
  // RFC 4226 §5.3 dynamic truncation.
  unsigned offset = mac[19] & 0x0f;
  std::uint32_t code = (std::uint32_t(mac[offset] & 0x7f) << 24) | (std::uint32_t(mac[offset + 1]) << 16) |
                       (std::uint32_t(mac[offset + 2]) << 8) | std::uint32_t(mac[offset + 3]);
  std::uint32_t modulus = 1;
  for (unsigned i = 0; i < digits; ++i) modulus *= 10;
  std::string out(digits, '0');
  code %= modulus;
  for (unsigned i = digits; i-- > 0; code /= 10) out[i] = static_cast<char>('0' + code % 10);
  return out;
}

std::uint64_t totp_counter(const totp_params& params, std::int64_t unix_time) {
  if (params.step == 0) throw std::invalid_argument("totp: step must be positive");
  return unix_time <= 0 ? 0 : static_cast<std::uint64_t>(unix_time) / params.step;
}

std::string totp(const totp_params& params, std::int64_t unix_time) {
  return hotp(params.key, totp_counter(params, unix_time), params.digits);
}

std::optional<std::uint64_t> totp_match(const totp_params& params, std::string_view token, std::int64_t unix_time) {
  // Bad parameters are a configuration fault, but a network check must not throw.
  if (params.step == 0 || params.digits < 1 || params.digits > 9) return std::nullopt;
  // A token of the wrong length must cost what a right one does, or the time
  // of a refusal tells which UUIDs have 6-digit secrets, and which have none
  // (the gate checks those against a 6-digit decoy). So the token and each
  // code are compared as buffers of the longest code's width, zero-padded,
  // and the length decides the outcome only after all three compares. Only
  // the copy depends on the token's length, which its sender knows anyway.
  constexpr std::size_t width = 9;
  std::array<char, width> given{};
  std::copy_n(token.data(), std::min(token.size(), width), given.data());
  const bool right_length = token.size() == params.digits;
  std::uint64_t now = totp_counter(params, unix_time);
  // At counter 0 there is no earlier step: check the current one twice so the
  // work stays the same.
  std::uint64_t earlier = now == 0 ? 0 : now - 1;
  std::optional<std::uint64_t> matched;
  for (std::uint64_t c : {earlier, now, now + 1}) {
    const std::string code = hotp(params.key, c, params.digits);
    std::array<char, width> expected{};
    std::copy(code.begin(), code.end(), expected.begin());
    const bool equal = CRYPTO_memcmp(expected.data(), given.data(), width) == 0;
    if (equal & right_length) matched = c;
  }
  return matched;  // a non-digit token can match no candidate
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::uint64_t detail::hmac_count() { return hmacs_computed; }

}  // namespace rv
