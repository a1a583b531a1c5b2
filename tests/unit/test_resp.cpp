// RESP: commands as Redis reads them, replies read back whole however they are split, and the
// reader's bounds on hostile input.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "rv/resp.hpp"

using rv::resp::reader;
using rv::resp::value;
using type = rv::resp::value::type;

namespace rv::resp {
// For BOOST_TEST's messages.
inline std::ostream& operator<<(std::ostream& os, const value& v) {
  os << to_string(v.kind);
  switch (v.kind) {
    case type::simple:
    case type::error:
    case type::bulk: return os << '(' << v.text.size() << " bytes)";
    case type::integer: return os << '(' << v.integer << ')';
    case type::nil: return os;
    case type::array:
      os << '[';
      for (const auto& item : v.items) os << item << ' ';
      return os << ']';
  }
  return os;
}
inline std::ostream& operator<<(std::ostream& os, reader::status s) {
  switch (s) {
    case reader::status::value: return os << "value";
    case reader::status::need_more: return os << "need_more";
    case reader::status::bad: return os << "bad";
  }
  return os;
}
}  // namespace rv::resp

namespace {

value simple(std::string t) { return value{type::simple, std::move(t), 0, {}}; }
value error(std::string t) { return value{type::error, std::move(t), 0, {}}; }
value bulk(std::string t) { return value{type::bulk, std::move(t), 0, {}}; }
value integer(std::int64_t n) { return value{type::integer, {}, n, {}}; }
value nil() { return value{}; }
value array(std::vector<value> items) { return value{type::array, {}, 0, std::move(items)}; }

std::string wire(const value& v) {
  std::string out;
  rv::resp::append_reply(out, v);
  return out;
}

// Everything `r` yields until it needs more; fails the test on bad.
void drain(reader& r, std::vector<value>& got) {
  for (;;) {
    value v;
    const auto st = r.next(v);
    BOOST_TEST_REQUIRE(st != reader::status::bad, "bad: " << r.error());
    if (st == reader::status::need_more) return;
    got.push_back(std::move(v));
  }
}

std::string binary() {
  std::string b;
  for (int i = 0; i < 256; ++i) b += static_cast<char>(i);
  return b + "\r\n$3\r\n*1\r\n\r";
}

// One of each kind, and the shapes a server sends.
std::vector<value> samples() {
  return {
      simple("OK"),
      simple(""),
      error("ERR unknown command"),
      error("WRONGPASS invalid username-password pair"),
      integer(0),
      integer(-1),
      integer(INT64_MAX),
      integer(INT64_MIN),
      bulk("foo"),
      bulk(""),
      bulk(binary()),
      nil(),
      array({}),
      array({bulk("a"), integer(2), nil(), simple("x"), error("E")}),
      array({array({array({bulk("deep")})}), array({})}),
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resp)

BOOST_AUTO_TEST_CASE(commands_are_arrays_of_bulk_strings) {
  BOOST_TEST(rv::resp::command({"SET", "key", "value"}) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  BOOST_TEST(rv::resp::command({"PING"}) == "*1\r\n$4\r\nPING\r\n");
  BOOST_TEST(rv::resp::command({"GET", ""}) == "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
  const std::string odd("a\r\n\0b", 5);
  std::string out = "prefix";
  const std::vector<std::string> args{"SET", odd};
  rv::resp::append_command(out, args);
  BOOST_TEST(out == "prefix*2\r\n$3\r\nSET\r\n$5\r\n" + odd + "\r\n");
}

BOOST_AUTO_TEST_CASE(replies_as_redis_writes_them) {
  struct good_case {
    std::string_view name;
    std::string text;
    value want;
  };
  const good_case cases[] = {
      {"simple", "+OK\r\n", simple("OK")},
      {"simple with a space", "+hello world\r\n", simple("hello world")},
      {"error", "-ERR wrong type\r\n", error("ERR wrong type")},
      {"integer", ":1000\r\n", integer(1000)},
      {"negative integer", ":-42\r\n", integer(-42)},
      {"int64 max", ":9223372036854775807\r\n", integer(INT64_MAX)},
      {"int64 min", ":-9223372036854775808\r\n", integer(INT64_MIN)},
      {"bulk", "$5\r\nhello\r\n", bulk("hello")},
      {"empty bulk", "$0\r\n\r\n", bulk("")},
      {"bulk holding CRLF", "$4\r\n\r\n\r\n\r\n", bulk("\r\n\r\n")},
      {"null bulk", "$-1\r\n", nil()},
      {"null array", "*-1\r\n", nil()},
      {"empty array", "*0\r\n", array({})},
      {"EXEC-like array", "*2\r\n:1\r\n$2\r\nok\r\n", array({integer(1), bulk("ok")})},
      {"nested", "*2\r\n*1\r\n:1\r\n*0\r\n", array({array({integer(1)}), array({})})},
      {"array with a null", "*3\r\n$1\r\na\r\n$-1\r\n+b\r\n", array({bulk("a"), nil(), simple("b")})},
      {"RESP3 null", "_\r\n", nil()},
      {"RESP3 true", "#t\r\n", integer(1)},
      {"RESP3 false", "#f\r\n", integer(0)},
      {"RESP3 double", ",3.25\r\n", simple("3.25")},
      {"RESP3 infinity", ",-inf\r\n", simple("-inf")},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      reader r;
      r.feed(c.text);
      BOOST_TEST(r.buffered() == c.text.size());
      value v;
      BOOST_TEST_REQUIRE(r.next(v) == reader::status::value, r.error());
      BOOST_TEST(v == c.want);
      BOOST_TEST(r.buffered() == 0u);
      BOOST_TEST(r.next(v) == reader::status::need_more);
    }
}

BOOST_AUTO_TEST_CASE(every_type_round_trips) {
  for (const auto& v : samples()) BOOST_TEST_CONTEXT(v) {
      reader r;
      r.feed(wire(v));
      value back;
      BOOST_TEST_REQUIRE(r.next(back) == reader::status::value, r.error());
      BOOST_TEST(back == v);
    }
}

// All the samples back to back, fed one byte at a time, then in two pieces split at every
// offset: the same replies come out, in order, whatever the split.
BOOST_AUTO_TEST_CASE(split_at_every_byte_boundary) {
  const auto want = samples();
  std::string all;
  for (const auto& v : want) all += wire(v);

  {
    reader r;
    std::vector<value> got;
    for (char c : all) {
      r.feed(std::string_view(&c, 1));
      drain(r, got);
    }
    BOOST_TEST(got == want);
    BOOST_TEST(r.buffered() == 0u);
  }
  for (std::size_t split = 0; split <= all.size(); ++split) BOOST_TEST_CONTEXT("split at " << split) {
      reader r;
      std::vector<value> got;
      r.feed(std::string_view(all).substr(0, split));
      drain(r, got);
      r.feed(std::string_view(all).substr(split));
      drain(r, got);
      BOOST_TEST_REQUIRE(got == want);
    }
}

BOOST_AUTO_TEST_CASE(buffered_counts_what_no_reply_returned_yet) {
  reader r;
  r.feed("+OK\r\n$5\r\nhel");
  value v;
  BOOST_TEST(r.next(v) == reader::status::value);
  BOOST_TEST(r.buffered() == 7u);  // "$5\r\nhel"
  BOOST_TEST(r.next(v) == reader::status::need_more);
  BOOST_TEST(r.buffered() == 7u);
  r.feed("lo\r\n");
  BOOST_TEST(r.next(v) == reader::status::value);
  BOOST_TEST(v == bulk("hello"));
  BOOST_TEST(r.buffered() == 0u);
}

BOOST_AUTO_TEST_CASE(limits_are_inclusive) {
  rv::resp::limits l;
  l.max_bulk = 10;
  l.max_items = 3;
  l.max_depth = 2;
  l.max_line = 8;
  struct fits_case {
    std::string_view name, text;
  };
  const fits_case cases[] = {
      {"bulk of max_bulk bytes", "$10\r\n0123456789\r\n"},
      {"max_items in one array", "*3\r\n:1\r\n:2\r\n:3\r\n"},
      {"max_items across arrays", "*2\r\n*1\r\n:1\r\n:2\r\n"},
      {"max_depth arrays", "*1\r\n*1\r\n:1\r\n"},
      {"a line of max_line bytes", "+1234567\r\n"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      reader r(l);
      r.feed(c.text);
      value v;
      BOOST_TEST(r.next(v) == reader::status::value, r.error());
    }
}

BOOST_AUTO_TEST_CASE(hostile_replies_are_bad) {
  const std::string long_line = "+" + std::string(5000, 'a');
  struct bad_case {
    std::string_view name;
    std::string text;
    std::string_view why;  // part of error()
  };
  std::string deep;
  for (int i = 0; i < 9; ++i) deep += "*1\r\n";
  deep += ":1\r\n";
  const bad_case cases[] = {
      {"bulk length over max_bulk", "$1048577\r\n", "bulk string length"},
      {"huge bulk length", "$99999999999999999999999\r\n", "bulk string length"},
      {"bulk length with a plus", "$+3\r\nfoo\r\n", "bulk string length"},
      {"empty bulk length", "$\r\n", "bulk string length"},
      {"negative bulk length", "$-2\r\n", "negative bulk"},
      {"minus zero bulk length", "$-0\r\n", "negative bulk"},
      {"huge negative length", "$-99999999999999999999\r\n", "negative bulk"},
      {"array over max_items", "*4097\r\n", "array length"},
      {"huge array", "*18446744073709551617\r\n", "array length"},
      {"items over max_items across arrays", "*200\r\n*4000\r\n", "array length"},
      {"negative array length", "*-2\r\n", "negative array"},
      {"nesting deeper than max_depth", deep, "nested deeper"},
      {"empty integer", ":\r\n", "malformed integer"},
      {"integer with letters", ":12a\r\n", "malformed integer"},
      {"integer with a plus", ":+1\r\n", "malformed integer"},
      {"integer past int64", ":9223372036854775808\r\n", "malformed integer"},
      {"integer below int64", ":-9223372036854775809\r\n", "malformed integer"},
      {"twenty digits", ":10000000000000000000\r\n", "malformed integer"},
      {"a lone minus", ":-\r\n", "malformed integer"},
      {"bulk without its CRLF", "$3\r\nfooXY", "not followed by CRLF"},
      {"bulk with LF only", "$3\r\nfoo\n\r", "not followed by CRLF"},
      {"line without CRLF, too long", long_line, "line longer"},
      {"line too long with CRLF", long_line + "\r\n", "line longer"},
      {"bare LF in a simple string", "+a\nb\r\n", "bare CR or LF"},
      {"bare CR in an error", "-a\rb\r\n", "bare CR or LF"},
      {"unknown type byte", "?x\r\n", "unknown type byte 0x3f"},
      {"RESP3 map", "%1\r\n+a\r\n+b\r\n", "unknown type"},
      {"empty line", "\r\n", "empty line"},
      {"a bad RESP3 null", "_x\r\n", "malformed null"},
      {"a bad RESP3 boolean", "#x\r\n", "malformed boolean"},
      {"a bad RESP3 double", ",\r\n", "malformed double"},
      {"bad inside an array", "*2\r\n:1\r\n:x\r\n", "malformed integer"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      reader r;
      r.feed(c.text);
      value v;
      BOOST_TEST(r.next(v) == reader::status::bad);
      BOOST_TEST(r.error().find(c.why) != std::string::npos, "error: " << r.error());
      // Sticky: what follows cannot be trusted to line up with anything.
      r.feed("+OK\r\n");
      BOOST_TEST(r.next(v) == reader::status::bad);
    }
}

BOOST_AUTO_TEST_CASE(a_reply_over_max_reply_is_bad) {
  rv::resp::limits l;
  l.max_reply = 64;
  reader r(l);
  r.feed("*3\r\n$20\r\n01234567890123456789\r\n$20\r\n01234567890123456789\r\n$20\r\n");
  value v;
  BOOST_TEST(r.next(v) == reader::status::bad);
  BOOST_TEST(r.error().find("reply longer") != std::string::npos, r.error());
}

BOOST_AUTO_TEST_CASE(a_short_line_waits_and_a_long_one_fails_before_its_end) {
  reader r;
  r.feed("+" + std::string(4000, 'a'));
  value v;
  BOOST_TEST(r.next(v) == reader::status::need_more);
  r.feed(std::string(200, 'a'));  // past max_line and still no CRLF: no point waiting
  BOOST_TEST(r.next(v) == reader::status::bad);
}

// Large replies fed in tiny pieces cost time in proportion to their size, not its square.
BOOST_AUTO_TEST_CASE(tiny_feeds_take_linear_time) {
  const auto start = std::chrono::steady_clock::now();
  {
    reader r;
    const std::string big = wire(bulk(std::string(1 << 20, 'x')));
    for (char c : big) {
      r.feed(std::string_view(&c, 1));
      value v;
      const auto st = r.next(v);
      if (st == reader::status::value) BOOST_TEST(v.text.size() == std::size_t{1} << 20);
      BOOST_TEST_REQUIRE(st != reader::status::bad);
    }
    BOOST_TEST(r.buffered() == 0u);
  }
  {
    // 4000 elements of an array, in three-byte feeds.
    reader r;
    std::vector<value> items(4000, integer(7));
    const std::string text = wire(array(items));
    std::size_t values = 0;
    for (std::size_t at = 0; at < text.size(); at += 3) {
      r.feed(std::string_view(text).substr(at, 3));
      value v;
      if (r.next(v) == reader::status::value) {
        ++values;
        BOOST_TEST(v.items.size() == 4000u);
      }
    }
    BOOST_TEST(values == 1u);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(ms < 3000, "took " << ms << " ms");
}

BOOST_AUTO_TEST_CASE(many_replies_in_one_feed) {
  reader r;
  std::string text;
  for (int i = 0; i < 10000; ++i) text += ":" + std::to_string(i) + "\r\n";
  r.feed(text);
  std::vector<value> got;
  drain(r, got);
  BOOST_TEST_REQUIRE(got.size() == 10000u);
  BOOST_TEST(got.back() == integer(9999));
}

BOOST_AUTO_TEST_SUITE_END()
