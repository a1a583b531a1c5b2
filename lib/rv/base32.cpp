// RFC 4648 §6 base32 for TOTP secrets.
#include "rv/base32.hpp"

namespace rv {
namespace {
constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int symbol_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}
}  // namespace

std::optional<std::vector<std::uint8_t>> base32_decode(std::string_view text) {
  std::size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  // Padding, when present, must exactly complete the last 8-symbol group
  // (RFC 4648 §6): no partial padding, no group made only of '='.
  const std::size_t pad = text.size() - end;
  if (pad > 0 && (pad >= 8 || text.size() % 8 != 0)) return std::nullopt;
  text = text.substr(0, end);
  // 1, 3 and 6 trailing symbols cannot come from whole bytes.
  switch (text.size() % 8) {
    case 1: case 3: case 6: return std::nullopt;
    default: break;
  }
  std::vector<std::uint8_t> out;
  out.reserve(text.size() * 5 / 8);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int v = symbol_value(c);
    if (v < 0) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(buffer >> bits));
      buffer &= (1u << bits) - 1;
    }
  }
  // Non-zero leftovers mean the text is not a canonical encoding of any bytes.
  if (buffer != 0) return std::nullopt;
  return out;
}

std::string base32_encode(std::span<const std::uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() * 8 + 4) / 5);
  std::uint32_t buffer = 0;
  int bits = 0;
  for (std::uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(alphabet[(buffer >> bits) & 31]);
    }
    buffer &= (1u << bits) - 1;
  }
  if (bits > 0) out.push_back(alphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

}  // namespace rv
