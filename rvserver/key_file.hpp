// Files of 256-bit keys that every node of a cluster shares: the pool
// credential keys and the TLS ticket keys. One key per line, 64 hex digits
// (`openssl rand -hex 32`); blank lines and lines starting with '#' are
// skipped; 1 to 16 keys. The first key is the one in use; the others are
// still accepted, which is how a key is rotated in without a flag day.
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace rvserver {

using secret_key = std::array<unsigned char, 32>;

// Throws rv::config_error naming `origin` and the line.
std::vector<secret_key> parse_key_file(std::string_view text, std::string_view origin);
// Reads `path` as a secrets file (a regular file, mode 0600, owned by the
// user who runs this or root: rv::read_secrets_file) and parses it.
std::vector<secret_key> load_key_file(const std::string& path, std::string_view kind);

}  // namespace rvserver
