// Bounded HTTP/1.1 message-head parsing and writing, without I/O.
//
// The parser is strict (RFC 9112): lines end in CRLF; a bare CR or bare LF,
// obs-fold, whitespace before a colon, NUL or other control characters, or a
// malformed start line make the head `bad`. It never reads past the empty line
// that ends the head; `consumed` says where the body (or tunnel) bytes begin.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace rv {

struct header_field {
  std::string name;
  std::string value;  // leading and trailing whitespace removed
};

// Case-insensitive lookup over a field list; nullptr when absent.
const std::string* find_field(const std::vector<header_field>& fields, std::string_view name);
// How many fields have this name (case-insensitive).
std::size_t count_fields(const std::vector<header_field>& fields, std::string_view name);

struct request_head {
  std::string method;   // e.g. "CONNECT", "GET"
  std::string target;   // e.g. "uuid:ID?response=123456", "/path?q"
  int version_minor = 1;  // HTTP/1.<minor>; only HTTP/1.0 and HTTP/1.1 parse
  std::vector<header_field> fields;
  const std::string* find(std::string_view name) const { return find_field(fields, name); }
};

struct response_head {
  int version_minor = 1;
  int status = 0;       // 100..999
  std::string reason;   // may be empty: the seed server sends "HTTP/1.1 200"
  std::vector<header_field> fields;
  const std::string* find(std::string_view name) const { return find_field(fields, name); }
};

struct head_limits {
  std::size_t max_line = 8 * 1024;    // any one line, CRLF excluded
  std::size_t max_head = 16 * 1024;   // the whole head, final empty line included
  std::size_t max_fields = 100;
};

enum class parse_status {
  good,       // a whole head; `consumed` bytes were used
  need_more,  // no complete head yet and no limit exceeded: read more
  bad,        // malformed: answer 400 and close
  too_large,  // a limit was exceeded: answer 400, not 431 (docs/PROTOCOL.md §2.2), and close
};

struct parse_result {
  parse_status status = parse_status::need_more;
  std::size_t consumed = 0;  // meaningful when good
  std::string error;         // a short diagnostic when bad or too_large
};

// One-shot parses of a whole buffer. `out` is written only when good.
parse_result parse_request(std::string_view data, request_head& out, const head_limits& limits = {});
parse_result parse_response(std::string_view data, response_head& out, const head_limits& limits = {});

// The same parse for a buffer that grows by appending while a head arrives
// (read_head). Each call is given the whole buffer so far; it resumes where
// the last call stopped, so a head costs time linear in its bytes however
// finely it arrives (re-parsing from the start on every read was quadratic:
// a 16 KiB head in one-byte TLS records cost a server thread ~0.2 s).
//
// Every call returns what parse_request / parse_response would return for the
// same bytes, diagnostics and limits included. Once a call returns anything
// but need_more the parser is finished and returns that result again. `data`
// must begin with every byte the previous calls were given.
template <class Head>
class head_parser {
 public:
  explicit head_parser(const head_limits& limits = {}) : limits_(limits) {}
  parse_result parse(std::string_view data);
  // The whole head once parse() returned good; before that, a part of it.
  Head& head() { return head_; }

 private:
  parse_result finish(parse_status status, std::size_t consumed, const char* error);

  head_limits limits_;
  Head head_;
  std::size_t line_start_ = 0;  // where the line being scanned begins
  std::size_t scanned_ = 0;     // the bytes before this passed every check
  bool have_start_line_ = false;
  parse_result result_;  // need_more until the head ends or fails
};
using request_parser = head_parser<request_head>;
using response_parser = head_parser<response_head>;
extern template class head_parser<request_head>;
extern template class head_parser<response_head>;

// Writes "METHOD target HTTP/1.x\r\n" + fields + "\r\n".
std::string format_request(const request_head& head);
// Writes "HTTP/1.x status reason\r\n" (no trailing space when reason is empty) + fields + "\r\n".
std::string format_response(const response_head& head);

// The standard reason phrase for the statuses this protocol uses ("" if unknown).
std::string_view reason_phrase(int status);

} // namespace rv
