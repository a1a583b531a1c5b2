// Random bytes from OpenSSL's generator, for UUIDs, secrets, serials and temp file names.
#pragma once
#include <openssl/rand.h>

#include <cstdint>
#include <span>
#include <stdexcept>

#include "rv/tls.hpp"

namespace rvserver {

// Fills `out`; throws std::runtime_error when the generator fails.
inline void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("the random number generator failed: " + rv::openssl_errors());
}

}  // namespace rvserver
