// The bounded HTTP head parser: the heads this protocol sends, partial input, limits, hostile input.
#include <boost/test/unit_test.hpp>

#include <random>
#include <string>
#include <vector>

#include "print.hpp"
#include "rv/head.hpp"

using namespace std::literals;
using rv::parse_result;
using rv::parse_status;

namespace {

const std::string_view register_head = "CONNECT uuid:abc?response=123456 HTTP/1.1\r\nHost: h:1\r\n\r\n";
const std::string_view seed_ok = "HTTP/1.1 200\r\n\r\n";
const std::string_view arrival_notice =
    "HTTP/1.1 200 Rendezvous\r\nRendezvous-Mode: stream\r\nRendezvous-Client: 192.0.2.7:40001\r\n\r\n";
const std::string_view padded_and_repeated_fields = "GET / HTTP/1.0\r\nX-A: \t v w \t\r\nx-a:1\r\n\r\n";
// Tunnel bytes that may follow a head.
const std::string_view ssh_banner = "SSH-2.0-OpenSSH_9.2\r\n\r\n";

parse_status request_status(std::string_view data, const rv::head_limits& limits = {}) {
  rv::request_head head;
  return rv::parse_request(data, head, limits).status;
}

parse_status response_status(std::string_view data, const rv::head_limits& limits = {}) {
  rv::response_head head;
  return rv::parse_response(data, head, limits).status;
}

// A GET whose one field line is `line_length` bytes long, CRLF excluded.
std::string request_with_line(std::size_t line_length) {
  return "GET / HTTP/1.1\r\nX-Pad: " + std::string(line_length - 7, 'a') + "\r\n\r\n";
}

// A whole request head of exactly limits.max_head bytes.
std::string head_of_max_head(const rv::head_limits& limits) {
  std::string exact = "GET / HTTP/1.1\r\n";
  while (exact.size() + 8000 + 2 + 2 <= limits.max_head) exact += "X-P: " + std::string(7995, 'a') + "\r\n";
  exact += "X-L: " + std::string(limits.max_head - exact.size() - 2 - 2 - 5, 'b') + "\r\n";
  exact += "\r\n";
  return exact;
}

struct limit_case {
  std::string name;
  std::string data;
  rv::head_limits limits;
  bool response;
  parse_status expected;
};

std::vector<limit_case> limit_cases() {
  const rv::head_limits limits;
  const std::string exact = head_of_max_head(limits);
  std::string over = exact;
  over.insert(over.size() - 4, "c");
  std::string fields = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i < limits.max_fields; ++i) fields += "X-F: 1\r\n";
  const rv::head_limits small{64, 128, 2};
  return {
      {"a line of max_line", request_with_line(limits.max_line), limits, false, parse_status::good},
      {"a line of max_line + 1", request_with_line(limits.max_line + 1), limits, false, parse_status::too_large},
      // A long line is too large before its end arrives: no waiting for more.
      {"the start of a line over max_line", request_with_line(limits.max_line + 1).substr(0, 16 + limits.max_line + 1),
       limits, false, parse_status::too_large},
      {"a start line over max_line", std::string(limits.max_line + 1, 'G'), limits, false, parse_status::too_large},
      {"a head of max_head", exact, limits, false, parse_status::good},
      {"a head of max_head + 1", over, limits, false, parse_status::too_large},
      // An unfinished head that already fills max_head can never fit.
      {"an unfinished head of max_head", exact.substr(0, exact.size() - 2) + "X-", limits, false,
       parse_status::too_large},
      {"max_fields fields", fields + "\r\n", limits, false, parse_status::good},
      {"max_fields + 1 fields", fields + "X-F: 1\r\n\r\n", limits, false, parse_status::too_large},
      {"small limits, two fields", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n", small, false, parse_status::good},
      {"small limits, three fields", "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small, false,
       parse_status::too_large},
      {"small limits, a long reason", "HTTP/1.1 200 " + std::string(60, 'x') + "\r\n\r\n", small, true,
       parse_status::too_large},
  };
}

struct bad_case {
  std::string_view name, data;
};

const bad_case hostile_requests[] = {
    {"bare CR ends a line", "GET / HTTP/1.1\rHost: h\r\n\r\n"},
    {"bare CR inside a value", "GET / HTTP/1.1\r\nHost: h\rx\r\n\r\n"},
    {"bare LF ends the start line", "GET / HTTP/1.1\nHost: h\r\n\r\n"},
    {"bare LF ends the head", "GET / HTTP/1.1\r\nHost: h\r\n\n"},
    {"obs-fold with a space", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n"},
    {"obs-fold with a tab", "GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n"},
    {"space before the colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n"},
    {"tab before the colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"},
    {"NUL in a value", "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n"sv},
    {"NUL in the target", "GET /\0 HTTP/1.1\r\n\r\n"sv},
    {"other control character", "GET / HTTP/1.1\r\nX-A: a\x01\r\n\r\n"},
    {"DEL", "GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n"},
    {"empty field name", "GET / HTTP/1.1\r\n: v\r\n\r\n"},
    {"field without a colon", "GET / HTTP/1.1\r\nHost\r\n\r\n"},
    {"separator in a field name", "GET / HTTP/1.1\r\nX(A): v\r\n\r\n"},
    {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n"},
    {"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n"},
    {"lower-case version", "GET / http/1.1\r\n\r\n"},
    {"version with stray text", "GET / HTTP/1.1x\r\n\r\n"},
    {"no version", "GET /\r\n\r\n"},
    {"two spaces", "GET  / HTTP/1.1\r\n\r\n"},
    {"space inside the target", "GET /a b HTTP/1.1\r\n\r\n"},
    {"empty method", " / HTTP/1.1\r\n\r\n"},
    {"empty start line", "\r\nGET / HTTP/1.1\r\n\r\n"},
    {"non-ASCII in the target", "GET /\xc3\xa9 HTTP/1.1\r\n\r\n"},
};

const bad_case hostile_responses[] = {
    {"non-numeric status", "HTTP/1.1 2x0 OK\r\n\r\n"},
    {"two-digit status", "HTTP/1.1 20\r\n\r\n"},
    {"four-digit status", "HTTP/1.1 2000\r\n\r\n"},
    {"status below 100", "HTTP/1.1 099 Odd\r\n\r\n"},
    {"no space after the version", "HTTP/1.1200 OK\r\n\r\n"},
    {"HTTP/2", "HTTP/2 200 OK\r\n\r\n"},
    {"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n"},
    {"not a status line", "GET / HTTP/1.1\r\n\r\n"},
    {"bare LF", "HTTP/1.1 200\n\n"},
    {"obs-fold", "HTTP/1.1 200 OK\r\nA: 1\r\n 2\r\n\r\n"},
};

// Every head above, with the limits it is parsed under, for the checks that
// hold of any input.
struct any_case {
  std::string name;
  std::string data;
  rv::head_limits limits;
};

std::vector<any_case> every_case() {
  const rv::head_limits defaults;
  std::vector<any_case> cases;
  for (std::string_view whole : {register_head, seed_ok, arrival_notice})
    for (std::size_t n = 0; n <= whole.size(); ++n)
      cases.push_back({"the first " + std::to_string(n) + " bytes of " + std::string(whole.substr(0, 12)) + "...",
                       std::string(whole.substr(0, n)), defaults});
  cases.push_back({"padded and repeated fields", std::string(padded_and_repeated_fields), defaults});
  cases.push_back({"a head, then tunnel bytes", std::string(register_head) + std::string(ssh_banner), defaults});
  cases.push_back({"two heads", std::string(arrival_notice) + std::string(seed_ok), defaults});
  for (const auto& c : limit_cases()) cases.push_back({c.name, c.data, c.limits});
  for (const auto& c : hostile_requests) cases.push_back({std::string(c.name), std::string(c.data), defaults});
  for (const auto& c : hostile_responses) cases.push_back({std::string(c.name), std::string(c.data), defaults});
  return cases;
}

parse_result parse_whole(std::string_view data, rv::request_head& head, const rv::head_limits& limits) {
  return rv::parse_request(data, head, limits);
}
parse_result parse_whole(std::string_view data, rv::response_head& head, const rv::head_limits& limits) {
  return rv::parse_response(data, head, limits);
}
std::string text_of(const rv::request_head& head) { return rv::format_request(head); }
std::string text_of(const rv::response_head& head) { return rv::format_response(head); }

struct parsed {
  parse_result result;
  std::string head;  // formatted, when good
};

template <class Head>
parsed one_shot(const any_case& c) {
  Head head;
  parsed out{parse_whole(c.data, head, c.limits), {}};
  if (out.result.status == parse_status::good) out.head = text_of(head);
  return out;
}

// Feeds the parser c.data's prefixes of these sizes (a buffer growing by
// appends), stopping at its first answer that is not need_more.
template <class Head>
parsed incrementally(const any_case& c, const std::vector<std::size_t>& sizes) {
  rv::head_parser<Head> parser(c.limits);
  parsed out;
  for (std::size_t size : sizes) {
    out.result = parser.parse(std::string_view(c.data).substr(0, size));
    if (out.result.status != parse_status::need_more) break;
  }
  if (out.result.status == parse_status::good) out.head = text_of(parser.head());
  return out;
}

// The buffer sizes a head passes through when it arrives in steps of up to
// `max_step` bytes; a step may be empty (a call with nothing new).
std::vector<std::size_t> random_steps(std::size_t total, std::size_t max_step, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> step(0, max_step);
  std::vector<std::size_t> sizes{0};
  while (sizes.back() < total) sizes.push_back(std::min(total, sizes.back() + step(rng)));
  return sizes;
}

template <class Head>
void check_incremental_agrees(const any_case& c) {
  const parsed want = one_shot<Head>(c);
  const std::size_t total = c.data.size();
  std::vector<std::size_t> byte_by_byte;
  for (std::size_t n = 0; n <= total; ++n) byte_by_byte.push_back(n);
  const std::pair<std::string, std::vector<std::size_t>> feeds[] = {
      {"whole", {total}},
      {"byte by byte", byte_by_byte},
      {"random steps of up to 3 bytes", random_steps(total, 3, 1)},
      {"random steps of up to 17 bytes", random_steps(total, 17, 2)},
      {"random steps of up to 1000 bytes", random_steps(total, 1000, 3)},
  };
  for (const auto& [how, sizes] : feeds) BOOST_TEST_CONTEXT(how) {
      const parsed got = incrementally<Head>(c, sizes);
      BOOST_TEST(got.result.status == want.result.status);
      BOOST_TEST(got.result.consumed == want.result.consumed);
      BOOST_TEST(got.result.error == want.result.error);
      BOOST_TEST(got.head == want.head);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(head)

BOOST_AUTO_TEST_CASE(registration_request) {
  rv::request_head head;
  auto r = rv::parse_request(register_head, head);
  BOOST_TEST_REQUIRE(r.status == parse_status::good);
  BOOST_TEST(r.consumed == register_head.size());
  BOOST_TEST(head.method == "CONNECT");
  BOOST_TEST(head.target == "uuid:abc?response=123456");
  BOOST_TEST(head.version_minor == 1);
  BOOST_TEST_REQUIRE(head.fields.size() == 1u);
  BOOST_TEST(head.fields[0].name == "Host");
  BOOST_TEST(head.fields[0].value == "h:1");
}

BOOST_AUTO_TEST_CASE(seed_server_status_line_without_reason_or_fields) {
  rv::response_head head;
  auto r = rv::parse_response(seed_ok, head);
  BOOST_TEST_REQUIRE(r.status == parse_status::good);
  BOOST_TEST(r.consumed == seed_ok.size());
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.reason == "");
  BOOST_TEST(head.fields.empty());
}

BOOST_AUTO_TEST_CASE(arrival_notice_fields_are_trimmed_and_found_case_insensitively) {
  rv::response_head head;
  BOOST_TEST_REQUIRE(rv::parse_response(arrival_notice, head).status == parse_status::good);
  BOOST_TEST(head.reason == "Rendezvous");
  BOOST_TEST_REQUIRE(head.find("rendezvous-mode") != nullptr);
  BOOST_TEST(*head.find("RENDEZVOUS-MODE") == "stream");
  BOOST_TEST(head.find("Rendezvous-Notify") == nullptr);

  rv::request_head req;
  BOOST_TEST_REQUIRE(rv::parse_request(padded_and_repeated_fields, req).status == parse_status::good);
  BOOST_TEST(req.version_minor == 0);
  BOOST_TEST(*req.find("X-A") == "v w");
  BOOST_TEST(rv::count_fields(req.fields, "x-A") == 2u);
  BOOST_TEST(rv::count_fields(req.fields, "Host") == 0u);
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_good_head_needs_more) {
  for (std::string_view whole : {register_head, seed_ok, arrival_notice}) BOOST_TEST_CONTEXT(whole) {
      bool is_response = whole.starts_with("HTTP/");
      for (std::size_t n = 0; n < whole.size(); ++n) BOOST_TEST_CONTEXT("prefix of " << n) {
          auto prefix = whole.substr(0, n);
          BOOST_TEST((is_response ? response_status(prefix) : request_status(prefix)) == parse_status::need_more);
        }
    }
}

BOOST_AUTO_TEST_CASE(consumed_stops_at_the_empty_line) {
  // Tunnel bytes that follow the head (here an SSH banner) are not the head's.
  std::string data = std::string(register_head) + std::string(ssh_banner);
  rv::request_head head;
  auto r = rv::parse_request(data, head);
  BOOST_TEST_REQUIRE(r.status == parse_status::good);
  BOOST_TEST(r.consumed == register_head.size());

  std::string two_heads = std::string(arrival_notice) + std::string(seed_ok);
  rv::response_head first;
  auto r2 = rv::parse_response(two_heads, first);
  BOOST_TEST_REQUIRE(r2.status == parse_status::good);
  BOOST_TEST(r2.consumed == arrival_notice.size());
  BOOST_TEST(first.reason == "Rendezvous");
}

BOOST_AUTO_TEST_CASE(limits) {
  const rv::head_limits limits;
  BOOST_TEST_REQUIRE(head_of_max_head(limits).size() == limits.max_head);
  for (const auto& c : limit_cases()) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST((c.response ? response_status(c.data, c.limits) : request_status(c.data, c.limits)) == c.expected);
    }
}

BOOST_AUTO_TEST_CASE(hostile_requests_are_bad) {
  for (const auto& c : hostile_requests) BOOST_TEST_CONTEXT(c.name) {
      rv::request_head head;
      auto r = rv::parse_request(c.data, head);
      BOOST_TEST(r.status == parse_status::bad);
      BOOST_TEST(!r.error.empty());
    }
}

BOOST_AUTO_TEST_CASE(hostile_responses_are_bad) {
  for (const auto& c : hostile_responses) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(response_status(c.data) == parse_status::bad);
    }
}

// read_head's parser, fed the buffer as it grows, answers as the one-shot
// parse of the same bytes would: status, diagnostic, consumed and head.
BOOST_AUTO_TEST_CASE(incremental_parse_agrees_with_the_one_shot_parse_however_the_bytes_arrive) {
  for (const auto& c : every_case()) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST_CONTEXT("as a request") { check_incremental_agrees<rv::request_head>(c); }
      BOOST_TEST_CONTEXT("as a response") { check_incremental_agrees<rv::response_head>(c); }
    }
}

BOOST_AUTO_TEST_CASE(incremental_parse_judges_a_final_CR_by_the_byte_after_it_and_keeps_its_answer) {
  rv::request_parser parser;
  std::string buf = "GET / HTTP/1.1\r";
  BOOST_TEST(parser.parse(buf).status == parse_status::need_more);
  buf += "\nHost: h\r";
  BOOST_TEST(parser.parse(buf).status == parse_status::need_more);
  buf += "\n\r";
  BOOST_TEST(parser.parse(buf).status == parse_status::need_more);
  buf += "\n";
  const std::size_t head_size = buf.size();
  buf += ssh_banner;
  auto r = parser.parse(buf);
  BOOST_TEST_REQUIRE(r.status == parse_status::good);
  BOOST_TEST(r.consumed == head_size);
  BOOST_TEST_REQUIRE(parser.head().find("Host") != nullptr);
  BOOST_TEST(*parser.head().find("Host") == "h");
  // What follows the head is not the parser's: more of it changes nothing.
  buf += "\r\x01\n";
  auto again = parser.parse(buf);
  BOOST_TEST(again.status == parse_status::good);
  BOOST_TEST(again.consumed == head_size);

  rv::response_parser bare;
  BOOST_TEST(bare.parse("HTTP/1.1 200\r").status == parse_status::need_more);
  auto b = bare.parse("HTTP/1.1 200\rX");
  BOOST_TEST(b.status == parse_status::bad);
  BOOST_TEST(b.error == "bare CR");
  BOOST_TEST(bare.parse("HTTP/1.1 200\rX\r\n\r\n").error == "bare CR");
}

BOOST_AUTO_TEST_CASE(format_response_omits_the_space_of_an_empty_reason) {
  rv::response_head head;
  head.status = 200;
  BOOST_TEST(rv::format_response(head) == "HTTP/1.1 200\r\n\r\n");
  head.reason = "OK";
  head.fields = {{"Rendezvous-Notify", "1"}};
  BOOST_TEST(rv::format_response(head) == "HTTP/1.1 200 OK\r\nRendezvous-Notify: 1\r\n\r\n");
}

BOOST_AUTO_TEST_CASE(format_then_parse_round_trips) {
  rv::request_head req;
  req.method = "GET";
  req.target = "/ws?rendezvous=abc";
  req.version_minor = 0;
  req.fields = {{"Host", "h:1"}, {"Connection", "Upgrade"}, {"Upgrade", "websocket"}};
  std::string wire = rv::format_request(req);
  rv::request_head back;
  auto r = rv::parse_request(wire, back);
  BOOST_TEST_REQUIRE(r.status == parse_status::good);
  BOOST_TEST(r.consumed == wire.size());
  BOOST_TEST(back.method == req.method);
  BOOST_TEST(back.target == req.target);
  BOOST_TEST(back.version_minor == 0);
  BOOST_TEST_REQUIRE(back.fields.size() == req.fields.size());
  for (std::size_t i = 0; i < req.fields.size(); ++i) {
    BOOST_TEST(back.fields[i].name == req.fields[i].name);
    BOOST_TEST(back.fields[i].value == req.fields[i].value);
  }
  BOOST_TEST(rv::format_request(back) == wire);

  for (std::string_view reason : {"", "Bad Gateway"}) BOOST_TEST_CONTEXT("reason '" << reason << "'") {
      rv::response_head res;
      res.status = 502;
      res.reason = reason;
      res.fields = {{"Content-Length", "0"}};
      std::string res_wire = rv::format_response(res);
      rv::response_head res_back;
      BOOST_TEST_REQUIRE(rv::parse_response(res_wire, res_back).status == parse_status::good);
      BOOST_TEST(res_back.status == 502);
      BOOST_TEST(res_back.reason == reason);
      BOOST_TEST(rv::format_response(res_back) == res_wire);
    }
}

BOOST_AUTO_TEST_CASE(reason_phrases) {
  BOOST_TEST(rv::reason_phrase(200) == "OK");
  BOOST_TEST(rv::reason_phrase(404) == "Not Found");
  BOOST_TEST(rv::reason_phrase(407) == "Proxy Authentication Required");
  BOOST_TEST(rv::reason_phrase(431) == "Request Header Fields Too Large");
  BOOST_TEST(rv::reason_phrase(299) == "");
}

BOOST_AUTO_TEST_SUITE_END()
