// The text of secrets files, without I/O: UUIDs, keys, secret lines, otpauth:// URIs and
// line edits.
#include "rvserver/secrets_text.hpp"

#include <utility>

#include "rv/error.hpp"
#include "rv/record_lines.hpp"

namespace rvserver {

std::string format_uuid_v4(std::array<std::uint8_t, 16> b) {
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 4122)
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 15]);
  }
  return out;
}

std::vector<std::uint8_t> seed_compatible_key(std::span<const std::uint8_t> random) {
  std::vector<std::uint8_t> key(random.begin(), random.end());
  for (auto& b : key) b &= 0x7f;
  return key;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string format_secret_line(std::string_view uuid, std::string_view secret_base32, unsigned step,
                               unsigned digits) {
  std::string line = std::string(uuid) + " " + std::string(secret_base32);
  if (step != 30 || digits != 6) line += " " + std::to_string(step);
  if (digits != 6) line += " " + std::to_string(digits);
  return line;
}

void check_issuer(std::string_view issuer) {
  if (issuer.empty()) throw rv::config_error("--issuer must not be empty");
  if (issuer.find(':') != std::string_view::npos)
    throw rv::config_error("--issuer must not contain ':' (it separates issuer and account in the URI)");
}

std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view secret_base32,
                        unsigned step, unsigned digits) {
  check_issuer(issuer);
  // Key Uri Format: the label is "issuer:account" with a literal colon, and the issuer
  // parameter repeats the issuer for apps that read only one of them.
  return "otpauth://totp/" + percent_encode(issuer) + ":" + percent_encode(account) +
         "?secret=" + percent_encode(secret_base32) + "&issuer=" + percent_encode(issuer) +
         "&algorithm=SHA1&digits=" + std::to_string(digits) + "&period=" + std::to_string(step);
}

namespace {

// One line of the secrets file: [begin, end) is its content without the newline (a '\r'
// before the newline is left in the text but not in `fields`), next is where the following
// line starts.
struct text_line {
  std::size_t begin = 0, end = 0, next = 0;
  // Offsets (from the start of the text) and lengths of the fields before any '#', as
  // rv::parse_secrets splits them.
  std::vector<std::pair<std::size_t, std::size_t>> fields;
};

std::vector<text_line> split_lines(std::string_view text) {
  std::vector<text_line> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    text_line l;
    l.begin = pos;
    auto newline = text.find('\n', pos);
    l.end = newline == std::string_view::npos ? text.size() : newline;
    l.next = newline == std::string_view::npos ? text.size() : newline + 1;
    std::string_view content = text.substr(l.begin, l.end - l.begin);
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    for (auto field : rv::split_fields(content.substr(0, content.find('#'))))
      l.fields.emplace_back(static_cast<std::size_t>(field.data() - text.data()), field.size());
    pos = l.next;
    lines.push_back(std::move(l));
  }
  return lines;
}

std::optional<text_line> find_uuid_line(std::string_view text, std::string_view uuid) {
  for (auto& l : split_lines(text)) {
    if (!l.fields.empty() && text.substr(l.fields[0].first, l.fields[0].second) == uuid) return l;
  }
  return std::nullopt;
}

}  // namespace

std::string append_line(std::string_view text, std::string_view line) {
  std::string out(text);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  out.append(line);
  out.push_back('\n');
  return out;
}

std::optional<std::string> remove_uuid_line(std::string_view text, std::string_view uuid) {
  auto l = find_uuid_line(text, uuid);
  if (!l) return std::nullopt;
  return std::string(text.substr(0, l->begin)) + std::string(text.substr(l->next));
}

std::optional<std::string> replace_uuid_secret(std::string_view text, std::string_view uuid,
                                               std::string_view secret_base32) {
  auto l = find_uuid_line(text, uuid);
  if (!l || l->fields.size() < 2) return std::nullopt;
  auto [at, length] = l->fields[1];
  return std::string(text.substr(0, at)) + std::string(secret_base32) + std::string(text.substr(at + length));
}

std::vector<std::string> uuids_in_order(std::string_view text) {
  std::vector<std::string> out;
  for (auto& l : split_lines(text))
    if (!l.fields.empty()) out.emplace_back(text.substr(l.fields[0].first, l.fields[0].second));
  return out;
}

}  // namespace rvserver
