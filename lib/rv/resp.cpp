// RESP2 commands and an incremental, bounded reply reader (see resp.hpp). The grammar is the
// one at https://redis.io/docs/reference/protocol-spec/ ("RESP protocol description").
#include "rv/resp.hpp"

#include <charconv>
#include <cstdio>
#include <utility>

namespace rv::resp {

namespace {

void append_length(std::string& out, char type, std::size_t n) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out += type;
  out.append(digits, end);
  out += "\r\n";
}

void append_bulk(std::string& out, std::string_view arg) {
  append_length(out, '$', arg.size());
  out.append(arg);
  out += "\r\n";
}

// Decimal digits only, no sign; false when empty, not digits, or above `max`.
bool parse_count(std::string_view text, std::size_t max, std::size_t& n) {
  if (text.empty()) return false;
  n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + static_cast<std::size_t>(c - '0');
    if (n > max) return false;  // checked on each digit: n * 10 cannot overflow
  }
  return true;
}

// An optional '-' then 1..19 digits, within int64.
bool parse_integer(std::string_view text, std::int64_t& out) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 19) return false;
  std::uint64_t magnitude = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    magnitude = magnitude * 10 + static_cast<std::uint64_t>(c - '0');  // 19 digits fit in uint64
  }
  constexpr std::uint64_t max_positive = 9223372036854775807ULL;
  if (negative) {
    if (magnitude > max_positive + 1) return false;
    out = magnitude == max_positive + 1 ? INT64_MIN : -static_cast<std::int64_t>(magnitude);
  } else {
    if (magnitude > max_positive) return false;
    out = static_cast<std::int64_t>(magnitude);
  }
  return true;
}

// RESP3's double: digits, sign, point, exponent, or inf/-inf/nan.
bool well_formed_double(std::string_view text) {
  if (text == "inf" || text == "-inf" || text == "nan") return true;
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) return false;
  return true;
}

bool has_line_break(std::string_view text) { return text.find_first_of("\r\n") != std::string_view::npos; }

std::string byte_name(char c) {
  char out[8];
  std::snprintf(out, sizeof out, "0x%02x", static_cast<unsigned char>(c));
  return out;
}

}  // namespace

std::string_view to_string(value::type t) {
  switch (t) {
    case value::type::simple: return "simple";
    case value::type::error: return "error";
    case value::type::integer: return "integer";
    case value::type::bulk: return "bulk";
    case value::type::nil: return "nil";
    case value::type::array: return "array";
  }
  return "?";
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  append_length(out, '*', args.size());
  for (auto arg : args) append_bulk(out, arg);
}

void append_command(std::string& out, std::span<const std::string> args) {
  append_length(out, '*', args.size());
  for (const auto& arg : args) append_bulk(out, arg);
}

std::string command(std::initializer_list<std::string_view> args) {
  std::string out;
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
  return out;
}

void append_reply(std::string& out, const value& v) {
  switch (v.kind) {
    case value::type::simple:
      out += '+';
      out += v.text;
      out += "\r\n";
      return;
    case value::type::error:
      out += '-';
      out += v.text;
      out += "\r\n";
      return;
    case value::type::integer: {
      char digits[24];
      auto end = std::to_chars(digits, digits + sizeof digits, v.integer).ptr;
      out += ':';
      out.append(digits, end);
      out += "\r\n";
      return;
    }
    case value::type::bulk: append_bulk(out, v.text); return;
    case value::type::nil: out += "$-1\r\n"; return;
    case value::type::array:
      append_length(out, '*', v.items.size());
      for (const auto& item : v.items) append_reply(out, item);
      return;
  }
}

reader::reader(limits l) : limits_(l) {}

void reader::feed(std::string_view bytes) {
  if (bad_) return;
  // Drop the consumed prefix once it is at least as long as what remains: each byte is then
  // moved a bounded number of times on average, however the input is split.
  if (pos_ > 0 && pos_ >= buf_.size() - pos_) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes);
  buffered_ += bytes.size();
}

const std::string& reader::error() const { return error_; }
std::size_t reader::buffered() const { return buffered_; }

reader::status reader::fail(std::string why) {
  bad_ = true;
  error_ = std::move(why);
  // Nothing more will be read: give the memory back.
  buf_.clear();
  buf_.shrink_to_fit();
  stack_.clear();
  pos_ = 0;
  return status::bad;
}

// The next line from pos_, without its CRLF, consumed. The search resumes where the previous
// call for this line stopped, so a line fed one byte at a time is scanned once.
reader::step reader::take_line(std::string_view& line) {
  std::string_view rest(buf_.data() + pos_, buf_.size() - pos_);
  const auto at = rest.find("\r\n", scanned_);
  if (at == std::string_view::npos) {
    // A line of max_line bytes and its CRLF would have been found by now.
    if (rest.size() >= limits_.max_line + 2) {
      fail("line longer than " + std::to_string(limits_.max_line) + " bytes");
      return step::bad;
    }
    scanned_ = rest.empty() ? 0 : rest.size() - 1;  // the last byte may be a CR
    return step::need_more;
  }
  if (at > limits_.max_line) {
    fail("line longer than " + std::to_string(limits_.max_line) + " bytes");
    return step::bad;
  }
  line = rest.substr(0, at);
  pos_ += at + 2;
  reply_bytes_ += at + 2;
  scanned_ = 0;
  if (reply_bytes_ > limits_.max_reply) {
    fail("reply longer than " + std::to_string(limits_.max_reply) + " bytes");
    return step::bad;
  }
  return step::complete;
}

reader::step reader::parse_element(value& element) {
  if (bulk_pending_ < 0) {
    std::string_view line;
    if (auto s = take_line(line); s != step::complete) return s;
    if (line.empty()) {
      fail("empty line where a type byte belongs");
      return step::bad;
    }
    const char type = line.front();
    const std::string_view rest = line.substr(1);
    switch (type) {
      case '+':
      case '-':
        if (has_line_break(rest)) {
          fail("a bare CR or LF in a simple string or error");
          return step::bad;
        }
        element.kind = type == '+' ? value::type::simple : value::type::error;
        element.text.assign(rest);
        return step::complete;
      case ':':
        if (!parse_integer(rest, element.integer)) {
          fail("malformed integer");
          return step::bad;
        }
        element.kind = value::type::integer;
        return step::complete;
      case '_':
        if (!rest.empty()) {
          fail("malformed null");
          return step::bad;
        }
        element.kind = value::type::nil;
        return step::complete;
      case '#':
        if (rest != "t" && rest != "f") {
          fail("malformed boolean");
          return step::bad;
        }
        element.kind = value::type::integer;
        element.integer = rest == "t" ? 1 : 0;
        return step::complete;
      case ',':
        if (!well_formed_double(rest)) {
          fail("malformed double");
          return step::bad;
        }
        element.kind = value::type::simple;
        element.text.assign(rest);
        return step::complete;
      case '$': {
        if (rest == "-1") {
          element.kind = value::type::nil;
          return step::complete;
        }
        std::size_t n = 0;
        if (!parse_count(rest, limits_.max_bulk, n)) {
          if (!rest.empty() && rest.front() == '-') {
            fail("negative bulk string length");
          } else {
            fail("bulk string length malformed or over " + std::to_string(limits_.max_bulk));
          }
          return step::bad;
        }
        if (reply_bytes_ + n + 2 > limits_.max_reply) {
          fail("reply longer than " + std::to_string(limits_.max_reply) + " bytes");
          return step::bad;
        }
        bulk_pending_ = static_cast<std::int64_t>(n);
        break;  // to the payload
      }
      case '*': {
        if (rest == "-1") {
          element.kind = value::type::nil;
          return step::complete;
        }
        std::size_t n = 0;
        if (!parse_count(rest, limits_.max_items - reply_items_, n)) {
          if (!rest.empty() && rest.front() == '-') {
            fail("negative array length");
          } else {
            fail("array length malformed or more than " + std::to_string(limits_.max_items) + " items in a reply");
          }
          return step::bad;
        }
        if (stack_.size() + 1 > limits_.max_depth) {
          fail("arrays nested deeper than " + std::to_string(limits_.max_depth));
          return step::bad;
        }
        reply_items_ += n;
        element.kind = value::type::array;
        if (n == 0) return step::complete;
        stack_.push_back(frame{std::move(element), n});
        return step::pushed;
      }
      default:
        fail("unknown type byte " + byte_name(type));
        return step::bad;
    }
  }
  // A bulk string's payload and its CRLF.
  const auto n = static_cast<std::size_t>(bulk_pending_);
  if (buf_.size() - pos_ < n + 2) return step::need_more;
  if (buf_[pos_ + n] != '\r' || buf_[pos_ + n + 1] != '\n') {
    fail("bulk string not followed by CRLF");
    return step::bad;
  }
  element.kind = value::type::bulk;
  element.text.assign(buf_, pos_, n);
  pos_ += n + 2;
  reply_bytes_ += n + 2;
  bulk_pending_ = -1;
  return step::complete;
}

reader::status reader::next(value& out) {
  if (bad_) return status::bad;
  for (;;) {
    value element;
    switch (parse_element(element)) {
      case step::need_more: return status::need_more;
      case step::bad: return status::bad;
      case step::pushed: continue;
      case step::complete: break;
    }
    // Fold completed elements into their arrays; an outermost one is the reply.
    for (;;) {
      if (stack_.empty()) {
        out = std::move(element);
        buffered_ -= reply_bytes_;
        reply_bytes_ = 0;
        reply_items_ = 0;
        return status::value;
      }
      auto& top = stack_.back();
      top.array.items.push_back(std::move(element));
      if (--top.remaining > 0) break;
      element = std::move(top.array);
      stack_.pop_back();
    }
  }
}

}  // namespace rv::resp
