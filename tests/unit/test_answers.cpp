// The protocol's answers and notices (docs/PROTOCOL.md): each writer's bytes, read back by
// its reader, and what a reader makes of what other peers (a seed server, a hostile one) send.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "print.hpp"
#include "rv/answers.hpp"

using namespace std::chrono_literals;

namespace {

// The head of a whole answer; the test fails when it does not parse, or when
// bytes follow it that `body` does not expect.
rv::response_head read_head(std::string_view wire, std::string_view* body = nullptr) {
  rv::response_head head;
  auto r = rv::parse_response(wire, head);
  BOOST_TEST_REQUIRE(r.status == rv::parse_status::good, "answer does not parse: " << r.error);
  if (body) *body = wire.substr(r.consumed);
  else BOOST_TEST(r.consumed == wire.size(), "bytes after the head");
  return head;
}

rv::response_head head_of(std::string_view status_line, std::vector<rv::header_field> fields) {
  rv::response_head head;
  auto r = rv::parse_response(std::string(status_line) + "\r\n\r\n", head);
  BOOST_TEST_REQUIRE(r.status == rv::parse_status::good);
  head.fields = std::move(fields);
  return head;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registration_answer)

BOOST_AUTO_TEST_CASE(a_seed_style_answer_is_a_bare_200) {
  const auto wire = rv::format_registration_answer({});
  BOOST_TEST(wire == "HTTP/1.1 200 OK\r\n\r\n");
  const auto a = rv::read_registration_answer(read_head(wire));
  BOOST_TEST(!a.notify);
  BOOST_TEST(!a.credential.has_value());
}

BOOST_AUTO_TEST_CASE(notices_and_a_credential_round_trip) {
  rv::registration_answer sent;
  sent.notify = true;
  sent.credential = "v2.1700000000.1699999000.abcdef";
  sent.credential_max_age = 600s;
  const auto wire = rv::format_registration_answer(sent);
  BOOST_TEST(wire ==
             "HTTP/1.1 200 OK\r\nRendezvous-Notify: 1\r\nRendezvous-Pool-Credential: "
             "v2.1700000000.1699999000.abcdef\r\nRendezvous-Pool-Max-Age: 600\r\n\r\n");
  const auto got = rv::read_registration_answer(read_head(wire));
  BOOST_TEST(got.notify);
  BOOST_TEST_REQUIRE(got.credential.has_value());
  BOOST_TEST(*got.credential == *sent.credential);
  BOOST_TEST(got.credential_max_age.count() == 600);
  BOOST_TEST(!got.node.has_value());
}

BOOST_AUTO_TEST_CASE(the_node_id_comes_last_and_reads_back_printable) {
  rv::registration_answer sent;
  sent.node = "rv-2";
  const auto wire = rv::format_registration_answer(sent);
  BOOST_TEST(wire == "HTTP/1.1 200 OK\r\nRendezvous-Node: rv-2\r\n\r\n");
  BOOST_TEST(rv::read_registration_answer(read_head(wire)).node.value_or("") == "rv-2");
  const auto hostile = rv::read_registration_answer(head_of("HTTP/1.1 200 OK", {{"Rendezvous-Node", "a\x1b[2Jb"}}));
  BOOST_TEST_REQUIRE(hostile.node.has_value());
  BOOST_TEST(hostile.node->find('\x1b') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(notify_means_exactly_1) {
  BOOST_TEST(!rv::read_registration_answer(head_of("HTTP/1.1 200 OK", {{"Rendezvous-Notify", "yes"}})).notify);
  BOOST_TEST(rv::read_registration_answer(head_of("HTTP/1.1 200 OK", {{"rendezvous-notify", "1"}})).notify);
}

BOOST_AUTO_TEST_CASE(a_max_age_that_would_overflow_a_clock_counts_as_a_day) {
  const auto a = rv::read_registration_answer(
      head_of("HTTP/1.1 200 OK", {{"Rendezvous-Pool-Credential", "c"},
                                  {"Rendezvous-Pool-Max-Age", "99999999999999999999999999999999"}}));
  BOOST_TEST(a.credential_max_age.count() == rv::max_credential_age);
}

BOOST_AUTO_TEST_CASE(a_max_age_that_is_not_a_number_reads_as_0) {
  for (std::string_view bad : {"", "-5", "10s", " 10", "0x10"}) BOOST_TEST_CONTEXT(bad) {
      const auto a = rv::read_registration_answer(
          head_of("HTTP/1.1 200 OK", {{"Rendezvous-Pool-Credential", "c"},
                                      {"Rendezvous-Pool-Max-Age", std::string(bad)}}));
      BOOST_TEST(a.credential_max_age.count() == 0);
      BOOST_TEST(a.credential.has_value());
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(arrival_notice)

BOOST_AUTO_TEST_CASE(both_modes_round_trip) {
  for (auto mode : {rv::arrival_mode::stream, rv::arrival_mode::http}) BOOST_TEST_CONTEXT(rv::to_string(mode)) {
      const auto wire = rv::format_arrival_notice({mode, "[2001:db8::7]:40022"});
      BOOST_TEST(wire == "HTTP/1.1 200 Rendezvous\r\nRendezvous-Mode: " + std::string(rv::to_string(mode)) +
                             "\r\nRendezvous-Client: [2001:db8::7]:40022\r\n\r\n");
      std::string problem;
      const auto got = rv::read_arrival_notice(read_head(wire), problem);
      BOOST_TEST_REQUIRE(got.has_value());
      BOOST_TEST((got->mode == mode));
      BOOST_TEST(got->client == "[2001:db8::7]:40022");
      BOOST_TEST(problem.empty());
    }
}

BOOST_AUTO_TEST_CASE(without_fields_it_is_a_stream_from_an_unknown_client) {
  std::string problem;
  const auto got = rv::read_arrival_notice(head_of("HTTP/1.1 200 Rendezvous", {}), problem);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST((got->mode == rv::arrival_mode::stream));
  BOOST_TEST(got->client == "?");
}

BOOST_AUTO_TEST_CASE(another_status_is_not_a_notice_and_no_problem) {
  std::string problem;
  BOOST_TEST(!rv::read_arrival_notice(head_of("HTTP/1.1 503 Service Unavailable", {}), problem).has_value());
  BOOST_TEST(problem.empty());
}

BOOST_AUTO_TEST_CASE(an_unknown_mode_is_refused_and_named_printably) {
  std::string problem;
  const auto got =
      rv::read_arrival_notice(head_of("HTTP/1.1 200 Rendezvous", {{"Rendezvous-Mode", "udp\x1b[2J"}}), problem);
  BOOST_TEST(!got.has_value());
  BOOST_TEST(problem.find("unknown Rendezvous-Mode 'udp") == 0u);
  BOOST_TEST(problem.find('\x1b') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_hostile_client_address_reaches_no_log_as_a_control) {
  std::string problem;
  const auto got = rv::read_arrival_notice(
      head_of("HTTP/1.1 200 Rendezvous", {{"Rendezvous-Client", "1.2.3.4:5\x1b]0;owned\x07"}}), problem);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->client.find('\x1b') == std::string::npos);
  BOOST_TEST(got->client.find('\x07') == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(answers_to_clients)

BOOST_AUTO_TEST_CASE(a_tunnel_opens_with_a_bare_200) {
  const auto wire = rv::tunnel_open_response();
  const auto head = read_head(wire);
  BOOST_TEST(head.status == 200);
  BOOST_TEST(head.fields.empty());
}

BOOST_AUTO_TEST_CASE(an_error_body_gives_its_diagnostic_back) {
  for (std::string_view diagnostic : {"UUID not registered", "say \"hi\" \\ now", ""}) BOOST_TEST_CONTEXT(diagnostic) {
      std::string_view body;
      const auto wire = rv::error_response(404, diagnostic);
      read_head(wire, &body);
      BOOST_TEST(rv::error_diagnostic(body) == diagnostic);
    }
}

BOOST_AUTO_TEST_CASE(a_hidden_servers_refusal_is_passed_on_as_a_502_with_its_words) {
  const auto refusal = rv::error_response(503, "rvhidden is at --max-tunnels");
  std::string_view hidden_body;
  read_head(refusal, &hidden_body);
  const auto wire = rv::passed_on_refusal(hidden_body);
  std::string_view body;
  const auto head = read_head(wire, &body);
  BOOST_TEST(head.status == 502);
  BOOST_TEST(*head.find("Content-Length") == std::to_string(body.size()));
  BOOST_TEST(*head.find("Connection") == "close");
  BOOST_TEST(rv::error_diagnostic(body) == "rvhidden is at --max-tunnels");
}

BOOST_AUTO_TEST_CASE(a_429_says_how_long_to_wait_in_whole_seconds_rounded_up) {
  BOOST_TEST(rv::retry_after_seconds(0ms) == 1);
  BOOST_TEST(rv::retry_after_seconds(1000ms) == 1);
  BOOST_TEST(rv::retry_after_seconds(1001ms) == 2);
  std::string_view body;
  const auto wire = rv::throttled_response(7, "too many failed tokens");
  const auto head = read_head(wire, &body);
  BOOST_TEST(head.status == 429);
  BOOST_TEST(*head.find("Retry-After") == "7");
  BOOST_TEST(rv::read_retry_after(head).count() == 7);
  BOOST_TEST(rv::error_diagnostic(body) == "too many failed tokens; retry after 7 s");
}

BOOST_AUTO_TEST_CASE(a_retry_after_is_read_between_a_second_and_an_hour) {
  auto wait = [](std::string_view value) {
    return rv::read_retry_after(head_of("HTTP/1.1 429 Too Many Requests", {{"Retry-After", std::string(value)}}))
        .count();
  };
  BOOST_TEST(wait("0") == 1);
  BOOST_TEST(wait("Wed, 21 Oct 2015 07:28:00 GMT") == 1);  // the date form: never ours
  BOOST_TEST(wait("3600") == 3600);
  BOOST_TEST(wait("99999999999999999999999") == 3600);
  BOOST_TEST(rv::read_retry_after(head_of("HTTP/1.1 429 Too Many Requests", {})).count() == 1);
}

BOOST_AUTO_TEST_CASE(the_metrics_answer_frames_its_body) {
  std::string_view body;
  const auto wire = rv::ok_response("text/plain; version=0.0.4", "rv_up 1\n");
  const auto head = read_head(wire, &body);
  BOOST_TEST(head.status == 200);
  BOOST_TEST(*head.find("Content-Type") == "text/plain; version=0.0.4");
  BOOST_TEST(*head.find("Content-Length") == "8");
  BOOST_TEST(body == "rv_up 1\n");
}

BOOST_AUTO_TEST_SUITE_END()
