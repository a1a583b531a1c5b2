// Reading the diagnostic out of an error answer's JSON body.
#include "diagnostic.hpp"

#include <optional>

#include "rv/printable.hpp"

namespace rvconnect {

namespace {

std::optional<char32_t> hex4(std::string_view s) {
  if (s.size() < 4) return std::nullopt;
  char32_t v = 0;
  for (char c : s.substr(0, 4)) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<char32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<char32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= static_cast<char32_t>(c - 'A' + 10);
    else return std::nullopt;
  }
  return v;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Skips JSON whitespace (RFC 8259 §2) from `i`.
std::size_t skip_space(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
  return i;
}

// Where the diagnostic string's first character is, or npos.
std::size_t diagnostic_start(std::string_view body) {
  constexpr std::string_view key = "\"diagnostic\"";
  for (auto at = body.find(key); at != std::string_view::npos; at = body.find(key, at + 1)) {
    auto i = skip_space(body, at + key.size());
    if (i >= body.size() || body[i] != ':') continue;
    i = skip_space(body, i + 1);
    if (i < body.size() && body[i] == '"') return i + 1;
  }
  return std::string_view::npos;
}

}  // namespace

std::string json_diagnostic(std::string_view body) {
  auto i = diagnostic_start(body);
  if (i == std::string_view::npos) return {};
  std::string out;
  while (i < body.size() && body[i] != '"') {
    const char c = body[i++];
    if (c != '\\') {
      out += c;  // raw bytes, whatever they are: printable() judges them below
      continue;
    }
    if (i >= body.size()) break;
    const char e = body[i++];
    switch (e) {
      case '"': case '\\': case '/': out += e; break;
      case 'n': case 'r': case 't': out += ' '; break;  // a diagnostic's layout, not its content
      case 'u': {
        auto cp = hex4(body.substr(i));
        if (!cp) {
          out += '?';
          break;
        }
        i += 4;
        // RFC 8259 §7: a character outside the BMP is a surrogate pair.
        if (*cp >= 0xD800 && *cp <= 0xDBFF && body.substr(i, 2) == "\\u") {
          auto low = hex4(body.substr(i + 2));
          if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
            i += 6;
            append_utf8(out, 0x10000 + ((*cp - 0xD800) << 10) + (*low - 0xDC00));
            break;
          }
        }
        if (*cp >= 0xD800 && *cp <= 0xDFFF) out += '?';  // a lone surrogate encodes nothing
        else append_utf8(out, *cp);
        break;
      }
      default:
        out += '?';  // \b, \f and what JSON does not have
    }
  }
  return rv::printable(out);
}

}  // namespace rvconnect
