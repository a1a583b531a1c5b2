// Request body framing (RFC 9112 §6.3) and a strict, bounded chunked-body scanner (§7.1).
#include "rv/http_body.hpp"

#include <algorithm>
#include <charconv>
#include <string>
#include <vector>

namespace rv {
namespace {

constexpr std::size_t max_size_line = 4096;
constexpr std::size_t max_trailers = 16 * 1024;
constexpr unsigned max_size_digits = 15;  // 2^60: no overflow, far past any real chunk

char lower(char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The transfer codings of every Transfer-Encoding field, in order, without parameters.
std::vector<std::string_view> transfer_codings(const request_head& head) {
  std::vector<std::string_view> codings;
  for (const auto& f : head.fields) {
    if (!iequals(f.name, "Transfer-Encoding")) continue;
    std::string_view list = f.value;
    for (;;) {
      auto comma = list.find(',');
      auto item = trim(list.substr(0, comma));
      item = trim(item.substr(0, item.find(';')));
      if (!item.empty()) codings.push_back(item);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return codings;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// What may stand in a chunk extension or a trailer field: visible characters,
// SP, HTAB and obs-text; never another control character.
bool field_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

}  // namespace

std::optional<body_framing> request_body_framing(const request_head& head) {
  const auto codings = transfer_codings(head);
  const std::size_t lengths = count_fields(head.fields, "Content-Length");
  if (count_fields(head.fields, "Transfer-Encoding") > 0) {
    // §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty framing;
    // §6.3: chunked must be the last coding, once, and without Content-Length.
    if (head.version_minor == 0 || lengths > 0 || codings.empty() || !iequals(codings.back(), "chunked"))
      return std::nullopt;
    if (std::count_if(codings.begin(), codings.end(), [](auto c) { return iequals(c, "chunked"); }) != 1)
      return std::nullopt;
    return body_framing{body_framing::kind::chunked, 0};
  }
  if (lengths == 0) return body_framing{};  // §6.3 (7): a request without either has no body
  if (lengths > 1) return std::nullopt;
  const std::string& text = *head.find("Content-Length");
  std::uint64_t n = 0;
  auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || text.size() > 18 || err != std::errc() || end != text.data() + text.size())
    return std::nullopt;
  if (n == 0) return body_framing{};
  return body_framing{body_framing::kind::length, n};
}

request_body::request_body(body_framing f) {
  switch (f.how) {
    case body_framing::kind::none:
      state_ = state::done;
      break;
    case body_framing::kind::length:
      state_ = state::length;
      left_ = f.length;
      break;
    case body_framing::kind::chunked:
      state_ = state::size;
      break;
  }
}

std::size_t request_body::take(std::string_view data) {
  std::size_t i = 0;
  while (i < data.size() && state_ != state::done && state_ != state::bad) {
    const char c = data[i];
    switch (state_) {
      case state::length:
      case state::data: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, data.size() - i));
        i += n;
        left_ -= n;
        if (left_ == 0) state_ = state_ == state::length ? state::done : state::data_cr;
        continue;
      }
      case state::size: {
        ++line_;
        const int v = hex_value(c);
        if (v >= 0 && digits_ < max_size_digits) {
          size_ = size_ * 16 + static_cast<unsigned>(v);
          ++digits_;
        } else if (digits_ > 0 && (c == ';' || c == ' ' || c == '\t')) {
          state_ = state::extension;
        } else if (digits_ > 0 && c == '\r') {
          state_ = state::size_lf;
        } else {
          state_ = state::bad;
        }
        break;
      }
      case state::extension:
        if (++line_ > max_size_line) state_ = state::bad;
        else if (c == '\r') state_ = state::size_lf;
        else if (!field_char(c)) state_ = state::bad;
        break;
      case state::size_lf:
        if (c != '\n') {
          state_ = state::bad;
        } else if (size_ == 0) {
          state_ = state::trailer_start;  // the last chunk: trailers, then CRLF
        } else {
          state_ = state::data;
          left_ = size_;
        }
        size_ = 0;
        digits_ = 0;
        line_ = 0;
        break;
      case state::data_cr:
        state_ = c == '\r' ? state::data_lf : state::bad;
        break;
      case state::data_lf:
        state_ = c == '\n' ? state::size : state::bad;
        break;
      case state::trailer_start:
        if (c == '\r') state_ = state::final_lf;
        else if (c == ' ' || c == '\t' || !field_char(c)) state_ = state::bad;  // no obs-fold
        else state_ = state::trailer;
        break;
      case state::trailer:
        if (c == '\r') state_ = state::trailer_lf;
        else if (!field_char(c)) state_ = state::bad;
        break;
      case state::trailer_lf:
        state_ = c == '\n' ? state::trailer_start : state::bad;
        break;
      case state::final_lf:
        state_ = c == '\n' ? state::done : state::bad;
        break;
      case state::done:
      case state::bad:
        break;
    }
    ++i;
    if ((state_ == state::trailer || state_ == state::trailer_lf || state_ == state::trailer_start) &&
        ++trailer_bytes_ > max_trailers)
      state_ = state::bad;
  }
  return i;
}

}  // namespace rv
