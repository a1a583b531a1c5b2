// rvhidden's side of registering (registration_plan): one slot at a time
// sends a code and the others take the pool credential it brings; what 401,
// 429 and 200 mean for a slot; a seed server's pool of one.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "print.hpp"
#include "rv/head.hpp"
#include "rv/totp.hpp"
#include "rvhidden/registration_plan.hpp"

using namespace rvhidden;
using namespace std::chrono_literals;
using rv::log::level;
using kind = registration_auth::kind;

namespace {

const rv::totp_params secret{std::vector<std::uint8_t>(20, 0x42), 30, 6};
constexpr std::int64_t t0 = 1'800'000'000;  // a Unix time at the start of a step (divisible by 30)
const steady_time start{};
constexpr auto connect_timeout = 10s;
const std::string uuid = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

// One service parked at one node: what rvhidden with one --server does.
struct one_node {
  service_plan service{uuid, secret, connect_timeout};
  registration_plan plan;
  explicit one_node(unsigned pool) : plan(service, pool, "rv.example:8899") {}
};

// The head of the server's answer, as it comes over the wire.
rv::response_head answer(std::string_view text) {
  rv::response_head head;
  const std::string wire = std::string(text) + "\r\n";
  BOOST_REQUIRE(rv::parse_response(wire, head).status == rv::parse_status::good);
  return head;
}

// rvserver's 200 to a registration that asked for notices and a credential.
rv::response_head parked_with(std::string_view credential, std::string_view max_age = "600") {
  return answer("HTTP/1.1 200 OK\r\nRendezvous-Notify: 1\r\nRendezvous-Pool-Credential: " + std::string(credential) +
                "\r\nRendezvous-Pool-Max-Age: " + std::string(max_age) + "\r\n");
}
// A seed server's: no notices, no credential.
const std::string_view seed_ok = "HTTP/1.1 200\r\n";

std::vector<std::string> texts(const std::vector<log_line>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.text);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hidden_registration)

BOOST_AUTO_TEST_CASE(one_slot_sends_a_code_and_the_others_take_the_credential_it_brings) {
  one_node node(4);
  auto& plan = node.plan;
  const auto now = t0 + 5;
  const auto first = plan.next_auth(start, start, now);
  BOOST_TEST(first.what == kind::code);
  BOOST_TEST(first.code == rv::totp(secret, now));
  BOOST_TEST(first.code_turn);
  BOOST_TEST(!first.reused);
  // The other slots wait: the code is in flight.
  for (int slot = 1; slot < 4; ++slot) BOOST_TEST(plan.next_auth(start, start, now).what == kind::wait);

  const auto parked = plan.on_answer(first, parked_with("cred-1"), 0, start + 1s);
  BOOST_TEST(parked.what == registration_result::parked);
  BOOST_TEST(parked.notices);
  BOOST_TEST(plan.credentials() == credential_support::issued);
  // Each waiting slot presents the credential now; none sends a code.
  for (int slot = 1; slot < 4; ++slot) {
    const auto auth = plan.next_auth(start, start + 1s, now + 1);
    BOOST_TEST(auth.what == kind::credential);
    BOOST_TEST(auth.credential == "cred-1");
    BOOST_TEST(auth.code.empty());
    BOOST_TEST(!auth.code_turn);
  }
}

BOOST_AUTO_TEST_CASE(the_turn_to_send_a_code_comes_back_when_the_registration_ends) {
  one_node node(2);
  auto& plan = node.plan;
  const auto first = plan.next_auth(start, start, t0);
  BOOST_TEST_REQUIRE(first.code_turn);
  BOOST_TEST(plan.next_auth(start, start, t0 + 31).what == kind::wait);  // a new step, still one at a time
  plan.end_turn(first);  // the connection broke before any answer
  const auto second = plan.next_auth(start, start, t0 + 31);
  BOOST_TEST(second.what == kind::code);
  BOOST_TEST(second.code_turn);
  // A slot that never held the turn gives nothing back.
  registration_auth credential_auth{kind::credential, "cred", {}};
  plan.end_turn(credential_auth);
  BOOST_TEST(plan.next_auth(start, start, t0 + 61).what == kind::wait);
}

BOOST_AUTO_TEST_CASE(a_waiting_slot_sends_a_code_itself_after_a_step_and_two_connect_timeouts) {
  one_node node(2);
  auto& plan = node.plan;
  const auto first = plan.next_auth(start, start, t0);
  BOOST_TEST_REQUIRE(first.code_turn);
  const auto waiting_since = start + 1s;
  const auto give_up = waiting_since + 30s + 2 * connect_timeout;
  BOOST_TEST(plan.next_auth(waiting_since, give_up, t0 + 51).what == kind::wait);
  const auto late = plan.next_auth(waiting_since, give_up + 1ms, t0 + 51);
  BOOST_TEST(late.what == kind::code);
  BOOST_TEST(late.code == rv::totp(secret, t0 + 51));
  BOOST_TEST(!late.code_turn);  // the turn is still the first slot's
}

BOOST_AUTO_TEST_CASE(a_code_is_sent_again_in_its_step_only_until_the_server_refuses_a_reused_one) {
  one_node node(2);
  auto& plan = node.plan;
  const auto first = plan.next_auth(start, start, t0 + 1);
  plan.end_turn(first);  // lost on the way
  // The same step: the code goes again (a server with --token-reuse takes it).
  const auto again = plan.next_auth(start, start, t0 + 2);
  BOOST_TEST(again.what == kind::code);
  BOOST_TEST(again.code == first.code);
  BOOST_TEST(again.reused);
  const auto refused = plan.on_answer(again, answer("HTTP/1.1 401 Unauthorized\r\n"), 0, start);
  plan.end_turn(again);
  BOOST_TEST(refused.what == registration_result::stale_credential);  // try again at once, with the next code
  BOOST_TEST_REQUIRE(refused.log.size() == 1u);
  BOOST_TEST(refused.log[0].level == level::warn);
  BOOST_TEST(refused.log[0].text ==
             "the server at rv.example:8899 refused uuid=" + uuid + " (401) with a code this machine had sent before: it refuses reused "
             "codes (--token-reuse never) or the secret changed; trying the next code");
  // Not in this step any more: the slots wait for the next one.
  BOOST_TEST(plan.next_auth(start, start + 1s, t0 + 29).what == kind::wait);
  const auto next = plan.next_auth(start, start + 1s, t0 + 30);
  BOOST_TEST(next.what == kind::code);
  BOOST_TEST(!next.reused);
  BOOST_TEST(next.code == rv::totp(secret, t0 + 30));
  // And never again: a code sent once in a step is not sent twice.
  plan.end_turn(next);
  BOOST_TEST(plan.next_auth(start, start + 1s, t0 + 31).what == kind::wait);
}

BOOST_AUTO_TEST_CASE(a_fresh_code_refused_is_a_wrong_secret_or_clock) {
  one_node node(1);
  auto& plan = node.plan;
  const auto auth = plan.next_auth(start, start, t0);
  const auto r = plan.on_answer(auth, answer("HTTP/1.1 401 Unauthorized\r\n"), 0, start);
  BOOST_TEST(r.what == registration_result::unauthorized);
  BOOST_TEST(texts(r.log) == std::vector<std::string>{"the server at rv.example:8899 refused uuid=" + uuid +
                                                      " (401): the secret does not match the server's, or this "
                                                      "clock is off (TOTP needs it within 30 s); check the secrets "
                                                      "file and NTP"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_credential_is_kept_until_a_margin_before_its_max_age) {
  struct age_case {
    std::string_view name, max_age;
    std::chrono::seconds presented_until;  // 0: not kept
  };
  const age_case cases[] = {
      {"ten minutes: a minute's margin", "600", 540s},
      {"a minute forty: a quarter's margin", "100", 75s},
      {"three seconds: nothing rounds below zero", "3", 3s},
      {"a week counts as a day", "604800", 86400s - 60s},
      {"more digits than a long holds counts as a day", "99999999999999999999999", 86400s - 60s},
      {"zero: not kept", "0", 0s},
      {"not a number: not kept", "60s", 0s},
      {"negative: not kept", "-600", 0s},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      one_node node(2);
      auto& plan = node.plan;
      const auto code = plan.next_auth(start, start, t0);
      plan.on_answer(code, parked_with("cred", c.max_age), 0, start);
      plan.end_turn(code);
      if (c.presented_until.count() > 0) {
        BOOST_TEST(plan.next_auth(start, start + c.presented_until - 1ms, t0 + 1).what == kind::credential);
      }
      // From then on a slot sends a code (a new step: this one's was sent).
      const auto after = plan.next_auth(start, start + c.presented_until, t0 + 30);
      BOOST_TEST(after.what == kind::code);
    }
}

BOOST_AUTO_TEST_CASE(a_401_to_a_credential_forgets_it_only_while_it_is_the_one_held) {
  one_node node(2);
  auto& plan = node.plan;
  const auto code = plan.next_auth(start, start, t0);
  plan.on_answer(code, parked_with("cred-1"), 0, start);
  plan.end_turn(code);
  const auto old_auth = plan.next_auth(start, start + 1s, t0 + 1);
  BOOST_TEST_REQUIRE(old_auth.credential == "cred-1");
  // Meanwhile another slot's registration brought a newer credential.
  const auto renewing = plan.next_auth(start, start + 1s, t0 + 1);
  plan.on_answer(renewing, parked_with("cred-2"), 1, start + 2s);
  // The server no longer takes cred-1: the slot registers again at once...
  const auto stale = plan.on_answer(old_auth, answer("HTTP/1.1 401 Unauthorized\r\n"), 0, start + 3s);
  BOOST_TEST(stale.what == registration_result::stale_credential);
  BOOST_TEST_REQUIRE(stale.log.size() == 1u);
  BOOST_TEST(stale.log[0].level == level::debug);
  BOOST_TEST(stale.log[0].text ==
             "uuid=" + uuid + " the server at rv.example:8899 no longer takes our pool credential; registering with a code");
  // ...and cred-2 is kept.
  BOOST_TEST(plan.next_auth(start, start + 3s, t0 + 3).credential == "cred-2");
  // A 401 to cred-2 forgets it: the next registration sends a code.
  const auto current = plan.next_auth(start, start + 4s, t0 + 4);
  plan.on_answer(current, answer("HTTP/1.1 401 Unauthorized\r\n"), 0, start + 4s);
  BOOST_TEST(plan.next_auth(start, start + 4s, t0 + 34).what == kind::code);
}

BOOST_AUTO_TEST_CASE(a_429_waits_its_retry_after_from_one_second_to_an_hour) {
  struct retry_case {
    std::string_view name, fields;
    long seconds;
  };
  const retry_case cases[] = {
      {"as asked", "Retry-After: 17\r\n", 17},
      {"an hour", "Retry-After: 3600\r\n", 3600},
      {"two hours: an hour", "Retry-After: 7200\r\n", 3600},
      {"a huge number: an hour", "Retry-After: 184467440737095516160000\r\n", 3600},
      {"zero: a second", "Retry-After: 0\r\n", 1},
      {"absent: a second", "", 1},
      {"a date (we never send one): a second", "Retry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n", 1},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      one_node node(1);
      auto& plan = node.plan;
      const auto auth = plan.next_auth(start, start, t0);
      const auto throttled = answer("HTTP/1.1 429 Too Many Requests\r\n" + std::string(c.fields));
      const auto r = plan.on_answer(auth, throttled, 0, start);
      BOOST_TEST(r.what == registration_result::throttled);
      BOOST_TEST(plan.retry_after().count() == c.seconds * 1000);
      BOOST_TEST(texts(r.log) ==
                     std::vector<std::string>{"the server at rv.example:8899 is throttling uuid=" + uuid +
                                              " or this address (429: too many failed tokens or tunnels); waiting " +
                                              std::to_string(c.seconds) + " s"},
                 boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(a_503_from_a_node_without_its_shared_memory_waits_its_retry_after) {
  one_node node(1);
  auto& plan = node.plan;
  const auto auth = plan.next_auth(start, start, t0);
  const auto r = plan.on_answer(auth, answer("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"), 0, start);
  BOOST_TEST(r.what == registration_result::throttled);
  BOOST_TEST(plan.retry_after().count() == 5000);
  BOOST_TEST(texts(r.log) == std::vector<std::string>{"the server at rv.example:8899 cannot check a code for uuid=" +
                                                      uuid + " now (503: a cluster node without its shared memory); "
                                                      "waiting 5 s"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(another_status_is_a_failure_and_its_reason_is_made_printable) {
  one_node node(1);
  auto& plan = node.plan;
  const auto auth = plan.next_auth(start, start, t0);
  const auto r = plan.on_answer(auth, answer("HTTP/1.1 500 Busy\x80\r\n"), 0, start);
  BOOST_TEST(r.what == registration_result::failed);
  BOOST_TEST(texts(r.log) ==
                 std::vector<std::string>{"the server at rv.example:8899 answered 500 Busy? to the registration of uuid=" + uuid},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_failure_is_a_warning_once_and_the_next_success_says_so) {
  one_node node(1);
  auto& plan = node.plan;
  BOOST_TEST(plan.failure("cannot connect to rv.example:8899: refused").level == level::warn);
  BOOST_TEST(plan.failure("cannot connect to rv.example:8899: refused").level == level::debug);  // every slot, again
  BOOST_TEST(plan.failure("TLS with rv.example:8899 failed: bad certificate").level == level::warn);
  const auto auth = plan.next_auth(start, start, t0);
  const auto back = plan.on_answer(auth, parked_with("cred"), 0, start);
  BOOST_TEST(texts(back.log) ==
                 (std::vector<std::string>{"registered at rv.example:8899 again; uuid=" + uuid,
                                           "parked uuid=" + uuid + " slot=0 server=rv.example:8899"}),
             boost::test_tools::per_element());
  BOOST_TEST(back.log[0].level == level::warn);
  BOOST_TEST(back.log[1].level == level::info);
  // Parked again: nothing to report.
  plan.end_turn(auth);
  const auto again = plan.on_answer(plan.next_auth(start, start, t0 + 1), parked_with("cred"), 0, start);
  BOOST_TEST(again.log.size() == 1u);
  // The failure that repeats after a success is new again.
  BOOST_TEST(plan.failure("cannot connect to rv.example:8899: refused").level == level::warn);
}

BOOST_AUTO_TEST_CASE(a_seed_server_is_served_by_one_slot_that_sends_the_current_code) {
  one_node node(4);
  auto& plan = node.plan;
  const auto first = plan.next_auth(start, start, t0);
  const auto r = plan.on_answer(first, answer(seed_ok), 2, start);
  plan.end_turn(first);
  BOOST_TEST(r.what == registration_result::parked);
  BOOST_TEST(!r.notices);
  BOOST_TEST(texts(r.log) ==
                 (std::vector<std::string>{"uuid=" + uuid + " the server at rv.example:8899 offers no arrival notices: a seed-protocol "
                                           "server, which keeps one parked connection per UUID; using a pool of 1",
                                           "parked uuid=" + uuid + " slot=2 server=rv.example:8899 (seed server: no "
                                           "notices)"}),
             boost::test_tools::per_element());
  BOOST_TEST(plan.credentials() == credential_support::none);
  BOOST_TEST(plan.pool_size() == 1u);
  // Slot 2's registration is the one the server keeps; the others stop.
  BOOST_TEST(!plan.surplus(2));
  for (unsigned slot : {0u, 1u, 3u}) BOOST_TEST(plan.surplus(slot));
  for (int i = 0; i < 3; ++i) plan.slot_stopped();
  BOOST_TEST(!plan.surplus(0));  // one slot runs: it is not a slot too many, whoever registered last
  // Without credentials every registration sends the current code, each
  // step's as often as it takes (the seed protocol's way), never waiting.
  for (int i = 0; i < 3; ++i) {
    const auto auth = plan.next_auth(start, start, t0 + 1);
    BOOST_TEST(auth.what == kind::code);
    BOOST_TEST(auth.code == rv::totp(secret, t0 + 1));
    BOOST_TEST(!auth.code_turn);
  }
  // Learned once: later evictions shrink nothing and say nothing.
  BOOST_TEST(!plan.use_one_slot("a newer registration closed a parked connection"));
}

BOOST_AUTO_TEST_CASE(an_eviction_shrinks_the_pool_to_one_and_the_newest_registration_keeps_it) {
  one_node node(3);
  auto& plan = node.plan;
  const auto code = plan.next_auth(start, start, t0);
  plan.on_answer(code, parked_with("cred"), 0, start);  // notices: nothing known yet
  plan.end_turn(code);
  plan.on_answer(plan.next_auth(start, start, t0 + 1), parked_with("cred"), 1, start);
  BOOST_TEST(plan.pool_size() == 3u);
  BOOST_TEST(!plan.surplus(0));
  const auto line = plan.use_one_slot("a newer registration closed a parked connection");
  BOOST_TEST_REQUIRE(line.has_value());
  BOOST_TEST(line->level == level::info);
  BOOST_TEST(line->text == "uuid=" + uuid + " a newer registration closed a parked connection: a seed-protocol "
                           "server, which keeps one parked connection per UUID; using a pool of 1");
  BOOST_TEST(plan.surplus(0));
  BOOST_TEST(!plan.surplus(1));  // slot 1 registered last
  BOOST_TEST(plan.surplus(2));
}

BOOST_AUTO_TEST_CASE(whether_credentials_are_issued_is_learned_from_answers_to_codes) {
  one_node node(2);
  auto& plan = node.plan;
  BOOST_TEST(plan.credentials() == credential_support::unknown);
  const auto code = plan.next_auth(start, start, t0);
  plan.on_answer(code, parked_with("cred"), 0, start);
  plan.end_turn(code);
  BOOST_TEST(plan.credentials() == credential_support::issued);
  // An answer to the credential without a new one says nothing about support.
  const auto cred = plan.next_auth(start, start, t0 + 1);
  BOOST_TEST_REQUIRE(cred.what == kind::credential);
  const auto r = plan.on_answer(cred, answer("HTTP/1.1 200 OK\r\nRendezvous-Notify: 1\r\n"), 1, start);
  BOOST_TEST(r.notices);
  BOOST_TEST(plan.credentials() == credential_support::issued);
  // Notices are on only for "1".
  BOOST_TEST(!plan.on_answer(cred, answer("HTTP/1.1 200 OK\r\nRendezvous-Notify: yes\r\n"), 1, start).notices);
}

// ---- several nodes of one service: one service_plan, a registration_plan per node

namespace {
// rvserver's 200 that also names its node (Rendezvous-Node: 1 was asked).
rv::response_head parked_at_node(std::string_view node, std::string_view credential = "cred") {
  return answer("HTTP/1.1 200 OK\r\nRendezvous-Notify: 1\r\nRendezvous-Pool-Credential: " + std::string(credential) +
                "\r\nRendezvous-Pool-Max-Age: 600\r\nRendezvous-Node: " + std::string(node) + "\r\n");
}
const rv::response_head refused = answer("HTTP/1.1 401 Unauthorized\r\n");
}  // namespace

BOOST_AUTO_TEST_CASE(one_code_fills_every_node_that_shares_the_credential_key) {
  service_plan service(uuid, secret, connect_timeout);
  registration_plan a(service, 2, "127.0.0.1:8899"), b(service, 2, "127.0.0.2:8899");
  const auto code = a.next_auth(start, start, t0);
  BOOST_TEST_REQUIRE(code.code_turn);
  // Node b waits for the credential the code brings, rather than sending a code of its own.
  BOOST_TEST(b.next_auth(start, start, t0).what == kind::wait);
  a.on_answer(code, parked_with("cred-a"), 0, start + 1s);
  a.end_turn(code);
  const auto at_b = b.next_auth(start, start + 1s, t0 + 1);
  BOOST_TEST(at_b.what == kind::credential);
  BOOST_TEST(at_b.credential == "cred-a");
  BOOST_TEST(at_b.shared);
  BOOST_TEST(at_b.from == a.node());
  // Node b takes it (a shared key) and hands out a fresh one: every node presents that now.
  const auto r = b.on_answer(at_b, parked_with("cred-b"), 0, start + 2s);
  BOOST_TEST(r.what == registration_result::parked);
  BOOST_TEST(b.credentials() == credential_support::issued);
  BOOST_TEST(!b.own_credential());
  BOOST_TEST(a.next_auth(start, start + 2s, t0 + 2).credential == "cred-b");
  BOOST_TEST(b.next_auth(start, start + 2s, t0 + 2).credential == "cred-b");
}

BOOST_AUTO_TEST_CASE(a_node_that_refuses_the_shared_credential_gets_a_code_and_keeps_its_own) {
  service_plan service(uuid, secret, connect_timeout);
  registration_plan a(service, 2, "127.0.0.1:8899"), b(service, 2, "127.0.0.2:8899");
  const auto code = a.next_auth(start, start, t0);
  a.on_answer(code, parked_with("cred-a"), 0, start);
  a.end_turn(code);
  const auto shared = b.next_auth(start, start, t0 + 1);
  BOOST_TEST_REQUIRE(shared.credential == "cred-a");
  const auto r = b.on_answer(shared, refused, 0, start + 1s);
  BOOST_TEST(r.what == registration_result::stale_credential);  // again at once, with a code
  BOOST_TEST(texts(r.log) ==
                 std::vector<std::string>{"uuid=" + uuid + " the server at 127.0.0.2:8899 refused the pool credential "
                                          "another node issued (the nodes do not share a credential key, or this one "
                                          "restarted): it gets a code and then a credential of its own"},
             boost::test_tools::per_element());
  BOOST_TEST(b.own_credential());
  // Node a's credential is not forgotten: node a still takes it.
  BOOST_TEST(a.next_auth(start, start + 1s, t0 + 1).credential == "cred-a");
  // Node b sends this step's code again (a node that shares no key shares no replay memory either).
  const auto b_code = b.next_auth(start, start + 1s, t0 + 1);
  BOOST_TEST(b_code.what == kind::code);
  BOOST_TEST(b_code.code_turn);
  BOOST_TEST(b_code.reused);
  b.on_answer(b_code, parked_with("cred-b"), 0, start + 2s);
  b.end_turn(b_code);
  // From then on each node presents its own.
  BOOST_TEST(b.next_auth(start, start + 2s, t0 + 2).credential == "cred-b");
  BOOST_TEST(a.next_auth(start, start + 2s, t0 + 2).credential == "cred-a");
  // Node b restarts: its own credential is refused and forgotten; the next code is b's alone.
  const auto b_cred = b.next_auth(start, start + 3s, t0 + 3);
  BOOST_TEST(!b_cred.shared);
  const auto stale = b.on_answer(b_cred, refused, 1, start + 3s);
  BOOST_TEST(stale.what == registration_result::stale_credential);
  BOOST_TEST(stale.log.at(0).level == level::debug);
  BOOST_TEST(b.next_auth(start, start + 3s, t0 + 31).what == kind::code);
  BOOST_TEST(a.next_auth(start, start + 3s, t0 + 31).credential == "cred-a");
}

BOOST_AUTO_TEST_CASE(the_node_that_handed_out_the_shared_credential_refusing_it_forgets_it_for_all) {
  service_plan service(uuid, secret, connect_timeout);
  registration_plan a(service, 2, "127.0.0.1:8899"), b(service, 2, "127.0.0.2:8899");
  const auto code = a.next_auth(start, start, t0);
  a.on_answer(code, parked_with("cred-a"), 0, start);
  a.end_turn(code);
  // Node a restarted with another key: its own credential is dead everywhere it was good.
  const auto again = a.next_auth(start, start + 1s, t0 + 1);
  BOOST_TEST(a.on_answer(again, refused, 1, start + 1s).what == registration_result::stale_credential);
  BOOST_TEST(!a.own_credential());
  BOOST_TEST(!service.has_credential(start + 1s));
  BOOST_TEST(b.next_auth(start, start + 1s, t0 + 31).what == kind::code);
}

BOOST_AUTO_TEST_CASE(the_turn_to_send_a_code_is_one_for_every_node) {
  service_plan service(uuid, secret, connect_timeout);
  registration_plan a(service, 2, "a:1"), b(service, 2, "b:1"), c(service, 2, "c:1");
  const auto first = a.next_auth(start, start, t0);
  BOOST_TEST_REQUIRE(first.code_turn);
  BOOST_TEST(b.next_auth(start, start, t0).what == kind::wait);
  BOOST_TEST(c.next_auth(start, start, t0).what == kind::wait);
  a.end_turn(first);  // node a went away before any answer
  const auto second = b.next_auth(start, start, t0 + 1);
  BOOST_TEST(second.code_turn);
  BOOST_TEST(second.reused);
  // Nodes that share replay memory (--token-reuse never) refuse the code node a sent: no node
  // sends this step's again, each waits for the next step.
  BOOST_TEST(b.on_answer(second, refused, 0, start).what == registration_result::stale_credential);
  b.end_turn(second);
  BOOST_TEST(c.next_auth(start, start, t0 + 2).what == kind::wait);
  BOOST_TEST(a.next_auth(start, start, t0 + 2).what == kind::wait);
  const auto next = c.next_auth(start, start, t0 + 30);
  BOOST_TEST(next.code_turn);
  BOOST_TEST(!next.reused);
}

BOOST_AUTO_TEST_CASE(a_seed_node_among_ours_gets_codes_and_a_pool_of_one_alone) {
  struct seed_case {
    std::string_view name, answer_to_credential;
  };
  const seed_case cases[] = {
      {"404: the credential was a client, nothing parked", "HTTP/1.1 404 Not Found\r\n"},
      {"200 without notices: the credential was paired as a client", "HTTP/1.1 200\r\n"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      service_plan service(uuid, secret, connect_timeout);
      registration_plan ours(service, 3, "rv.example:8899"), seed(service, 3, "seed.example:8899");
      const auto code = ours.next_auth(start, start, t0);
      ours.on_answer(code, parked_with("cred"), 0, start);
      ours.end_turn(code);
      const auto cred = seed.next_auth(start, start, t0 + 1);
      BOOST_TEST_REQUIRE(cred.what == kind::credential);
      const auto r = seed.on_answer(cred, answer(c.answer_to_credential), 0, start);
      BOOST_TEST(r.what == registration_result::stale_credential);
      BOOST_TEST(seed.credentials() == credential_support::none);
      // Never a credential there again; the current code, without waiting for the turn.
      const auto later = start + 601s;
      const auto holder = ours.next_auth(later, later, t0 + 30);  // ours' credential ran out: a code
      BOOST_TEST_REQUIRE(holder.code_turn);
      const auto seed_code = seed.next_auth(later, later, t0 + 30);
      BOOST_TEST(seed_code.what == kind::code);
      BOOST_TEST(!seed_code.code_turn);
      const auto parked = seed.on_answer(seed_code, answer(seed_ok), 1, start + 601s);
      BOOST_TEST(parked.what == registration_result::parked);
      BOOST_TEST(seed.pool_size() == 1u);
      // The other node keeps its pool and its credentials.
      BOOST_TEST(ours.pool_size() == 3u);
      ours.on_answer(holder, parked_with("cred-2"), 1, start + 601s);
      ours.end_turn(holder);
      BOOST_TEST(ours.next_auth(later, later + 1s, t0 + 31).credential == "cred-2");
      BOOST_TEST(seed.next_auth(later, later + 1s, t0 + 31).what == kind::code);
    }
}

BOOST_AUTO_TEST_CASE(a_second_address_of_a_node_parked_at_is_named_and_only_then) {
  service_plan service(uuid, secret, connect_timeout);
  auto v4 = std::make_unique<registration_plan>(service, 2, "127.0.0.1:8899");
  registration_plan v6(service, 2, "[::1]:8899"), other(service, 2, "127.0.0.2:8899");
  const auto code = v4->next_auth(start, start, t0);
  const auto first = v4->on_answer(code, parked_at_node("vm:100"), 0, start);
  v4->end_turn(code);
  BOOST_TEST(!first.same_node_as.has_value());
  BOOST_TEST(texts(first.log) == std::vector<std::string>{"parked uuid=" + uuid +
                                                          " slot=0 server=127.0.0.1:8899 node=vm:100"},
             boost::test_tools::per_element());
  BOOST_TEST(v4->node_id().value_or("") == "vm:100");
  // Its second slot: the same node, the same address: nothing to say.
  BOOST_TEST(!v4->on_answer(v4->next_auth(start, start, t0), parked_at_node("vm:100"), 1, start).same_node_as);
  const auto twice = v6.on_answer(v6.next_auth(start, start, t0), parked_at_node("vm:100"), 0, start);
  BOOST_TEST(twice.what == registration_result::parked);
  BOOST_TEST(twice.same_node_as.value_or("") == "127.0.0.1:8899");
  BOOST_TEST(texts(twice.log) ==
                 std::vector<std::string>{"uuid=" + uuid + " the server at [::1]:8899 is node vm:100, where this "
                                          "service parks already through 127.0.0.1:8899: not parking there twice "
                                          "(checked again every --resolve-interval)"},
             boost::test_tools::per_element());
  BOOST_TEST(twice.log[0].level == level::info);
  BOOST_TEST(!other.on_answer(other.next_auth(start, start, t0), parked_at_node("vm:200"), 0, start).same_node_as);
  // A server that names no node (a seed server, an older rvserver) is never a duplicate.
  registration_plan seed(service, 2, "127.0.0.3:8899");
  BOOST_TEST(!seed.on_answer(seed.next_auth(start, start, t0), answer(seed_ok), 0, start).same_node_as);
  // Once the first address is gone, the node is the second one's.
  v4.reset();
  BOOST_TEST(!v6.on_answer(v6.next_auth(start, start, t0), parked_at_node("vm:100"), 1, start).same_node_as);
}

BOOST_AUTO_TEST_CASE(failures_are_said_once_per_node) {
  service_plan service(uuid, secret, connect_timeout);
  registration_plan a(service, 2, "127.0.0.1:8899"), b(service, 2, "127.0.0.2:8899");
  BOOST_TEST(a.failure("TLS handshake with 127.0.0.1:8899 timed out").level == level::warn);
  BOOST_TEST(b.failure("cannot connect to 127.0.0.2:8899: refused").level == level::warn);
  // Node b failing does not make node a's repeated failure new again, nor the reverse.
  BOOST_TEST(a.failure("TLS handshake with 127.0.0.1:8899 timed out").level == level::debug);
  BOOST_TEST(b.failure("cannot connect to 127.0.0.2:8899: refused").level == level::debug);
}

BOOST_AUTO_TEST_SUITE_END()
