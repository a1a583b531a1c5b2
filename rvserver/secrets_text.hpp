// The text of secrets files, without I/O: new UUIDs and keys, the lines and otpauth:// URIs
// handed to a hidden machine, and edits of rvserver's secrets file that keep every other byte
// (tested in tests/unit/test_provision.cpp).
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rvserver {

// RFC 4122 §4.4: 16 random bytes -> "xxxxxxxx-xxxx-4xxx-Yxxx-xxxxxxxxxxxx" (lower case), with
// the version (4) and variant (10xx) bits set.
std::string format_uuid_v4(std::array<std::uint8_t, 16> random);

// A key a node-rendezvous seed server agrees on: it feeds the key to HMAC as UTF-8 text, which
// is the same bytes only when every byte is below 0x80. Clears the top bit of each byte
// (23 random bytes keep 161 bits).
std::vector<std::uint8_t> seed_compatible_key(std::span<const std::uint8_t> random);

// RFC 3986 percent-encoding of everything but the unreserved characters (A-Z a-z 0-9 - . _ ~).
std::string percent_encode(std::string_view text);

// The secrets-file line "UUID SECRET [STEP [DIGITS]]": STEP and DIGITS only when they differ
// from the defaults (30, 6); STEP whenever DIGITS is given.
std::string format_secret_line(std::string_view uuid, std::string_view secret_base32, unsigned step,
                               unsigned digits);

// Throws rv::config_error when the issuer is empty or contains ':' (the label's separator of
// otpauth_uri), so that a command can refuse it before it changes any file.
void check_issuer(std::string_view issuer);

// The Key URI Format authenticator apps read:
// otpauth://totp/ISSUER:ACCOUNT?secret=S&issuer=ISSUER&algorithm=SHA1&digits=D&period=P.
// Issuer and account are percent-encoded (the ':' between them is literal). Throws
// rv::config_error when the issuer is empty or contains ':' (the label's separator).
std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view secret_base32,
                        unsigned step, unsigned digits);

// Edits of the secrets file's text that leave every other line, comment and blank line
// byte for byte as it was. A UUID's line is the first whose first field (before any '#') is
// the UUID; parse the text with rv::parse_secrets first, which refuses duplicates.
//
// The text with `line` appended as a line of its own (a newline is added before it when the
// text does not end in one).
std::string append_line(std::string_view text, std::string_view line);
// The text without the UUID's line (and its newline); nullopt when no line names the UUID.
std::optional<std::string> remove_uuid_line(std::string_view text, std::string_view uuid);
// The text with the secret field of the UUID's line replaced, the rest of that line (step,
// digits, spacing, a trailing comment) kept; nullopt when no line names the UUID or the line
// has no secret field.
std::optional<std::string> replace_uuid_secret(std::string_view text, std::string_view uuid,
                                               std::string_view secret_base32);
// The UUIDs of the text in file order (first field of each non-comment line).
std::vector<std::string> uuids_in_order(std::string_view text);

}  // namespace rvserver
