// The protocol's answers and notices: one writer and one reader each (answers.hpp).
#include "rv/answers.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "rv/printable.hpp"

namespace rv {
namespace {

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : raw) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string json_escape(std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 15];
          out += hex[c & 15];
        } else {
          out += c;
        }
    }
  }
  return out;
}

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

// A field holding a number of seconds (Max-Age, Retry-After), at most `cap`:
// larger numbers, however many digits, count as `cap`. 0 when the field is
// absent or not all digits.
long seconds_field(const response_head& head, std::string_view name, long cap) {
  const std::string* value = head.find(name);
  if (!value || value->empty()) return 0;
  long secs = 0;
  for (const char c : *value) {
    if (c < '0' || c > '9') return 0;
    secs = std::min(cap, secs * 10 + (c - '0'));
  }
  return secs;
}

constexpr std::string_view status_200 = "HTTP/1.1 200 OK\r\n";

// Every answer with a body closes the connection after it: Content-Type,
// Content-Length and Connection: close, then any `extra` fields, then the body.
std::string closing_response(int status, std::string_view content_type, std::string_view body,
                             const std::vector<header_field>& extra = {}) {
  response_head head;
  head.status = status;
  head.reason = reason_phrase(status);
  head.fields = {{"Content-Type", std::string(content_type)},
                 {"Content-Length", std::to_string(body.size())},
                 {"Connection", "close"}};
  head.fields.insert(head.fields.end(), extra.begin(), extra.end());
  return format_response(head) + std::string(body);
}

}  // namespace

std::string error_response(int status, std::string_view diagnostic, const std::vector<header_field>& extra) {
  const std::string body =
      R"({"error":{"permanent":false,"diagnostic":")" + json_escape(diagnostic) + "\"}}";
  return closing_response(status, "application/json", body, extra);
}

std::string digest_challenge_response() {
  std::string challenge = R"(Digest realm="rendezvous", qop="auth, auth-int", nonce=")" + random_hex(16) +
                          R"(", opaque=")" + random_hex(16) + "\"";
  return error_response(401, "authentication required: name the UUID as the user name",
                        {{"WWW-Authenticate", std::move(challenge)}});
}

std::string error_diagnostic(std::string_view body) {
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
  return printable(out);
}

std::string passed_on_refusal(std::string_view body) { return closing_response(502, "application/json", body); }

long retry_after_seconds(std::chrono::milliseconds wait) {
  return std::max<long>(1, static_cast<long>((wait.count() + 999) / 1000));
}

namespace {
std::string retry_later_response(int status, long seconds, std::string_view diagnostic) {
  const auto secs = std::to_string(seconds);
  return error_response(status, std::string(diagnostic) + "; retry after " + secs + " s", {{"Retry-After", secs}});
}
}  // namespace

std::string throttled_response(long seconds, std::string_view diagnostic) {
  return retry_later_response(429, seconds, diagnostic);
}

std::string unavailable_response(long seconds, std::string_view diagnostic) {
  return retry_later_response(503, seconds, diagnostic);
}

std::chrono::seconds read_retry_after(const response_head& answer) {
  return std::chrono::seconds(std::clamp<long>(seconds_field(answer, "Retry-After", 3600), 1, 3600));
}

std::string format_registration_answer(const registration_answer& a) {
  std::string out(status_200);
  if (a.notify) out += std::string(notify_field) + ": 1\r\n";
  if (a.credential)
    out += std::string(credential_field) + ": " + *a.credential + "\r\n" + std::string(credential_age_field) + ": " +
           std::to_string(a.credential_max_age.count()) + "\r\n";
  if (a.node) out += std::string(node_field) + ": " + *a.node + "\r\n";
  return out + "\r\n";
}

registration_answer read_registration_answer(const response_head& answer) {
  registration_answer a;
  const std::string* notify = answer.find(notify_field);
  a.notify = notify && *notify == "1";
  if (const std::string* credential = answer.find(credential_field)) a.credential = *credential;
  a.credential_max_age = std::chrono::seconds(seconds_field(answer, credential_age_field, max_credential_age));
  // Only compared for equality and shown in logs: printable() keeps a hostile
  // server's bytes out of the terminal.
  if (const std::string* node = answer.find(node_field); node && !node->empty()) a.node = printable(*node);
  return a;
}

std::string tunnel_open_response() { return std::string(status_200) + "\r\n"; }

std::string_view to_string(arrival_mode m) { return m == arrival_mode::http ? "http" : "stream"; }

std::string format_arrival_notice(const arrival_notice& n) {
  return "HTTP/1.1 200 Rendezvous\r\n" + std::string(mode_field) + ": " + std::string(to_string(n.mode)) + "\r\n" +
         std::string(client_field) + ": " + n.client + "\r\n\r\n";
}

std::optional<arrival_notice> read_arrival_notice(const response_head& head, std::string& problem) {
  if (head.status != 200) return std::nullopt;
  arrival_notice n;
  const std::string* mode = head.find(mode_field);
  if (mode && *mode == "http") {
    n.mode = arrival_mode::http;
  } else if (mode && *mode != "stream") {
    problem = "unknown Rendezvous-Mode '" + printable(*mode) + "' in an arrival notice";
    return std::nullopt;
  }
  const std::string* client = head.find(client_field);
  n.client = client ? printable(*client) : "?";
  return n;
}

std::string ok_response(std::string_view content_type, std::string_view body) {
  return closing_response(200, content_type, body);
}

}  // namespace rv
