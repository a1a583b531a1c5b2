// rvserver's provisioning: UUIDs, seed-compatible keys, otpauth:// URIs, edits of the secrets
// file's text that keep every other byte, and the locked, atomic file update.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "temp_dir.hpp"
#include "provision.hpp"
#include "rv/base32.hpp"
#include "rv/error.hpp"
#include "rv/protocol.hpp"
#include "rv/secrets.hpp"

namespace fs = std::filesystem;
using rvserver::append_line;
using rvserver::remove_uuid_line;
using rvserver::replace_uuid_secret;

namespace {

const std::string key_a = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const std::string key_b = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const std::string key_c = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U";

using rv_test::temp_dir;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  BOOST_TEST_REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(provision)

BOOST_AUTO_TEST_CASE(uuid_v4_sets_version_and_variant) {
  std::array<std::uint8_t, 16> ones{};
  ones.fill(0xff);
  BOOST_TEST(rvserver::format_uuid_v4(ones) == "ffffffff-ffff-4fff-bfff-ffffffffffff");
  std::array<std::uint8_t, 16> zeros{};
  BOOST_TEST(rvserver::format_uuid_v4(zeros) == "00000000-0000-4000-8000-000000000000");
  std::array<std::uint8_t, 16> counting{};
  for (std::size_t i = 0; i < counting.size(); ++i) counting[i] = static_cast<std::uint8_t>(i * 17);
  auto text = rvserver::format_uuid_v4(counting);
  BOOST_TEST(text == "00112233-4455-4677-8899-aabbccddeeff");
  BOOST_TEST(rv::valid_uuid(text));
}

BOOST_AUTO_TEST_CASE(seed_compatible_key_has_no_high_bit) {
  std::vector<std::uint8_t> random(23);
  for (std::size_t i = 0; i < random.size(); ++i) random[i] = static_cast<std::uint8_t>(0x80 + i * 5);
  auto key = rvserver::seed_compatible_key(random);
  BOOST_TEST(key.size() == 23u);
  for (std::size_t i = 0; i < key.size(); ++i) {
    BOOST_TEST_CONTEXT("byte " << i) {
      BOOST_TEST(key[i] < 0x80);
      BOOST_TEST(key[i] == (random[i] & 0x7f));
    }
  }
  // 23 bytes encode to 37 base32 symbols that decode back to the same bytes (>= 160 bits).
  auto text = rv::base32_encode(key);
  BOOST_TEST(text.size() == 37u);
  auto back = rv::base32_decode(text);
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(*back == key);
}

BOOST_AUTO_TEST_CASE(percent_encoding) {
  struct {
    const char* name;
    std::string in, out;
  } cases[] = {
      {"unreserved", "AZaz09-._~", "AZaz09-._~"},
      {"space", "ACME Co", "ACME%20Co"},
      {"reserved", ":/?#[]@!$&'()*+,;=", "%3A%2F%3F%23%5B%5D%40%21%24%26%27%28%29%2A%2B%2C%3B%3D"},
      {"percent", "100%", "100%25"},
      {"utf-8", "R\xc3\xa9seau", "R%C3%A9seau"},
      {"empty", "", ""},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) { BOOST_TEST(rvserver::percent_encode(c.in) == c.out); }
  }
}

BOOST_AUTO_TEST_CASE(secret_line_omits_defaults) {
  BOOST_TEST(rvserver::format_secret_line("u1", key_a, 30, 6) == "u1 " + key_a);
  BOOST_TEST(rvserver::format_secret_line("u1", key_a, 60, 6) == "u1 " + key_a + " 60");
  BOOST_TEST(rvserver::format_secret_line("u1", key_a, 30, 8) == "u1 " + key_a + " 30 8");
  // Whatever it formats, the server reads back.
  auto table = rv::parse_secrets(rvserver::format_secret_line("u1", key_a, 45, 7) + "\n");
  BOOST_TEST(table.at("u1").params.step == 45u);
  BOOST_TEST(table.at("u1").params.digits == 7u);
}

BOOST_AUTO_TEST_CASE(otpauth_uri_format) {
  BOOST_TEST(rvserver::otpauth_uri("rendezvous", "0c0ffee0-1234-4abc-8def-0123456789ab", key_a, 30, 6) ==
             "otpauth://totp/rendezvous:0c0ffee0-1234-4abc-8def-0123456789ab?secret=" + key_a +
                 "&issuer=rendezvous&algorithm=SHA1&digits=6&period=30");
  BOOST_TEST(rvserver::otpauth_uri("ACME Co & Sons", "host.1", key_b, 60, 8) ==
             "otpauth://totp/ACME%20Co%20%26%20Sons:host.1?secret=" + key_b +
                 "&issuer=ACME%20Co%20%26%20Sons&algorithm=SHA1&digits=8&period=60");
  BOOST_CHECK_THROW(rvserver::otpauth_uri("a:b", "u", key_a, 30, 6), rv::config_error);
  BOOST_CHECK_THROW(rvserver::otpauth_uri("", "u", key_a, 30, 6), rv::config_error);
}

BOOST_AUTO_TEST_CASE(append_keeps_the_text) {
  BOOST_TEST(append_line("", "u1 " + key_a) == "u1 " + key_a + "\n");
  BOOST_TEST(append_line("# c\n", "u1 " + key_a) == "# c\nu1 " + key_a + "\n");
  // A last line without its newline gets one, so the new line is a line of its own.
  BOOST_TEST(append_line("u0 " + key_b, "u1 " + key_a) == "u0 " + key_b + "\nu1 " + key_a + "\n");
  BOOST_TEST(append_line("u0 " + key_b + "\r\n", "u1 " + key_a) == "u0 " + key_b + "\r\nu1 " + key_a + "\n");
}

BOOST_AUTO_TEST_CASE(remove_keeps_other_lines_byte_for_byte) {
  const std::string text = "# fleet\n"
                           "\n"
                           "alpha " + key_a + "  # the laptop\n"
                           "  beta\t" + key_b + " 60 8\r\n"
                           "# alpha-2 is a comment that names no line\n"
                           "gamma " + key_c;  // no final newline
  struct {
    const char* name;
    std::string uuid;
    std::optional<std::string> out;
  } cases[] = {
      {"first", "alpha", "# fleet\n\n  beta\t" + key_b + " 60 8\r\n# alpha-2 is a comment that names no line\ngamma " + key_c},
      {"indented, CRLF", "beta", "# fleet\n\nalpha " + key_a + "  # the laptop\n# alpha-2 is a comment that names no line\ngamma " + key_c},
      {"last, no newline", "gamma", "# fleet\n\nalpha " + key_a + "  # the laptop\n  beta\t" + key_b + " 60 8\r\n# alpha-2 is a comment that names no line\n"},
      {"absent", "delta", std::nullopt},
      {"only in a comment", "alpha-2", std::nullopt},
      {"a prefix of a UUID", "alph", std::nullopt},
      {"a secret is no UUID", key_a, std::nullopt},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      auto out = remove_uuid_line(text, c.uuid);
      BOOST_TEST(out.has_value() == c.out.has_value());
      if (out && c.out) BOOST_TEST(*out == *c.out);
    }
  }
}

BOOST_AUTO_TEST_CASE(replace_changes_only_the_secret) {
  const std::string text = "# fleet\nalpha " + key_a + "  # the laptop\n  beta\t" + key_b + " 60 8\r\ngamma " + key_c;
  auto out = replace_uuid_secret(text, "beta", key_c);
  BOOST_TEST_REQUIRE(out.has_value());
  BOOST_TEST(*out == "# fleet\nalpha " + key_a + "  # the laptop\n  beta\t" + key_c + " 60 8\r\ngamma " + key_c);
  out = replace_uuid_secret(text, "alpha", key_b);
  BOOST_TEST_REQUIRE(out.has_value());
  BOOST_TEST(*out == "# fleet\nalpha " + key_b + "  # the laptop\n  beta\t" + key_b + " 60 8\r\ngamma " + key_c);
  out = replace_uuid_secret(text, "gamma", key_a);
  BOOST_TEST_REQUIRE(out.has_value());
  BOOST_TEST(*out == "# fleet\nalpha " + key_a + "  # the laptop\n  beta\t" + key_b + " 60 8\r\ngamma " + key_a);
  BOOST_TEST(!replace_uuid_secret(text, "delta", key_a).has_value());
  BOOST_TEST(!replace_uuid_secret("lonely # no secret\n", "lonely", key_a).has_value());
  // The result still parses, with the old step and digits.
  auto table = rv::parse_secrets(*replace_uuid_secret(text, "beta", key_c));
  BOOST_TEST(table.at("beta").params.step == 60u);
  BOOST_TEST(table.at("beta").params.digits == 8u);
}

BOOST_AUTO_TEST_CASE(uuids_in_file_order) {
  const std::string text = "# c\nzeta " + key_a + "\n\nalpha " + key_b + " # x\n  mid\t" + key_c + "\r\n";
  BOOST_TEST(rvserver::uuids_in_order(text) == (std::vector<std::string>{"zeta", "alpha", "mid"}));
  BOOST_TEST(rvserver::uuids_in_order("").empty());
}

BOOST_AUTO_TEST_CASE(edit_creates_a_0600_file) {
  temp_dir dir;
  auto file = dir.path_ / "secrets";
  ::umask(022);
  rvserver::edit_secrets_file(file, false, [](const std::string& current) {
    BOOST_TEST(current.empty());
    return append_line(current, "u1 " + key_a);
  });
  BOOST_TEST(read(file) == "u1 " + key_a + "\n");
  BOOST_TEST(mode_of(file) == 0600u);
  BOOST_TEST(mode_of(dir.path_ / "secrets.lock") == 0600u);
  // No temp file is left behind.
  std::size_t entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.path_)) ++entries;
  BOOST_TEST(entries == 2u);
}

BOOST_AUTO_TEST_CASE(edit_keeps_the_rest_and_refuses_bad_files) {
  temp_dir dir;
  const std::string before = "# mine\nu0 " + key_b + " 60\n";
  auto file = dir.write("secrets", before, 0600);
  rvserver::edit_secrets_file(file, true, [&](const std::string& current) {
    BOOST_TEST(current == before);
    return append_line(current, "u1 " + key_a);
  });
  BOOST_TEST(read(file) == before + "u1 " + key_a + "\n");

  // An edit that throws changes nothing.
  BOOST_CHECK_THROW(rvserver::edit_secrets_file(file, true,
                                                [](const std::string&) -> std::string {
                                                  throw rv::config_error("no");
                                                }),
                    rv::config_error);
  BOOST_TEST(read(file) == before + "u1 " + key_a + "\n");

  // An edit that would leave a file the server refuses is not written.
  BOOST_CHECK_THROW(rvserver::edit_secrets_file(file, true,
                                                [](const std::string& current) {
                                                  return append_line(current, "u0 " + key_c);  // duplicate
                                                }),
                    rv::config_error);
  BOOST_TEST(read(file) == before + "u1 " + key_a + "\n");

  // A file others may read is refused, with the chmod that fixes it, and left alone.
  auto open_file = dir.write("open", before, 0644);
  try {
    rvserver::edit_secrets_file(open_file, false, [](const std::string& c) { return c; });
    BOOST_FAIL("a 0644 secrets file was accepted");
  } catch (const rv::config_error& e) {
    BOOST_TEST(std::string(e.what()).find("chmod 600") != std::string::npos);
  }
  BOOST_TEST(mode_of(open_file) == 0644u);

  // A missing file is empty for add, an error for remove and rotate.
  BOOST_CHECK_THROW(rvserver::edit_secrets_file(dir.path_ / "absent", true, [](const std::string& c) { return c; }),
                    rv::config_error);
  BOOST_TEST(!fs::exists(dir.path_ / "absent"));
}

BOOST_AUTO_TEST_CASE(edit_follows_a_symbolic_link) {
  temp_dir dir;
  auto real = dir.write("real", "u0 " + key_b + "\n", 0600);
  auto link = dir.path_ / "link";
  fs::create_symlink(real, link);
  rvserver::edit_secrets_file(link, true, [](const std::string& c) { return append_line(c, "u1 " + key_a); });
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(read(real) == "u0 " + key_b + "\nu1 " + key_a + "\n");
}

BOOST_AUTO_TEST_SUITE_END()
