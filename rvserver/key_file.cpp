// Key files (see key_file.hpp).
#include "rvserver/key_file.hpp"

#include "rv/error.hpp"
#include "rv/secrets.hpp"

namespace rvserver {

std::vector<secret_key> parse_key_file(std::string_view text, std::string_view origin) {
  std::vector<secret_key> keys;
  unsigned line_no = 0;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  while (!text.empty()) {
    ++line_no;
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    auto bad = [&](const std::string& why) {
      return rv::config_error(std::string(origin) + ":" + std::to_string(line_no) + ": " + why);
    };
    if (line.size() != 64) throw bad("a key is 64 hex digits (make one with: openssl rand -hex 32)");
    secret_key key{};
    for (std::size_t i = 0; i < key.size(); ++i) {
      const int hi = hex(line[2 * i]), lo = hex(line[2 * i + 1]);
      if (hi < 0 || lo < 0) throw bad("a key is 64 hex digits (make one with: openssl rand -hex 32)");
      key[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    if (keys.size() == 16) throw bad("at most 16 keys");
    keys.push_back(key);
  }
  if (keys.empty()) throw rv::config_error(std::string(origin) + " has no key (make one with: openssl rand -hex 32)");
  return keys;
}

std::vector<secret_key> load_key_file(const std::string& path, std::string_view kind) {
  return parse_key_file(rv::read_secrets_file(path, rv::secrets_owner::effective_user_or_root, kind), path);
}

}  // namespace rvserver
