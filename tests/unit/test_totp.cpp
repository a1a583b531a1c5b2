// HOTP and TOTP against the RFC 4226 and RFC 6238 test vectors, and the skew window.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "rv/totp.hpp"

namespace {

// The key of both RFCs' SHA-1 vectors.
const std::string_view rfc_key_text = "12345678901234567890";
const std::vector<std::uint8_t> rfc_key(rfc_key_text.begin(), rfc_key_text.end());

rv::totp_params params(unsigned digits) { return {rfc_key, 30, digits}; }

// totp_match's counter, or a value no test expects when nothing matched.
constexpr std::uint64_t no_match = ~std::uint64_t{0};
std::uint64_t matched(unsigned digits, std::string_view token, std::int64_t now) {
  return rv::totp_match(params(digits), token, now).value_or(no_match);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(totp)

BOOST_AUTO_TEST_CASE(hotp_rfc4226_appendix_d) {
  const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                            "254676", "287922", "162583", "399871", "520489"};
  for (std::uint64_t count = 0; count < 10; ++count) BOOST_TEST_CONTEXT("counter " << count) {
      BOOST_TEST(rv::hotp(rfc_key, count, 6) == expected[count]);
    }
}

BOOST_AUTO_TEST_CASE(totp_rfc6238_appendix_b_sha1) {
  struct vector_case {
    std::int64_t time;
    std::uint64_t counter;
    std::string_view token;
  };
  const vector_case vectors[] = {
      {59, 0x1, "94287082"},
      {1111111109, 0x23523EC, "07081804"},
      {1111111111, 0x23523ED, "14050471"},
      {1234567890, 0x273EF07, "89005924"},
      {2000000000, 0x3F940AA, "69279037"},
      {20000000000, 0x27BC86AA, "65353130"},
  };
  for (const auto& v : vectors) BOOST_TEST_CONTEXT("T=" << v.time) {
      BOOST_TEST(rv::totp(params(8), v.time) == v.token);
      BOOST_TEST(rv::hotp(rfc_key, v.counter, 8) == v.token);
      BOOST_TEST(matched(8, v.token, v.time) == v.counter);
      BOOST_TEST(rv::totp_counter(params(8), v.time) == v.counter);
    }
}

BOOST_AUTO_TEST_CASE(verify_accepts_one_step_either_side_only) {
  const std::int64_t now = 1111111111;
  const std::uint64_t counter = now / 30;
  struct skew_case {
    std::string_view name;
    std::int64_t steps;
    bool accepted;
  };
  const skew_case cases[] = {
      {"two steps behind", -2, false}, {"one step behind", -1, true}, {"current step", 0, true},
      {"one step ahead", 1, true},     {"two steps ahead", 2, false},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      std::string token = rv::hotp(rfc_key, counter + c.steps, 6);
      // Accepted, it says which step matched (the replay rule counts on it).
      BOOST_TEST(matched(6, token, now) == (c.accepted ? counter + c.steps : no_match));
    }
}

BOOST_AUTO_TEST_CASE(verify_rejects_malformed_tokens) {
  const std::int64_t now = 59;
  const std::string good = rv::totp(params(6), now);
  BOOST_TEST_REQUIRE(matched(6, good, now) == 1u);
  struct reject_case {
    std::string_view name;
    std::string token;
  };
  const reject_case cases[] = {
      {"empty", ""},
      {"one digit short", good.substr(0, 5)},
      {"one digit long", good + "0"},
      {"8 digits against 6-digit params", rv::totp(params(8), now)},
      {"letter", good.substr(0, 5) + "a"},
      {"space", " " + good.substr(1)},
      {"sign", "+" + good.substr(1)},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(matched(6, c.token, now) == no_match);
    }
}

// A token of the wrong length or with non-digits costs the three HMACs of a
// right one, so that the time of a refusal tells neither the secret's digits
// nor (against the gate's 6-digit decoy) whether the UUID has a secret. Time
// is too noisy to test; the HMACs computed can be counted.
BOOST_AUTO_TEST_CASE(verify_does_the_same_work_whatever_the_token) {
  for (unsigned digits : {6u, 8u}) {
    for (std::int64_t now : {std::int64_t{0}, std::int64_t{1111111111}}) {
      const std::string good = rv::totp(params(digits), now);
      struct token_case {
        std::string name, token;
      };
      const token_case cases[] = {
          {"the right token", good},
          {"empty", ""},
          {"5 digits", "12345"},
          {"6 digits", "123456"},
          {"7 digits", "1234567"},
          {"8 digits", "12345678"},
          {"100 digits", std::string(100, '7')},
          {"non-digits of the right length", std::string(digits, 'x')},
          {"the right token and a NUL", good + '\0'},
          {"non-digits", "a\x01\xff"},
      };
      for (const auto& c : cases) BOOST_TEST_CONTEXT(digits << "-digit secret at T=" << now << ", " << c.name) {
          const std::uint64_t before = rv::detail::hmac_count();
          const auto got = rv::totp_match(params(digits), c.token, now);
          const std::uint64_t hmacs = rv::detail::hmac_count() - before;
          BOOST_TEST(hmacs == 3u);
          BOOST_TEST(got.has_value() == (c.token == good));
        }
    }
  }
}

BOOST_AUTO_TEST_CASE(verify_at_the_epoch_has_no_earlier_step) {
  BOOST_TEST(matched(6, rv::hotp(rfc_key, 0, 6), 0) == 0u);
  BOOST_TEST(matched(6, rv::hotp(rfc_key, 1, 6), 0) == 1u);
  BOOST_TEST(matched(6, rv::hotp(rfc_key, 2, 6), 0) == no_match);
}

BOOST_AUTO_TEST_CASE(steps_and_digits_follow_the_params) {
  rv::totp_params p{rfc_key, 60, 7};
  BOOST_TEST(rv::totp(p, 119) == rv::hotp(rfc_key, 1, 7));
  BOOST_TEST(rv::totp(p, 120) == rv::hotp(rfc_key, 2, 7));
  BOOST_TEST(rv::totp(p, 120).size() == 7u);
}

BOOST_AUTO_TEST_CASE(constant_time_equal) {
  BOOST_TEST(rv::constant_time_equal("", ""));
  BOOST_TEST(rv::constant_time_equal("123456", "123456"));
  BOOST_TEST(!rv::constant_time_equal("123456", "123457"));
  BOOST_TEST(!rv::constant_time_equal("123456", "12345"));
  BOOST_TEST(!rv::constant_time_equal("", "0"));
}

BOOST_AUTO_TEST_SUITE_END()
