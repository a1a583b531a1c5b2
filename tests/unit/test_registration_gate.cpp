// Who may register, across connections: failed-token delays (RFC 4226 §7.3),
// the replay rule (RFC 6238 §5.2), pool credentials, and the pairing rate.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "print.hpp"
#include "rvserver/registration_gate.hpp"
#include "rv/error.hpp"
#include "rv/totp.hpp"

using namespace rvserver;
using namespace std::chrono_literals;


namespace {

const rv::totp_params secret{std::vector<std::uint8_t>(20, 0x42), 30, 6};
const rv::totp_params other_secret{std::vector<std::uint8_t>(20, 0x43), 30, 6};
constexpr std::int64_t t0 = 1'800'000'000;  // a Unix time at the start of a step (divisible by 30)
const clock_time start{};

std::string code_at(std::int64_t unix_time) { return rv::totp(secret, unix_time); }
// A wrong code: the right one plus one, mod 10^6, is never right for this step or its neighbours
// unless they collide, which the test checks.
std::string wrong_code(std::int64_t unix_time) {
  auto c = std::to_string((std::stoi(code_at(unix_time)) + 1) % 1000000);
  c.insert(0, 6 - c.size(), '0');
  BOOST_REQUIRE(!rv::totp_match(secret, c, unix_time));
  return c;
}

registration_attempt attempt(std::string_view token, std::string source, const rv::totp_params* s = &secret,
                             std::string block = {}) {
  return {"uuid-a", s, token, {}, std::move(source), std::move(block)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(throttling)

BOOST_AUTO_TEST_CASE(source_keys_group_an_ipv6_64_and_unmap_ipv4) {
  namespace ip = rv::asio::ip;
  BOOST_TEST(block_key(ip::make_address("2001:db8:1:2:aaaa::1")) == "2001:db8:1::/48");
  BOOST_TEST(block_key(ip::make_address("2001:db8:1:ffff::9")) == "2001:db8:1::/48");
  BOOST_TEST(block_key(ip::make_address("192.0.2.7")).empty());
  BOOST_TEST(block_key(ip::make_address("::ffff:192.0.2.7")).empty());
  BOOST_TEST(source_key(ip::make_address("192.0.2.7")) == "192.0.2.7");
  BOOST_TEST(source_key(ip::make_address("::ffff:192.0.2.7")) == "192.0.2.7");
  BOOST_TEST(source_key(ip::make_address("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::/64");
  BOOST_TEST(source_key(ip::make_address("2001:db8:1:2:bbbb::9")) == "2001:db8:1:2::/64");
  BOOST_TEST(source_key(ip::make_address("2001:db8:1:3::1")) == "2001:db8:1:3::/64");
}

BOOST_AUTO_TEST_CASE(after_the_free_failures_each_one_more_doubles_the_delay) {
  failure_throttle t({.free_failures = 3, .first_delay = 1000ms, .max_delay = 8000ms});
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(t.retry_after("k", start).count() == 0);
    t.failed("k", start);
  }
  // "After 3 failures it must wait": the 4th attempt is not checked before the delay.
  BOOST_TEST(t.retry_after("k", start).count() == 1000);
  auto now = start + 1000ms;
  BOOST_TEST(t.retry_after("k", now).count() == 0);
  const milliseconds expected[] = {2000ms, 4000ms, 8000ms, 8000ms};
  for (auto want : expected) BOOST_TEST_CONTEXT("delay " << want.count() << " ms") {
      t.failed("k", now);
      BOOST_TEST(t.retry_after("k", now).count() == want.count());
      now += want;
      BOOST_TEST(t.retry_after("k", now).count() == 0);
    }
  BOOST_TEST(t.retry_after("other", now).count() == 0);  // keys are separate
}

BOOST_AUTO_TEST_CASE(old_failures_are_forgotten) {
  failure_throttle t({.free_failures = 2, .first_delay = 1000ms, .max_delay = 60000ms, .forget_after = 60000ms});
  t.failed("k", start);
  t.failed("k", start);
  BOOST_TEST(t.retry_after("k", start).count() == 1000);
  // A minute after the last one the count starts again: two free failures.
  t.failed("k", start + 61s);
  BOOST_TEST(t.retry_after("k", start + 61s).count() == 0);
  t.failed("k", start + 61s);
  BOOST_TEST(t.retry_after("k", start + 61s).count() == 1000);
}

BOOST_AUTO_TEST_CASE(the_table_stays_bounded_and_keeps_the_recently_blocked) {
  failure_throttle t({.free_failures = 0, .first_delay = 1000ms, .max_delay = 900000ms, .max_keys = 1000});
  t.failed("attacker", start + 9s);
  for (int i = 0; i < 5000; ++i) t.failed("spray-" + std::to_string(i), start + milliseconds(i));
  BOOST_TEST(t.size() <= 1000u);
  BOOST_TEST(t.size() >= 750u);  // each pass frees a quarter, not everything
  // Evicted first: the least recently touched, so the spray's own old entries
  // go before a key blocked after all of them.
  BOOST_TEST(t.retry_after("attacker", start + 9s).count() > 0);
}

BOOST_AUTO_TEST_CASE(a_key_under_a_delay_is_never_evicted) {
  // The target's failures are the oldest entry of the table; a spray of one
  // failure from each of many other keys (none blocked) must not flush them.
  failure_throttle t({.free_failures = 2, .first_delay = 1000ms, .max_delay = 900000ms, .max_keys = 1000});
  for (int i = 0; i < 12; ++i) t.failed("target", start);
  const auto blocked = t.retry_after("target", start);
  BOOST_TEST_REQUIRE(blocked.count() > 60000);
  for (int i = 0; i < 5000; ++i) t.failed("spray-" + std::to_string(i), start + 1s);
  BOOST_TEST(t.size() <= 1000u);
  BOOST_TEST(t.retry_after("target", start + 1s).count() == (blocked - 1s).count());
}

BOOST_AUTO_TEST_CASE(a_table_full_of_delays_puts_newcomers_in_one_shared_entry) {
  failure_throttle t({.free_failures = 1, .first_delay = 1000ms, .max_delay = 900000ms, .max_keys = 100});
  for (int i = 0; i < 100; ++i)
    for (int n = 0; n < 5; ++n) t.failed("blocked-" + std::to_string(i), start);
  BOOST_TEST(t.size() == 100u);
  // No room and nothing may go: newcomers share one entry, which fails
  // closed like any key (one free failure, then delays)...
  BOOST_TEST(t.retry_after("new-1", start).count() == 0);
  t.failed("new-1", start);
  BOOST_TEST(t.size() == 100u);
  BOOST_TEST(t.retry_after("new-2", start).count() == 1000);
  BOOST_TEST(t.retry_after("blocked-7", start).count() > 1000);  // their own delays are untouched
  // ...until the delays end and the table has room again: a newcomer's own entry.
  const auto later = start + 1h;
  BOOST_TEST(t.retry_after("new-3", later).count() == 0);
  t.failed("new-3", later);
  BOOST_TEST(t.size() <= 100u);
  BOOST_TEST(t.retry_after("new-3", later).count() == 1000);
  BOOST_TEST(t.retry_after("new-4", later).count() == 0);
}

BOOST_AUTO_TEST_CASE(a_drained_bucket_is_never_evicted) {
  rate_limiter r({.per_second = 1, .burst = 2, .max_keys = 100});
  BOOST_TEST(r.take("drainer", start).count() == 0);
  BOOST_TEST(r.take("drainer", start).count() == 0);
  BOOST_TEST(r.take("drainer", start).count() > 0);
  for (int i = 0; i < 1000; ++i) r.take("spray-" + std::to_string(i), start);
  BOOST_TEST(r.size() <= 100u);
  BOOST_TEST(r.take("drainer", start).count() > 0);
}

BOOST_AUTO_TEST_CASE(pairing_rate_is_a_token_bucket_per_source) {
  rate_limiter r({.per_second = 2, .burst = 3});
  for (int i = 0; i < 3; ++i) BOOST_TEST(r.take("a", start).count() == 0);
  BOOST_TEST(r.take("a", start).count() == 500);  // one token every 500 ms
  BOOST_TEST(r.take("b", start).count() == 0);    // another address is not affected
  BOOST_TEST(r.take("a", start + 500ms).count() == 0);
  BOOST_TEST(r.take("a", start + 500ms).count() > 0);
  rate_limiter off({.per_second = 0, .burst = 1});
  for (int i = 0; i < 100; ++i) BOOST_TEST_REQUIRE(off.take("a", start).count() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registration)

BOOST_AUTO_TEST_CASE(an_attackers_address_is_throttled_the_real_server_gets_through) {
  registration_gate gate({});
  const auto now = t0 + 5;
  // The real hidden server has registered before from its address.
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
  // An attacker guesses from another address: after 5 failures, 429s.
  for (int i = 0; i < 5; ++i)
    BOOST_TEST_REQUIRE(gate.check(attempt(wrong_code(now), "203.0.113.9"), start, now).what == verdict::refused);
  auto r = gate.check(attempt(code_at(now), "203.0.113.9"), start, now);
  BOOST_TEST(r.what == verdict::throttled);  // the 6th, even a right code, is not checked
  BOOST_TEST(r.retry_after.count() == 1000);
  // The real server, from its own address, is not affected.
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
}

BOOST_AUTO_TEST_CASE(a_guesser_spread_over_many_addresses_meets_the_uuid_throttle) {
  registration_gate gate({});
  const auto now = t0 + 5;
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
  // 20 addresses, one wrong guess each: the UUID's 20 free failures.
  for (int i = 0; i < 20; ++i) gate.check(attempt(wrong_code(now), "203.0.113." + std::to_string(i)), start, now);
  auto r = gate.check(attempt(code_at(now), "203.0.113.200"), start, now);
  BOOST_TEST(r.what == verdict::throttled);
  // The address that registered the UUID before is exempt from the UUID's throttle.
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
}

BOOST_AUTO_TEST_CASE(unknown_uuids_fail_and_throttle_like_known_ones) {
  registration_gate gate({});
  const auto now = t0 + 5;
  for (int i = 0; i < 5; ++i)
    BOOST_TEST_REQUIRE(gate.check(attempt(code_at(now), "203.0.113.9", nullptr), start, now).what ==
                       verdict::refused);
  BOOST_TEST(gate.check(attempt(code_at(now), "203.0.113.9", nullptr), start, now).what == verdict::throttled);
}

BOOST_AUTO_TEST_CASE(a_success_does_not_erase_what_the_guessers_did) {
  registration_gate gate({});
  auto now = t0 + 5;
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
  for (int i = 0; i < 20; ++i) gate.check(attempt(wrong_code(now), "203.0.113." + std::to_string(i)), start, now);
  auto r = gate.check(attempt(wrong_code(now), "203.0.113.100"), start, now);
  BOOST_TEST_REQUIRE(r.what == verdict::throttled);
  // The real hidden server registers again (a client took a parked connection)...
  now += 30;
  const auto later = start + 30s;
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), later, now).what == verdict::accepted);
  // ...and the guessers' budget is not back: the next guess after the delay
  // is checked and fails, and the one after it waits again.
  const auto after = later + 60s;
  BOOST_TEST(gate.check(attempt(wrong_code(now), "203.0.113.101"), after, now).what == verdict::refused);
  BOOST_TEST(gate.check(attempt(wrong_code(now), "203.0.113.102"), after, now).what == verdict::throttled);
}

BOOST_AUTO_TEST_CASE(a_valid_pool_credential_is_not_held_back_by_its_neighbours_failures) {
  registration_gate gate({.credential_lifetime = 600s});
  const auto now = t0 + 5;
  const auto cred = gate.issue_credential("uuid-a", secret, now, now);
  // A neighbour behind the same NAT fails codes: the address is throttled...
  for (int i = 0; i < 8; ++i) gate.check(attempt(wrong_code(now), "203.0.113.9"), start, now);
  BOOST_TEST_REQUIRE(gate.check(attempt(code_at(now), "203.0.113.9"), start, now).what == verdict::throttled);
  // ...but the real hidden server's credential refills its pool from it.
  registration_attempt refill{"uuid-a", &secret, {}, cred, "203.0.113.9", {}};
  BOOST_TEST(gate.check(refill, start, now).what == verdict::accepted);
  // A credential that is not valid gets the throttle's answer, as a code would.
  registration_attempt forged{"uuid-a", &secret, {}, "v2.1.2.AAAA", "203.0.113.9", {}};
  BOOST_TEST(gate.check(forged, start, now).what == verdict::throttled);
}

BOOST_AUTO_TEST_CASE(a_chain_of_pool_credentials_ends_a_while_after_the_code_that_began_it) {
  registration_gate gate({.credential_lifetime = 600s, .credential_chain = 86400s});
  auto now = t0 + 5;
  auto r = gate.check(attempt(code_at(now), "198.51.100.1"), start, now);
  BOOST_TEST_REQUIRE(r.what == verdict::accepted);
  const auto began = r.chain_began;
  BOOST_TEST(began == now);
  auto cred = gate.issue_credential("uuid-a", secret, now, began);
  // The hidden server renews with each credential before it expires, for as
  // long as it may...
  int renewals = 0;
  for (; renewals < 1000; ++renewals) {
    now += 300;
    registration_attempt a{"uuid-a", &secret, {}, cred, "198.51.100.1", {}};
    auto got = gate.check(a, start, now);
    if (got.what != verdict::accepted) break;
    BOOST_TEST_REQUIRE(got.chain_began == began);  // a renewal keeps the chain's start
    cred = gate.issue_credential("uuid-a", secret, now, got.chain_began);
    BOOST_TEST_REQUIRE(gate.credential_max_age(now, began).count() <= 600);
  }
  // ...which is a day from the code, not forever.
  BOOST_TEST(now - began > 86400 - 600);
  BOOST_TEST(now - began <= 86400 + 300);
  BOOST_TEST(renewals < 1000);
  // Then a code begins a new chain.
  r = gate.check(attempt(code_at(now), "198.51.100.1"), start, now);
  BOOST_TEST(r.what == verdict::accepted);
  BOOST_TEST(r.chain_began == now);
}

BOOST_AUTO_TEST_CASE(the_64s_of_one_ipv6_48_share_a_coarser_throttle) {
  registration_gate gate({});
  const auto now = t0 + 5;
  const std::string block = "2001:db8:1::/48";
  auto from = [&](int i) { return "2001:db8:1:" + std::to_string(i) + "::/64"; };
  // The real hidden server registers from one /64 of the block.
  BOOST_TEST(gate.check(attempt(code_at(now), from(9999), &secret, block), start, now).what == verdict::accepted);
  // A guesser spreads over the block's /64s, each within its own free failures,
  // each guess for another (unknown) UUID: after 80 the block waits.
  int checked = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string uuid = "guess-" + std::to_string(i);  // the attempt holds a view of it
    registration_attempt guess{uuid, nullptr, "000000", {}, from(i), block};
    if (gate.check(guess, start, now).what == verdict::refused) ++checked;
  }
  BOOST_TEST(checked == 80);
  auto r = gate.check(attempt(code_at(now), from(500), &secret, block), start, now);
  BOOST_TEST(r.what == verdict::throttled);  // a fresh /64 of the block, even with a right code
  // Not the real server's /64, which registered the UUID: exempt from the block's throttle.
  BOOST_TEST(gate.check(attempt(code_at(now), from(9999), &secret, block), start, now).what == verdict::accepted);
  // Another /48 is not affected.
  BOOST_TEST(gate.check(attempt(code_at(now + 30), "2001:db8:2:1::/64", &secret, "2001:db8:2::/48"), start, now + 30)
                 .what == verdict::accepted);
}

BOOST_AUTO_TEST_CASE(a_code_registers_again_only_from_its_first_address_by_default) {
  registration_gate gate({});
  const auto now = t0 + 5;
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.2"), start, now).what == verdict::replayed);
  // The next step's code is a new code.
  BOOST_TEST(gate.check(attempt(code_at(now + 30), "198.51.100.2"), start, now + 30).what == verdict::accepted);
}

BOOST_AUTO_TEST_CASE(strict_mode_never_accepts_a_code_twice) {
  registration_gate gate({.reuse = reuse_policy::never});
  const auto now = t0 + 5;
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::replayed);
  // Still refused one step later, while the skew window still takes it.
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now + 30).what == verdict::replayed);
  // A replay is not a guess: it does not feed the throttle.
  for (int i = 0; i < 10; ++i) gate.check(attempt(code_at(now), "198.51.100.1"), start, now);
  BOOST_TEST(gate.check(attempt(code_at(now + 60), "198.51.100.1"), start, now + 60).what == verdict::accepted);
}

BOOST_AUTO_TEST_CASE(a_pool_credential_is_bound_to_its_uuid_and_secret_and_expires) {
  registration_gate gate({.credential_lifetime = 600s});
  const auto now = t0 + 5;
  auto cred = gate.issue_credential("uuid-a", secret, now, now);
  registration_attempt a{"uuid-a", &secret, {}, cred, "198.51.100.1", {}};
  BOOST_TEST(gate.check(a, start, now).what == verdict::accepted);
  BOOST_TEST(gate.check(a, start, now + 599).what == verdict::accepted);  // as often as the pool needs
  BOOST_TEST(gate.check(a, start, now + 601).what == verdict::credential_refused);
  registration_attempt other_uuid{"uuid-b", &secret, {}, cred, "198.51.100.1", {}};
  BOOST_TEST(gate.check(other_uuid, start, now).what == verdict::credential_refused);
  registration_attempt rotated{"uuid-a", &other_secret, {}, cred, "198.51.100.1", {}};
  BOOST_TEST(gate.check(rotated, start, now).what == verdict::credential_refused);
  registration_attempt unknown{"uuid-a", nullptr, {}, cred, "198.51.100.1", {}};
  BOOST_TEST(gate.check(unknown, start, now).what == verdict::credential_refused);
  // Another server's (or a restarted one's) credential: a different key.
  registration_gate restarted({.credential_lifetime = 600s});
  BOOST_TEST(restarted.check(a, start, now).what == verdict::credential_refused);
}

BOOST_AUTO_TEST_CASE(forged_and_malformed_credentials_are_refused) {
  registration_gate gate({.credential_lifetime = 600s});
  const auto now = t0 + 5;
  const auto cred = gate.issue_credential("uuid-a", secret, now, now);
  auto later = cred;  // the expiry moved: the MAC covers it
  later.replace(3, 10, std::to_string(now + 300));
  auto flipped = cred;
  flipped[flipped.size() - 3] = flipped[flipped.size() - 3] == 'A' ? 'B' : 'A';
  auto began_later = cred;  // the chain's start moved: the MAC covers it too
  began_later.replace(3 + 11, 10, std::to_string(now + 300));
  const std::string cases[] = {later, began_later, flipped, "v2.", "v2.x.y.z", "v1" + cred.substr(2),
                               cred.substr(0, cred.size() - 4),
                               std::string(200, 'v')};
  for (const auto& bad : cases) BOOST_TEST_CONTEXT(bad) {
      registration_attempt a{"uuid-a", &secret, {}, bad, "198.51.100.1", {}};
      BOOST_TEST(gate.check(a, start, now).what == verdict::credential_refused);
    }
}

BOOST_AUTO_TEST_CASE(nodes_with_one_key_file_take_each_others_credentials_and_keys_rotate_in) {
  const std::string k1(64, 'a'), k2(64, '7');
  const auto one = parse_key_file(k1 + "\n", "keys");
  const auto both = parse_key_file("# new key first, old one still verifies\n" + k2 + "\n\n" + k1 + "\n", "keys");
  BOOST_TEST(both.size() == 2u);
  registration_gate node1({.credential_lifetime = 600s}), node2({.credential_lifetime = 600s});
  node1.set_credential_keys(one);
  node2.set_credential_keys(one);
  const auto now = t0 + 5;
  const auto cred = node1.issue_credential("uuid-a", secret, now, now);
  registration_attempt a{"uuid-a", &secret, {}, cred, "198.51.100.1", {}};
  BOOST_TEST(node2.check(a, start, now).what == verdict::accepted);
  // Rotation: node 2 reloads a file with a new first key; node 1's credentials still verify
  // there, and node 2's new ones verify at node 1 once node 1 has the file too.
  node2.set_credential_keys(both);
  BOOST_TEST(node2.check(a, start, now).what == verdict::accepted);
  const auto fresh = node2.issue_credential("uuid-a", secret, now, now);
  registration_attempt b{"uuid-a", &secret, {}, fresh, "198.51.100.1", {}};
  BOOST_TEST(node1.check(b, start, now).what == verdict::credential_refused);
  node1.set_credential_keys(both);
  BOOST_TEST(node1.check(b, start, now).what == verdict::accepted);
  // The old key dropped: its credentials die.
  node1.set_credential_keys(parse_key_file(k2, "keys"));
  BOOST_TEST(node1.check(a, start, now).what == verdict::credential_refused);
}

BOOST_AUTO_TEST_CASE(a_key_file_is_64_hex_digits_a_line) {
  for (const std::string& bad : {std::string(), std::string("# only a comment\n"), std::string(63, 'a'), std::string(64, 'g'),
                                std::string(65, 'a'), std::string(64, 'a') + " extra"})
    BOOST_TEST_CONTEXT(bad) { BOOST_CHECK_THROW(parse_key_file(bad, "keys"), rv::config_error); }
  std::string seventeen;
  for (int i = 0; i < 17; ++i) seventeen += std::string(64, 'b') + "\n";
  BOOST_CHECK_THROW(parse_key_file(seventeen, "keys"), rv::config_error);
  BOOST_TEST(parse_key_file("  " + std::string(64, 'A') + "\r\n", "keys").front()[0] == 0xaa);
}

BOOST_AUTO_TEST_CASE(forget_drops_used_codes_after_a_rotation) {
  registration_gate gate({.reuse = reuse_policy::never});
  const auto now = t0 + 5;
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
  gate.forget("uuid-a");
  BOOST_TEST(gate.check(attempt(code_at(now), "198.51.100.1"), start, now).what == verdict::accepted);
}

BOOST_AUTO_TEST_SUITE_END()

// The threat model's figures (SECURITY.md): how many guesses the real gate,
// with rvserver's default settings, lets an attacker have checked per hour,
// from address blocks of each size. Time is simulated: the attacker tries
// from whichever of its addresses may try next, at once. Each figure is
// printed (--log_level=message) and bounded.
BOOST_AUTO_TEST_SUITE(threat_model)

namespace {

struct attacker {
  const char* name;
  std::size_t addresses;
  // The source and block keys of its i-th address, as source_key and block_key make them.
  std::function<std::pair<std::string, std::string>(std::size_t)> keys;
};

const attacker attackers[] = {
    {"one IPv4 address", 1, [](std::size_t) { return std::pair<std::string, std::string>{"203.0.113.9", ""}; }},
    {"an IPv4 /24", 256,
     [](std::size_t i) { return std::pair<std::string, std::string>{"203.0.113." + std::to_string(i), ""}; }},
    {"an IPv6 /64", 1,
     [](std::size_t) { return std::pair<std::string, std::string>{"2001:db8:1:2::/64", "2001:db8:1::/48"}; }},
    {"an IPv6 /48 (65,536 /64s)", 65536,
     [](std::size_t i) {
       return std::pair<std::string, std::string>{"2001:db8:1:" + std::to_string(i) + "::/64", "2001:db8:1::/48"};
     }},
};

struct hourly {
  std::size_t first = 0, later = 0;  // guesses checked in the first hour, and in each hour after (mean of 5)
};

// `spread`: each guess names another UUID (one of many, unknown ones cost the
// same), so no per-UUID throttle meets it; otherwise all go to one UUID.
hourly guesses_per_hour(const attacker& a, bool spread) {
  registration_gate gate({});
  using entry = std::pair<clock_time, std::size_t>;  // when an address may try next
  std::priority_queue<entry, std::vector<entry>, std::greater<>> ready;
  for (std::size_t i = 0; i < a.addresses; ++i) ready.push({start, i});
  std::vector<std::size_t> per_hour(6, 0);
  clock_time now = start;
  int throttled_in_a_row = 0;
  milliseconds shortest_wait{0};
  for (std::size_t step = 0; step < 2'000'000 && !ready.empty(); ++step) {
    auto [at, i] = ready.top();
    ready.pop();
    now = std::max(now, at);
    const auto hour = static_cast<std::size_t>(std::chrono::duration_cast<std::chrono::hours>(now - start).count());
    if (hour >= per_hour.size()) break;
    const auto [source, block] = a.keys(i);
    const std::string uuid = spread ? "guess-" + std::to_string(step) : "uuid-a";
    const auto unix_now = t0 + std::chrono::duration_cast<std::chrono::seconds>(now - start).count();
    registration_attempt guess{uuid, spread ? nullptr : &secret, "000000", {}, source, block};
    auto r = gate.check(guess, now, unix_now);
    if (r.what == verdict::throttled) {
      ready.push({now + r.retry_after, i});
      shortest_wait = throttled_in_a_row == 0 ? r.retry_after : std::min(shortest_wait, r.retry_after);
      // Two addresses in a row may not try now: what waits is shared (the
      // UUID, the /48), so nobody tries before the shorter of the two waits.
      if (++throttled_in_a_row >= 2) {
        now += shortest_wait;
        throttled_in_a_row = 0;
      }
      continue;
    }
    throttled_in_a_row = 0;
    ++per_hour[hour];
    ready.push({now, i});
  }
  hourly h{per_hour[0], 0};
  for (std::size_t k = 1; k < per_hour.size(); ++k) h.later += per_hour[k];
  h.later /= per_hour.size() - 1;
  return h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_uuid_gets_about_a_guess_a_minute_from_any_block) {
  for (const auto& a : attackers) BOOST_TEST_CONTEXT(a.name) {
      const auto h = guesses_per_hour(a, false);
      BOOST_TEST_MESSAGE("one UUID, from " << a.name << ": " << h.first << " guesses checked in the first hour, "
                                           << h.later << " in each hour after");
      BOOST_TEST(h.first <= 100u);
      BOOST_TEST(h.later <= 65u);
    }
}

BOOST_AUTO_TEST_CASE(guesses_over_many_uuids_are_bounded_by_address_and_by_ipv6_48) {
  for (const auto& a : attackers) BOOST_TEST_CONTEXT(a.name) {
      const auto h = guesses_per_hour(a, true);
      BOOST_TEST_MESSAGE("any UUID, from " << a.name << ": " << h.first << " guesses checked in the first hour, "
                                           << h.later << " in each hour after");
      // One address: its own throttle; a /48: its block's, however many /64s it holds.
      const bool ipv4 = std::string_view(a.name).find("IPv4") != std::string_view::npos;
      const std::size_t keys = ipv4 ? a.addresses : 1;
      BOOST_TEST(h.first <= (ipv4 ? 20u : 100u) * keys);
      BOOST_TEST(h.later <= (ipv4 ? 5u : 5u) * keys);
    }
}

BOOST_AUTO_TEST_SUITE_END()
