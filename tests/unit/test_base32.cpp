// RFC 4648 base32 and base64: the published vectors, round trips, and rejects.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "rv/base32.hpp"
#include "rv/base64.hpp"

namespace {

std::vector<std::uint8_t> bytes(std::string_view s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<std::uint8_t>& b) { return {b.begin(), b.end()}; }

struct vector_case {
  std::string_view plain, padded, unpadded;
};

// RFC 4648 §10.
const vector_case base32_vectors[] = {
    {"", "", ""},
    {"f", "MY======", "MY"},
    {"fo", "MZXQ====", "MZXQ"},
    {"foo", "MZXW6===", "MZXW6"},
    {"foob", "MZXW6YQ=", "MZXW6YQ"},
    {"fooba", "MZXW6YTB", "MZXW6YTB"},
    {"foobar", "MZXW6YTBOI======", "MZXW6YTBOI"},
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(base32)

BOOST_AUTO_TEST_CASE(rfc4648_vectors_encode_without_padding) {
  for (const auto& v : base32_vectors) BOOST_TEST_CONTEXT(v.padded) {
      BOOST_TEST(rv::base32_encode(bytes(v.plain)) == v.unpadded);
    }
}

BOOST_AUTO_TEST_CASE(rfc4648_vectors_decode_padded_unpadded_and_lowercase) {
  for (const auto& v : base32_vectors)
    for (std::string input : {std::string(v.padded), std::string(v.unpadded), lower(v.padded)})
      BOOST_TEST_CONTEXT(input) {
        auto decoded = rv::base32_decode(input);
        BOOST_TEST_REQUIRE(decoded.has_value());
        BOOST_TEST(text(*decoded) == v.plain);
      }
}

BOOST_AUTO_TEST_CASE(rejects) {
  struct reject_case {
    std::string_view name, input;
  };
  const reject_case cases[] = {
      {"digit outside the alphabet", "MZXW6YT1"},
      {"digit 0", "MZXW6YT0"},
      {"inner space", "MZXW 6YTB"},
      {"trailing newline", "MZXW6YTB\n"},
      {"one symbol", "M"},
      {"three symbols", "MZX"},
      {"six symbols", "MZXW6Y"},
      {"non-zero trailing bits", "MZ"},
      {"non-zero trailing bits, padded", "MZ======"},
      {"partial padding", "MY="},
      {"padding in the middle", "MY==MY=="},
      {"leading padding", "=MY"},
      {"padding only", "========"},
      {"a whole group of padding", "MZXW6YTB========"},
      {"base64 symbol", "MZXW6YT+"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(!rv::base32_decode(c.input).has_value());
    }
}

BOOST_AUTO_TEST_CASE(round_trips_every_length) {
  std::vector<std::uint8_t> data;
  for (int n = 0; n <= 41; ++n) {
    BOOST_TEST_CONTEXT("length " << n) {
      auto decoded = rv::base32_decode(rv::base32_encode(data));
      BOOST_TEST_REQUIRE(decoded.has_value());
      BOOST_TEST(text(*decoded) == text(data));
    }
    data.push_back(static_cast<std::uint8_t>(n * 37 + 0x81));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(base64)

BOOST_AUTO_TEST_CASE(rfc4648_vectors_both_ways) {
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) BOOST_TEST_CONTEXT(encoded) {
      BOOST_TEST(rv::base64_encode(bytes(plain)) == encoded);
      auto decoded = rv::base64_decode(encoded);
      BOOST_TEST_REQUIRE(decoded.has_value());
      BOOST_TEST(text(*decoded) == plain);
    }
}

BOOST_AUTO_TEST_CASE(round_trips_every_byte_value) {
  std::vector<std::uint8_t> data;
  for (int n = 0; n < 256; ++n) {
    data.push_back(static_cast<std::uint8_t>(255 - n));
    auto decoded = rv::base64_decode(rv::base64_encode(data));
    BOOST_TEST_REQUIRE(decoded.has_value());
    BOOST_TEST(text(*decoded) == text(data));
  }
}

BOOST_AUTO_TEST_CASE(rejects) {
  struct reject_case {
    std::string_view name, input;
  };
  const reject_case cases[] = {
      {"padding missing", "Zg"},
      {"padding short", "Zg="},
      {"three pads", "Z==="},
      {"only padding", "===="},
      {"padding in the middle", "Zg==Zg=="},
      {"non-zero trailing bits", "Zh=="},
      {"newline", "Zm9v\n"},
      {"inner space", "Zm 9v"},
      {"url-safe alphabet", "Zm9-"},
      {"not a multiple of four", "Zm9vY"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      BOOST_TEST(!rv::base64_decode(c.input).has_value());
    }
}

BOOST_AUTO_TEST_SUITE_END()
