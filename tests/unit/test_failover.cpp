// rvconnect's failover across the nodes of one service, without sockets:
// which outcomes move on and which stop, each attempt's share of
// --connect-timeout, the addresses held back after a failure, and the one
// line that names every address tried.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "rvconnect/failover.hpp"

namespace {

using namespace rvconnect::failover;
using namespace std::chrono_literals;

const char* name_of(verdict v) {
  switch (v) {
    case verdict::open: return "open";
    case verdict::next: return "next";
    case verdict::stop: return "stop";
  }
  return "?";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(failover)

BOOST_AUTO_TEST_CASE(each_outcome_moves_on_or_stops) {
  struct verdict_case {
    std::string_view name;
    outcome what;
    int status;
    verdict expected;
  };
  const verdict_case cases[] = {
      {"200 opens the tunnel", outcome::answered, 200, verdict::open},
      {"503: this node cannot serve now", outcome::answered, 503, verdict::next},
      {"404 is about the hidden server, the same at every node", outcome::answered, 404, verdict::stop},
      {"502 is the hidden side's answer", outcome::answered, 502, verdict::stop},
      {"504: the hidden server did not answer", outcome::answered, 504, verdict::stop},
      {"401: authorization", outcome::answered, 401, verdict::stop},
      {"403: authorization (client key)", outcome::answered, 403, verdict::stop},
      {"429: the server asked us to slow down", outcome::answered, 429, verdict::stop},
      {"400", outcome::answered, 400, verdict::stop},
      {"500: any other status", outcome::answered, 500, verdict::stop},
      {"a 1xx is no answer to move on from", outcome::answered, 100, verdict::stop},
      {"the name did not resolve", outcome::unresolved, 0, verdict::next},
      {"refused, reset, unreachable", outcome::connect_failed, 0, verdict::next},
      {"connect and handshake over the budget", outcome::timed_out, 0, verdict::next},
      {"a silent node: no handshake", outcome::handshake_timed_out, 0, verdict::next},
      {"EOF or reset mid-handshake", outcome::connection_lost, 0, verdict::next},
      {"a certificate or pin failure is a security answer", outcome::tls_failed, 0, verdict::stop},
      {"closed before the answer", outcome::closed_before_answer, 0, verdict::next},
      {"no answer in time", outcome::no_answer, 0, verdict::next},
      {"a malformed answer", outcome::malformed_answer, 0, verdict::stop},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(name_of(judge(c.what, c.status)) == name_of(c.expected));
    }
}

BOOST_AUTO_TEST_CASE(only_a_lost_connection_in_a_handshake_moves_on) {
  // tls_stream::handshake's words (lib/rv/tls_stream.cpp), and OpenSSL's.
  struct reason_case {
    std::string_view name;
    std::string_view reason;
    outcome expected;
  };
  const reason_case cases[] = {
      {"EOF mid-handshake", "the peer closed the connection during the TLS handshake", outcome::connection_lost},
      {"reset mid-handshake", "TLS handshake: Connection reset by peer", outcome::connection_lost},
      {"broken pipe", "TLS handshake: Broken pipe", outcome::connection_lost},
      {"unknown CA",
       "certificate verify failed: unable to get local issuer certificate (give the issuing CA with --ca-file, or "
       "pin the key with --pin)",
       outcome::tls_failed},
      {"name mismatch",
       "certificate verify failed: hostname mismatch (the certificate is not for 'rv.example'; see --server-name)",
       outcome::tls_failed},
      {"wrong pin", "the server's public key does not match --pin (its pin is sha256//AAAA)", outcome::tls_failed},
      {"no certificate for the pin", "the server sent no certificate to check the pin against", outcome::tls_failed},
      {"an alert from the server", "error:0A000410:SSL routines::sslv3 alert handshake failure", outcome::tls_failed},
      {"words we do not know stop rather than skip a check", "something new", outcome::tls_failed},
      {"no words at all", "", outcome::tls_failed},
      {"the socket words only at the start", "certificate verify failed (TLS handshake: x)", outcome::tls_failed},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST((handshake_outcome(c.reason) == c.expected));
    }
}

BOOST_AUTO_TEST_CASE(each_attempt_gets_the_try_timeout_within_the_connect_timeout) {
  struct budget_case {
    std::string_view name;
    clock::duration try_timeout, connect_timeout;
    std::vector<clock::duration> spent;  // by the attempts before
    clock::duration expected;
  };
  const budget_case cases[] = {
      {"the first attempt", 3s, 10s, {}, 3s},
      {"after a refused connection", 3s, 10s, {5ms}, 3s},
      {"after three silent nodes: what is left", 3s, 10s, {3s, 3s, 3s}, 1s},
      {"nothing left", 3s, 10s, {3s, 3s, 3s, 1s}, 0s},
      {"overspent (a timer fires late)", 3s, 10s, {3s, 3s, 3s, 1500ms}, 0s},
      {"a try timeout above the connect timeout", 30s, 10s, {}, 10s},
      {"fractions of what is left", 3s, 10s, {9500ms}, 500ms},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      budget b(c.try_timeout, c.connect_timeout);
      for (auto d : c.spent) b.spend(d);
      BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(b.next()).count() ==
                 std::chrono::duration_cast<std::chrono::milliseconds>(c.expected).count());
      BOOST_TEST(b.exhausted() == (c.expected == 0s));
    }
}

BOOST_AUTO_TEST_CASE(an_address_that_failed_lately_is_tried_last) {
  const clock::time_point t0{};
  const std::vector<std::string> addresses = {"127.0.0.1:8899", "127.0.0.2:8899", "[::1]:8899", "127.0.0.3:8899"};
  struct order_case {
    std::string_view name;
    std::vector<std::string> failed;  // at t0
    std::vector<std::string> succeeded;  // after that
    clock::duration later;  // when the order is asked for
    std::vector<std::size_t> now, held;
  };
  const order_case cases[] = {
      {"nothing failed: resolver order", {}, {}, 1s, {0, 1, 2, 3}, {}},
      {"the first failed: it goes last", {"127.0.0.1:8899"}, {}, 1s, {1, 2, 3}, {0}},
      {"two failed: both last, in resolver order", {"[::1]:8899", "127.0.0.1:8899"}, {}, 1s, {1, 3}, {0, 2}},
      {"held back just under 30 s", {"127.0.0.1:8899"}, {}, 29999ms, {1, 2, 3}, {0}},
      {"forgotten after 30 s", {"127.0.0.1:8899"}, {}, 30s, {0, 1, 2, 3}, {}},
      {"a success forgets the failure", {"127.0.0.1:8899"}, {"127.0.0.1:8899"}, 1s, {0, 1, 2, 3}, {}},
      {"another address's failure does not count", {"127.0.0.9:8899"}, {}, 1s, {0, 1, 2, 3}, {}},
      {"the same address on another port is another address", {"127.0.0.1:8898"}, {}, 1s, {0, 1, 2, 3}, {}},
      {"every address failed: all held, in order", {"127.0.0.3:8899", "127.0.0.2:8899", "[::1]:8899",
                                                   "127.0.0.1:8899"}, {}, 1s, {}, {0, 1, 2, 3}},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      failure_memory memory;
      for (const auto& a : c.failed) memory.failed(a, t0);
      for (const auto& a : c.succeeded) memory.succeeded(a);
      const auto order = memory.split(addresses, t0 + c.later);
      BOOST_TEST(order.now == c.now, boost::test_tools::per_element());
      BOOST_TEST(order.later == c.held, boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(a_new_failure_renews_the_hold) {
  const clock::time_point t0{};
  failure_memory memory;
  memory.failed("127.0.0.1:8899", t0);
  memory.failed("127.0.0.1:8899", t0 + 20s);
  BOOST_TEST(memory.held_back("127.0.0.1:8899", t0 + 45s));
  BOOST_TEST(!memory.held_back("127.0.0.1:8899", t0 + 50s));
}

BOOST_AUTO_TEST_CASE(the_memory_is_bounded) {
  const clock::time_point t0{};
  failure_memory memory(30s, 3);
  for (int i = 0; i < 10; ++i) memory.failed("10.0.0." + std::to_string(i) + ":1", t0 + std::chrono::seconds(i));
  BOOST_TEST(memory.size() == 3u);
  // The newest three are kept; the oldest went first.
  BOOST_TEST(memory.held_back("10.0.0.9:1", t0 + 10s));
  BOOST_TEST(memory.held_back("10.0.0.7:1", t0 + 10s));
  BOOST_TEST(!memory.held_back("10.0.0.6:1", t0 + 10s));
  // Expired entries go before any live one is dropped.
  memory.failed("10.0.0.20:1", t0 + 37s);  // 10.0.0.7 (failed at 7 s) has expired by 37 s
  BOOST_TEST(memory.held_back("10.0.0.8:1", t0 + 37s));
  BOOST_TEST(memory.held_back("10.0.0.9:1", t0 + 37s));
  BOOST_TEST(memory.held_back("10.0.0.20:1", t0 + 37s));
}

BOOST_AUTO_TEST_CASE(one_line_names_every_address_and_why) {
  struct summary_case {
    std::string_view name;
    std::vector<failed_attempt> failed;
    std::vector<std::string> untried;
    std::string expected;
  };
  const summary_case cases[] = {
      {"one address",
       {{"127.0.0.1:8899", "cannot connect: Connection refused"}},
       {},
       "cannot reach the rendezvous server: 127.0.0.1:8899: cannot connect: Connection refused"},
      {"three nodes",
       {{"rv.example:8899 (192.0.2.1:8899)", "cannot connect: Connection refused"},
        {"rv.example:8899 (192.0.2.2:8899)", "no TLS handshake within 3 s"},
        {"rv2.example:8899", "cannot resolve the name: Host not found"}},
       {},
       "cannot reach the rendezvous server: rv.example:8899 (192.0.2.1:8899): cannot connect: Connection refused; "
       "rv.example:8899 (192.0.2.2:8899): no TLS handshake within 3 s; rv2.example:8899: cannot resolve the name: "
       "Host not found"},
      {"the connect timeout ran out",
       {{"192.0.2.1:8899", "no TLS handshake within 3 s"}, {"192.0.2.2:8899", "no TLS handshake within 3 s"}},
       {"192.0.2.3:8899", "rv3.example:8899"},
       "cannot reach the rendezvous server: 192.0.2.1:8899: no TLS handshake within 3 s; 192.0.2.2:8899: no TLS "
       "handshake within 3 s; not tried, --connect-timeout (6 s) ran out: 192.0.2.3:8899, rv3.example:8899"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(summary(c.failed, c.untried, 6s) == c.expected);
    }
}

BOOST_AUTO_TEST_CASE(an_attempt_is_named_by_its_server_then_its_address) {
  BOOST_TEST(describe("rv.example:8899", "192.0.2.1:8899") == "rv.example:8899 (192.0.2.1:8899)");
  BOOST_TEST(describe("[::1]:8899", "[::1]:8899") == "[::1]:8899");
  BOOST_TEST(describe("127.0.0.1:8899", "127.0.0.1:8899") == "127.0.0.1:8899");
}

BOOST_AUTO_TEST_SUITE_END()
