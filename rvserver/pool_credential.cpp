// Issuing and checking pool credentials (see pool_credential.hpp).
#include "pool_credential.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>

#include "rv/base64.hpp"

namespace rvserver {

namespace {
constexpr std::string_view version = "v1.";
}

pool_credentials::pool_credentials(std::chrono::seconds lifetime) : lifetime_(lifetime) {
  if (RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) throw std::runtime_error("RAND_bytes failed");
}

std::string pool_credentials::mac(std::string_view uuid, const rv::totp_params& secret, std::int64_t expiry) const {
  // Every field has a fixed size or a length in front, so no two inputs share
  // an encoding.
  std::string message = "rendezvous pool credential v1";
  auto append_number = [&](std::uint64_t v) {
    for (int i = 7; i >= 0; --i) message += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  append_number(uuid.size());
  message += uuid;
  append_number(static_cast<std::uint64_t>(expiry));
  append_number(secret.step);
  append_number(secret.digits);
  append_number(secret.key.size());
  message.append(secret.key.begin(), secret.key.end());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
            reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len))
    throw std::runtime_error("HMAC-SHA256 failed");
  return rv::base64_encode(std::span<const std::uint8_t>(out, len));
}

std::string pool_credentials::issue(std::string_view uuid, const rv::totp_params& secret,
                                    std::int64_t unix_now) const {
  const std::int64_t expiry = unix_now + lifetime_.count();
  return std::string(version) + std::to_string(expiry) + "." + mac(uuid, secret, expiry);
}

bool pool_credentials::verify(std::string_view uuid, const rv::totp_params& secret, std::string_view credential,
                              std::int64_t unix_now) const {
  if (!credential.starts_with(version)) return false;
  credential.remove_prefix(version.size());
  auto dot = credential.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 19) return false;
  std::int64_t expiry = 0;
  auto [end, err] = std::from_chars(credential.data(), credential.data() + dot, expiry);
  if (err != std::errc() || end != credential.data() + dot) return false;
  // Expired, or further ahead than this server ever issues (another key's, or forged).
  if (expiry < unix_now || expiry > unix_now + lifetime_.count()) return false;
  return rv::constant_time_equal(mac(uuid, secret, expiry), credential.substr(dot + 1));
}

}  // namespace rvserver
