// Issuing and checking pool credentials (see pool_credential.hpp).
#include "rvserver/pool_credential.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

#include "rv/base64.hpp"

namespace rvserver {

namespace {
constexpr std::string_view version = "v2.";

// A decimal Unix time of at most 19 digits, all of `text`.
std::optional<std::int64_t> unix_time(std::string_view text) {
  std::int64_t value = 0;
  if (text.empty() || text.size() > 19) return std::nullopt;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (err != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return value;
}
}  // namespace

pool_credentials::pool_credentials(std::chrono::seconds lifetime, std::chrono::seconds chain)
    : keys_(1), lifetime_(lifetime), chain_(chain) {
  if (RAND_bytes(keys_[0].data(), static_cast<int>(keys_[0].size())) != 1) throw std::runtime_error("RAND_bytes failed");
}

void pool_credentials::set_keys(std::vector<credential_key> keys) {
  if (!keys.empty()) keys_ = std::move(keys);
}

std::string pool_credentials::mac(const credential_key& key, std::string_view uuid, const rv::totp_params& secret, std::int64_t expiry,
                                  std::int64_t began) const {
  // Every field has a fixed size or a length in front, so no two inputs share
  // an encoding.
  std::string message = "rendezvous pool credential v2";
  auto append_number = [&](std::uint64_t v) {
    for (int i = 7; i >= 0; --i) message += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  append_number(uuid.size());
  message += uuid;
  append_number(static_cast<std::uint64_t>(expiry));
  append_number(static_cast<std::uint64_t>(began));
  append_number(secret.step);
  append_number(secret.digits);
  append_number(secret.key.size());
  message.append(secret.key.begin(), secret.key.end());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  return rv::base64_encode(std::span<const std::uint8_t>(out, len));
}

std::chrono::seconds pool_credentials::max_age(std::int64_t unix_now, std::int64_t began) const {
  const std::int64_t left = began + chain_.count() - unix_now;
  return std::chrono::seconds(std::clamp<std::int64_t>(left, 0, lifetime_.count()));
}

std::string pool_credentials::issue(std::string_view uuid, const rv::totp_params& secret, std::int64_t unix_now,
                                    std::int64_t began) const {
  const std::int64_t expiry = unix_now + max_age(unix_now, began).count();
  return std::string(version) + std::to_string(expiry) + "." + std::to_string(began) + "." +
         mac(keys_.front(), uuid, secret, expiry, began);
}

std::optional<std::int64_t> pool_credentials::verify(std::string_view uuid, const rv::totp_params& secret,
                                                     std::string_view credential, std::int64_t unix_now) const {
  // Malformed input still costs the MAC (over placeholder times), so that the
  // time taken does not tell a well-formed credential from garbage.
  std::optional<std::int64_t> expiry, began;
  std::string_view given;
  if (credential.starts_with(version)) {
    auto rest = credential.substr(version.size());
    auto dot1 = rest.find('.');
    auto dot2 = dot1 == std::string_view::npos ? dot1 : rest.find('.', dot1 + 1);
    if (dot2 != std::string_view::npos) {
      expiry = unix_time(rest.substr(0, dot1));
      began = unix_time(rest.substr(dot1 + 1, dot2 - dot1 - 1));
      given = rest.substr(dot2 + 1);
    }
  }
  // Every key costs its MAC, whichever matches.
  bool mac_ok = false;
  for (const auto& key : keys_)
    mac_ok |= rv::constant_time_equal(mac(key, uuid, secret, expiry.value_or(0), began.value_or(0)), given);
  if (!expiry || !began || !mac_ok) return std::nullopt;
  // Expired, or further ahead than this server ever issues (another key's, or forged).
  if (*expiry < unix_now || *expiry > unix_now + lifetime_.count()) return std::nullopt;
  if (*began > unix_now || *expiry > *began + chain_.count()) return std::nullopt;
  return began;
}

}  // namespace rvserver
