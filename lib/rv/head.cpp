// Strict, bounded HTTP/1.1 head parsing (RFC 9112) and writing, without I/O.
#include "rv/head.hpp"

#include <algorithm>

namespace rv {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar); }

bool parse_version(std::string_view v, int& minor) {
  if (v == "HTTP/1.1") minor = 1;
  else if (v == "HTTP/1.0") minor = 0;
  else return false;
  return true;
}

// Each returns nullptr on success, else the diagnostic.
const char* parse_start_line(std::string_view line, request_head& h) {
  // Exactly one SP between the three parts: anything looser invites
  // request-smuggling disagreements with other parsers (RFC 9112 §3).
  auto sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return "malformed request line";
  auto sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return "malformed request line";
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (!is_token(method)) return "bad method";
  if (target.empty() || !std::all_of(target.begin(), target.end(),
                                     [](char c) { return c > 0x20 && c < 0x7f; }))
    return "bad request target";
  if (!parse_version(line.substr(sp2 + 1), h.version_minor)) return "unsupported HTTP version";
  h.method = method;
  h.target = target;
  return nullptr;
}

const char* parse_start_line(std::string_view line, response_head& h) {
  if (line.size() < 12 || !parse_version(line.substr(0, 8), h.version_minor) || line[8] != ' ')
    return "malformed status line";
  int status = 0;
  for (char c : line.substr(9, 3)) {
    if (c < '0' || c > '9') return "non-numeric status";
    status = status * 10 + (c - '0');
  }
  if (status < 100) return "bad status";
  // The seed server ends the line right after the code (no SP, no reason).
  if (line.size() > 12 && line[12] != ' ') return "malformed status line";
  h.status = status;
  h.reason = line.size() > 12 ? line.substr(13) : std::string_view{};
  return nullptr;
}

const char* parse_field(std::string_view line, std::vector<header_field>& fields) {
  if (line.front() == ' ' || line.front() == '\t') return "obsolete line folding";
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return "field without colon";
  if (colon == 0) return "empty field name";
  std::string_view name = line.substr(0, colon);
  for (char c : name)
    if (!is_tchar(c)) return c == ' ' || c == '\t' ? "whitespace before colon" : "bad field name";
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  fields.push_back({std::string(name), std::string(value)});
  return nullptr;
}

void append_fields(std::string& out, const std::vector<header_field>& fields) {
  for (const auto& f : fields) {
    out += f.name;
    out += ": ";
    out += f.value;
    out += "\r\n";
  }
  out += "\r\n";
}

}  // namespace

const std::string* find_field(const std::vector<header_field>& fields, std::string_view name) {
  for (const auto& f : fields)
    if (iequals(f.name, name)) return &f.value;
  return nullptr;
}

std::size_t count_fields(const std::vector<header_field>& fields, std::string_view name) {
  return static_cast<std::size_t>(
      std::count_if(fields.begin(), fields.end(), [&](const header_field& f) { return iequals(f.name, name); }));
}

template <class Head>
parse_result head_parser<Head>::finish(parse_status status, std::size_t consumed, const char* error) {
  result_ = {status, consumed, error ? error : ""};
  return result_;
}

template <class Head>
parse_result head_parser<Head>::parse(std::string_view data) {
  if (result_.status != parse_status::need_more) return result_;
  // Never look past max_head: a head that has not ended by then is too large
  // whatever follows.
  const std::size_t window = std::min(data.size(), limits_.max_head);
  std::size_t i = scanned_;
  for (; i < window; ++i) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    if (c == '\r') {
      // Whether this CR is bare depends on a byte not here yet: the next
      // call looks at it again.
      if (i + 1 >= window) break;
      if (data[i + 1] != '\n') return finish(parse_status::bad, 0, "bare CR");
      std::string_view line = data.substr(line_start_, i - line_start_);
      line_start_ = i + 2;
      const char* error = nullptr;
      if (!have_start_line_) {
        error = line.empty() ? "empty start line" : parse_start_line(line, head_);
        have_start_line_ = true;
      } else if (line.empty()) {
        return finish(parse_status::good, line_start_, nullptr);
      } else if (head_.fields.size() >= limits_.max_fields) {
        return finish(parse_status::too_large, 0, "too many header fields");
      } else {
        error = parse_field(line, head_.fields);
      }
      if (error) return finish(parse_status::bad, 0, error);
      ++i;
      continue;
    }
    if (c == '\n') return finish(parse_status::bad, 0, "bare LF");
    if ((c < 0x20 && c != '\t') || c == 0x7f) return finish(parse_status::bad, 0, "control character");
    if (i - line_start_ >= limits_.max_line) return finish(parse_status::too_large, 0, "line too long");
  }
  scanned_ = i;
  if (data.size() >= limits_.max_head) return finish(parse_status::too_large, 0, "head too large");
  return result_;
}

template class head_parser<request_head>;
template class head_parser<response_head>;

parse_result parse_request(std::string_view data, request_head& out, const head_limits& limits) {
  request_parser parser(limits);
  parse_result r = parser.parse(data);
  if (r.status == parse_status::good) out = std::move(parser.head());
  return r;
}

parse_result parse_response(std::string_view data, response_head& out, const head_limits& limits) {
  response_parser parser(limits);
  parse_result r = parser.parse(data);
  if (r.status == parse_status::good) out = std::move(parser.head());
  return r;
}

std::string format_request(const request_head& head) {
  std::string out = head.method + ' ' + head.target + " HTTP/1." + std::to_string(head.version_minor) + "\r\n";
  append_fields(out, head.fields);
  return out;
}

std::string format_response(const response_head& head) {
  std::string out = "HTTP/1." + std::to_string(head.version_minor) + ' ' + std::to_string(head.status);
  if (!head.reason.empty()) out += ' ' + head.reason;
  out += "\r\n";
  append_fields(out, head.fields);
  return out;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 421: return "Misdirected Request";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

}  // namespace rv
