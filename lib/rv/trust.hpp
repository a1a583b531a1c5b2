// How rvhidden and rvconnect decide to trust the rendezvous server: a CA file
// and SPKI pins (curl's --pinnedpubkey form: "sha256//BASE64", several joined
// by ';'). Plain data and parsing, without OpenSSL: tls.hpp makes contexts of it.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rv {

using spki_pin = std::array<std::uint8_t, 32>;  // SHA-256 of the DER SubjectPublicKeyInfo

// "sha256//BASE64" -> pin; nullopt when malformed.
std::optional<spki_pin> parse_pin(std::string_view text);
// One or more pins joined by ';'. Throws rv::config_error when any is malformed.
std::vector<spki_pin> parse_pins(std::string_view text);
std::string to_string(const spki_pin& pin);  // back to "sha256//BASE64"

struct client_trust {
  std::string ca_file;         // empty: the system CA store
  std::vector<spki_pin> pins;  // non-empty: the server key must match one
  // With pins and no ca_file, the pin alone decides (a self-signed server);
  // with both, the chain and host name must verify and the pin must match.
  bool verify_chain() const { return !ca_file.empty() || pins.empty(); }
};

}  // namespace rv
