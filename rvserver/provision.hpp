// rvserver's provisioning subcommands: `rvserver secrets add|list|remove|rotate` and
// `rvserver cert`. The text-shaping parts are sans-I/O (tested in tests/unit/test_provision.cpp);
// the file parts lock, write a temp file and rename it over the secrets file, relative to one
// descriptor of its directory.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rvserver {

// Runs `rvserver secrets ...` or `rvserver cert ...` when argv[1] names one, and returns its
// exit code; nullopt when argv[1] is not a subcommand (the server's own options follow).
// Throws rv::config_error on bad usage (exit 2), other exceptions on I/O failures (exit 1).
std::optional<int> run_subcommand(int argc, char** argv);

// ----------------------------------------------------------------------------- sans-I/O

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

// ----------------------------------------------------------------------------- files

// Edits the secrets file atomically, so that concurrent writers and a reader (rvserver on
// SIGHUP) never see a partial file and no update is lost. FILE's directory may belong to
// another user (README's layout: the service user's, with root running this), who can swap
// names in it at any moment; so:
//  - the directory is opened once and every step is relative to that descriptor (*at(2));
//  - takes an exclusive flock(2) on FILE.lock (opened O_NOFOLLOW, created mode 0600; never
//    removed, since removing a lock file lets two writers hold two different locks); when
//    FILE.lock no longer names the file we locked (it was replaced while we waited), locks
//    again, at most 10 times, then fails;
//  - opens FILE with O_NOFOLLOW|O_NONBLOCK and takes its type, mode, owner and content from
//    that one descriptor (rv::read_secrets_fd with any owner: the kernel lets only root read
//    another user's 0600 file), then parses it; when FILE does not exist and `must_exist` is
//    false, the current text is empty;
//  - writes edit(current text) to a new FILE.tmp.RANDOM (O_CREAT|O_EXCL|O_NOFOLLOW, mode
//    0600, the old file's owner and group where we may set them: the content's owner is the
//    new file's), fsyncs it; checks that FILE still names the inode we read (st_dev, st_ino),
//    renames the temp file over it and fsyncs the directory. A new FILE is linked into place
//    only if nothing appeared there meanwhile.
// A symbolic link at FILE is followed (to its target, in the target's directory, at most 8
// links) only when the link is owned by the effective user or by root, the rule of the
// kernel's protected_symlinks: another user's link could point at any file we may read and
// have its content copied beside the link. Another user's link is refused
// (rv::config_error, exit 2), the link and its target left alone.
// `edit` may throw to abandon the update (nothing is written). Throws rv::config_error for a bad
// or unreadable file (a FIFO or device at FILE is refused, never waited on), and
// std::runtime_error for I/O failures while writing and when FILE changed during the edit (not
// the inode that was read, or created meanwhile): then nothing is written and the temp file is
// removed.
void edit_secrets_file(const std::filesystem::path& file, bool must_exist,
                       const std::function<std::string(const std::string& current)>& edit);

}  // namespace rvserver
