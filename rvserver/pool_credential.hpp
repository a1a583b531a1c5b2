// The pool credential extension (PROTOCOL.md, "Pool credential"): after a
// registration with a TOTP code, a hidden server that asked for one gets a
// short-lived credential bound to its UUID and that UUID's current secret.
// Later registrations present it instead of a code, so a pool of any size
// fills with one code and no code is ever used twice.
//
// Stateless: "v1.EXPIRY.MAC", EXPIRY in Unix seconds, MAC = HMAC-SHA256 under
// a key drawn at start. A restart or a rotated secret invalidates every
// credential; the hidden server then registers with a fresh code.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "rv/totp.hpp"

namespace rvserver {

class pool_credentials {
 public:
  explicit pool_credentials(std::chrono::seconds lifetime);

  std::chrono::seconds lifetime() const { return lifetime_; }
  // A credential for `uuid`, valid until unix_now + lifetime.
  std::string issue(std::string_view uuid, const rv::totp_params& secret, std::int64_t unix_now) const;
  // True when `credential` was issued for this UUID and secret and has not expired.
  // Compares in constant time.
  bool verify(std::string_view uuid, const rv::totp_params& secret, std::string_view credential,
              std::int64_t unix_now) const;

 private:
  std::string mac(std::string_view uuid, const rv::totp_params& secret, std::int64_t expiry) const;

  std::array<unsigned char, 32> key_{};
  std::chrono::seconds lifetime_;
};

}  // namespace rvserver
