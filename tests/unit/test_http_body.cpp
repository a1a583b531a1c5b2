// Where a request body ends (RFC 9112 §6.3, §7.1): the framing a head
// declares, and a chunked body followed byte by byte, whole or split anywhere.
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

#include "rv/http_body.hpp"

namespace {

using rv::body_framing;
using kind = rv::body_framing::kind;

rv::request_head head_with(std::vector<rv::header_field> fields, int minor = 1) {
  rv::request_head h;
  h.method = "POST";
  h.target = "/";
  h.version_minor = minor;
  h.fields = std::move(fields);
  return h;
}

struct framing_case {
  const char* name;
  rv::request_head head;
  std::optional<body_framing> want;
};

const framing_case framing_cases[] = {
    {"no body fields", head_with({}), body_framing{}},
    {"Content-Length: 0", head_with({{"Content-Length", "0"}}), body_framing{}},
    {"Content-Length: 10", head_with({{"Content-Length", "10"}}), body_framing{kind::length, 10}},
    {"leading zeros", head_with({{"content-length", "007"}}), body_framing{kind::length, 7}},
    {"chunked", head_with({{"Transfer-Encoding", "chunked"}}), body_framing{kind::chunked}},
    {"Chunked, any case", head_with({{"transfer-encoding", "Chunked"}}), body_framing{kind::chunked}},
    {"gzip, then chunked", head_with({{"Transfer-Encoding", "gzip, chunked"}}), body_framing{kind::chunked}},
    {"codings over two fields", head_with({{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}),
     body_framing{kind::chunked}},
    {"chunked not last", head_with({{"Transfer-Encoding", "chunked, gzip"}}), std::nullopt},
    {"chunked twice", head_with({{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}),
     std::nullopt},
    {"only gzip", head_with({{"Transfer-Encoding", "gzip"}}), std::nullopt},
    {"empty Transfer-Encoding", head_with({{"Transfer-Encoding", ""}}), std::nullopt},
    {"both framings", head_with({{"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}}), std::nullopt},
    {"Transfer-Encoding in HTTP/1.0", head_with({{"Transfer-Encoding", "chunked"}}, 0), std::nullopt},
    {"two Content-Lengths", head_with({{"Content-Length", "3"}, {"Content-Length", "3"}}), std::nullopt},
    {"a list of lengths", head_with({{"Content-Length", "3, 3"}}), std::nullopt},
    {"negative", head_with({{"Content-Length", "-1"}}), std::nullopt},
    {"not a number", head_with({{"Content-Length", "ten"}}), std::nullopt},
    {"empty", head_with({{"Content-Length", ""}}), std::nullopt},
    {"19 digits", head_with({{"Content-Length", "1000000000000000000"}}), std::nullopt},
};

struct body_case {
  const char* name;
  body_framing framing;
  std::string bytes;
  std::size_t belongs;  // how many of `bytes` are the body (unless it goes bad)
  enum { done, more, bad } outcome;
};

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

const std::vector<body_case> body_cases = {
    {"length", {kind::length, 5}, "helloGET / HTTP/1.1", 5, body_case::done},
    {"length, not all here yet", {kind::length, 10}, "hello", 5, body_case::more},
    {"no body", {}, "GET / HTTP/1.1", 0, body_case::done},
    {"one chunk", {kind::chunked}, "5\r\nhello\r\n0\r\n\r\nGET", 15, body_case::done},
    {"hex sizes, any case", {kind::chunked}, "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", 35,
     body_case::done},
    {"extensions", {kind::chunked}, "5;a=1;b=\"x y\"\r\nhello\r\n0;last\r\n\r\nX", 32, body_case::done},
    {"trailers", {kind::chunked}, "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\nGET", 33, body_case::done},
    {"not ended yet", {kind::chunked}, "5\r\nhel", 6, body_case::more},
    {"before the final CRLF", {kind::chunked}, "0\r\n", 3, body_case::more},
    {"bare LF after a size", {kind::chunked}, "5\nhello\r\n0\r\n\r\n", 2, body_case::bad},
    {"data longer than its size", {kind::chunked}, "5\r\nhelloX\r\n0\r\n\r\n", 9, body_case::bad},
    {"not hex", {kind::chunked}, "g\r\n", 1, body_case::bad},
    {"no size", {kind::chunked}, "\r\n", 1, body_case::bad},
    {"space before the size", {kind::chunked}, " 5\r\n", 1, body_case::bad},
    {"16 hex digits", {kind::chunked}, "1000000000000000\r\n", 16, body_case::bad},
    {"a control character in an extension", {kind::chunked}, "5;a\x01\r\n", 4, body_case::bad},
    {"an extension over 4 KiB", {kind::chunked}, "5;" + repeat('x', 5000) + "\r\n", 4096, body_case::bad},
    {"trailers over 16 KiB", {kind::chunked}, "0\r\nX: " + repeat('y', 17000) + "\r\n\r\n", 16388,
     body_case::bad},
    {"obs-fold in a trailer", {kind::chunked}, "0\r\nX: 1\r\n folded\r\n\r\n", 11, body_case::bad},
    {"no CRLF after the last chunk", {kind::chunked}, "0\r\nX", 4, body_case::more},
};

// Feeds `bytes` in pieces of `step` (0: all at once), as reads would bring them.
std::size_t feed(rv::request_body& b, const std::string& bytes, std::size_t step) {
  std::size_t at = 0;
  while (at < bytes.size() && !b.done() && !b.bad()) {
    const std::size_t n = step == 0 ? bytes.size() - at : std::min(step, bytes.size() - at);
    const std::size_t took = b.take(std::string_view(bytes).substr(at, n));
    at += took;
    if (took < n) break;
  }
  return at;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_body)

BOOST_AUTO_TEST_CASE(a_head_declares_its_body_or_its_framing_is_faulty) {
  for (const auto& c : framing_cases) BOOST_TEST_CONTEXT(c.name) {
      const auto got = rv::request_body_framing(c.head);
      BOOST_TEST(got.has_value() == c.want.has_value());
      if (got && c.want) {
        BOOST_TEST((got->how == c.want->how));
        BOOST_TEST(got->length == c.want->length);
      }
    }
}

BOOST_AUTO_TEST_CASE(a_body_ends_where_its_framing_says_however_it_is_split) {
  for (const auto& c : body_cases)
    for (std::size_t step : {0, 1, 2, 3, 7}) BOOST_TEST_CONTEXT(c.name << ", in pieces of " << step) {
        rv::request_body b(c.framing);
        const std::size_t took = feed(b, c.bytes, step);
        BOOST_TEST(b.done() == (c.outcome == body_case::done));
        BOOST_TEST(b.bad() == (c.outcome == body_case::bad));
        if (c.outcome != body_case::bad) BOOST_TEST(took == c.belongs);
      }
}

BOOST_AUTO_TEST_CASE(a_long_chunked_body_costs_no_memory) {
  // A gigabyte in 1 MiB chunks, fed as a relay would: nothing is kept.
  rv::request_body b({kind::chunked});
  const std::string chunk = "100000\r\n" + std::string(1 << 20, 'z') + "\r\n";
  for (int i = 0; i < 1024; ++i) BOOST_TEST_REQUIRE(b.take(chunk) == chunk.size());
  BOOST_TEST(!b.done());
  BOOST_TEST(b.take("0\r\n\r\n") == 5u);
  BOOST_TEST(b.done());
}

BOOST_AUTO_TEST_SUITE_END()
