// The pool credential extension (docs/PROTOCOL.md §4.3): after a
// registration with a TOTP code, a hidden server that asked for one gets a
// short-lived credential bound to its UUID and that UUID's current secret.
// Later registrations present it instead of a code, so a pool of any size
// fills with one code and no code is ever used twice.
//
// Stateless: "v2.EXPIRY.BEGAN.MAC", both times in Unix seconds, MAC =
// HMAC-SHA256 under a key drawn at start, or under the first key of
// --pool-credential-key-file (every key of the file verifies, so a key can be
// rotated in: add it second, reload every node, move it first, reload, drop
// the old one). BEGAN is when the TOTP registration
// that began the chain happened: a credential renews itself (each
// registration with one gets a fresh one), but never past BEGAN + the chain
// limit, so a leaked credential dies within that time, not at the next
// restart. A rotated secret invalidates the UUID's credentials, and so does a
// restart without a key file; the hidden server then registers with a fresh code.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rv/totp.hpp"
#include "rvserver/key_file.hpp"

namespace rvserver {

using credential_key = secret_key;  // key_file.hpp

class pool_credentials {
 public:
  // With a key drawn at random: credentials die with the process.
  pool_credentials(std::chrono::seconds lifetime, std::chrono::seconds chain);
  // The first key issues, every key verifies. `keys` is not empty.
  void set_keys(std::vector<credential_key> keys);

  std::chrono::seconds lifetime() const { return lifetime_; }
  // How long a credential issued now for a chain begun at `began` lives: the
  // lifetime, or less as the chain nears its end (0: issue none).
  std::chrono::seconds max_age(std::int64_t unix_now, std::int64_t began) const;
  // A credential for `uuid` in the chain begun at `began`, valid for max_age().
  std::string issue(std::string_view uuid, const rv::totp_params& secret, std::int64_t unix_now,
                    std::int64_t began) const;
  // When `credential` was issued for this UUID and secret and has not
  // expired: the start of its chain. Costs one MAC whatever the input.
  std::optional<std::int64_t> verify(std::string_view uuid, const rv::totp_params& secret,
                                     std::string_view credential, std::int64_t unix_now) const;

 private:
  std::string mac(const credential_key& key, std::string_view uuid, const rv::totp_params& secret,
                  std::int64_t expiry, std::int64_t began) const;

  std::vector<credential_key> keys_;
  std::chrono::seconds lifetime_;
  std::chrono::seconds chain_;
};

}  // namespace rvserver
