// The secrets file shared by rvserver and rvhidden:
//   UUID BASE32SECRET [STEP [DIGITS]]     (defaults 30 and 6)
// one per line, '#' starts a comment, blank lines allowed, fields separated by
// spaces or tabs.
#pragma once
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "rv/totp.hpp"

namespace rv {

struct secret_entry {
  std::string uuid;
  totp_params params;
};

using secrets_table = std::map<std::string, secret_entry, std::less<>>;

// Parses the file's text. Throws rv::config_error naming `origin` and the line
// number (never the secret) on: a malformed line, an invalid UUID, bad base32,
// a key under 160 or over 512 bits, STEP not in 1..3600, DIGITS not in 6..8, extra fields,
// or a duplicate UUID.
secrets_table parse_secrets(std::string_view text, std::string_view origin = "secrets");

// Who may own a secrets file.
enum class secrets_owner {
  // The effective user or root, as OpenSSH's StrictModes asks of its files: any
  // other owner could rewrite the secrets (or client keys) we trust.
  effective_user_or_root,
  // Whoever owns it: for the `rvserver secrets` subcommands, which root may run on
  // the service user's file (they keep its owner). The kernel still lets only the
  // owner or root open a file of mode 0600.
  any,
};

// Reads a secrets file's text, unparsed. The path is followed (a symbolic link to
// the file is fine) and opened without blocking: a FIFO or device there is refused
// after fstat(2), never waited on. Throws rv::config_error when the file cannot be
// read, is not a regular file, has an owner `owners` refuses (the message names the
// owner and the chown that fixes it), or group or others have any permission on it
// (with the chmod that fixes it). Messages call the file `kind` ("client keys
// file" for load_client_keys_file).
std::string read_secrets_file(const std::filesystem::path& path,
                              secrets_owner owners = secrets_owner::effective_user_or_root,
                              std::string_view kind = "secrets file");

// The checks and the read of read_secrets_file on a descriptor the caller opened
// (with O_NONBLOCK, so that opening a FIFO did not block): fstat(2) of `fd` into
// `st`, the type, owner and mode checks on it, then its whole content. `name` is
// the file's name and `kind` what it is called in messages. Throws as
// read_secrets_file does.
std::string read_secrets_fd(int fd, std::string_view name, struct stat& st, secrets_owner owners,
                            std::string_view kind = "secrets file");

// read_secrets_file, then parse_secrets.
secrets_table load_secrets_file(const std::filesystem::path& path);

// Client keys (an extension, docs/PROTOCOL.md §7): for the UUIDs it
// lists, rvserver pairs only clients that present the key. One line per UUID:
//   UUID KEY     (KEY: 22..256 visible characters, e.g. base64 of 16+ random bytes)
// The same format serves rvconnect, which looks up the UUID it dials.
using client_keys = std::map<std::string, std::string, std::less<>>;

// Throws rv::config_error naming `origin` and the line (never the key).
client_keys parse_client_keys(std::string_view text, std::string_view origin = "client keys");
// read_secrets_file (mode 0600 and all), then parse_client_keys.
client_keys load_client_keys_file(const std::filesystem::path& path);

} // namespace rv
