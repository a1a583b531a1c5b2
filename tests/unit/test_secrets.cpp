// The secrets file: its grammar, every rejection (never echoing a secret), and the permission,
// owner and file-type checks.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>

#include "config_error_of.hpp"
#include "temp_dir.hpp"
#include "rv/error.hpp"
#include "rv/secrets.hpp"

namespace fs = std::filesystem;

namespace {

// base32 of the RFC 4226 key "12345678901234567890" (160 bits).
const std::string rfc_secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
// A second 160-bit secret whose text no error message may contain.
const std::string canary = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

std::string key_text(const rv::totp_params& p) { return {p.key.begin(), p.key.end()}; }

using rv_test::config_error_of;

using rv_test::temp_dir;

}  // namespace

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(defaults_are_30_seconds_and_6_digits) {
  auto table = rv::parse_secrets("abc " + rfc_secret + "\n");
  BOOST_TEST_REQUIRE(table.size() == 1u);
  const auto& entry = table.at("abc");
  BOOST_TEST(entry.uuid == "abc");
  BOOST_TEST(key_text(entry.params) == "12345678901234567890");
  BOOST_TEST(entry.params.step == 30u);
  BOOST_TEST(entry.params.digits == 6u);
}

BOOST_AUTO_TEST_CASE(accepted_forms) {
  struct good_case {
    std::string name, text;
    unsigned step, digits;
  };
  const good_case cases[] = {
      {"explicit step and digits", "abc " + rfc_secret + " 60 8\n", 60, 8},
      {"step only", "abc " + rfc_secret + " 15\n", 15, 6},
      {"bounds", "abc " + rfc_secret + " 3600 7", 3600, 7},
      {"shortest step", "abc " + rfc_secret + " 1 6", 1, 6},
      {"tabs and runs of blanks", "\tabc\t\t" + rfc_secret + " \t 60\t8\t", 60, 8},
      {"comments and blank lines", "# secrets for the lab\n\n   \n\t\nabc " + rfc_secret + " # the test box\n#\n", 30,
       6},
      {"comment right after a field", "abc " + rfc_secret + " 45#note", 45, 6},
      {"CRLF line ends", "# x\r\nabc " + rfc_secret + " 20 7\r\n", 20, 7},
      {"no final newline", "abc " + rfc_secret, 30, 6},
      {"lower-case secret", "abc gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 30, 6},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      auto table = rv::parse_secrets(c.text);
      BOOST_TEST_REQUIRE(table.size() == 1u);
      const auto& p = table.at("abc").params;
      BOOST_TEST(key_text(p) == "12345678901234567890");
      BOOST_TEST(p.step == c.step);
      BOOST_TEST(p.digits == c.digits);
    }
}

BOOST_AUTO_TEST_CASE(several_entries) {
  auto table = rv::parse_secrets("a " + rfc_secret + "\nb " + canary + " 60\n\nc " + rfc_secret + " 30 8\n");
  BOOST_TEST(table.size() == 3u);
  BOOST_TEST(table.at("b").params.step == 60u);
  BOOST_TEST(table.at("c").params.digits == 8u);
  BOOST_TEST(table.contains("a"));
}

BOOST_AUTO_TEST_CASE(rejections_name_the_line_and_never_the_secret) {
  struct reject_case {
    std::string name, text;
    int line;
  };
  const reject_case cases[] = {
      {"secret alone", "# first\n" + canary + "\n", 2},
      {"uuid alone", "abc\n", 1},
      {"invalid uuid", "a/b " + canary + "\n", 1},
      {"fields swapped", canary + " abc\n", 1},
      {"secret not base32", "abc " + canary.substr(0, 31) + "1\n", 1},
      {"secret under 160 bits", "abc " + canary.substr(0, 16) + "\n", 1},
      {"secret over 512 bits", "abc " + std::string(104, 'A') + "\n", 1},
      {"step 0", "abc " + canary + " 0\n", 1},
      {"step over an hour", "abc " + canary + " 3601\n", 1},
      {"step with a unit", "abc " + canary + " 30s\n", 1},
      {"negative step", "abc " + canary + " -30\n", 1},
      {"step that overflows", "abc " + canary + " 99999999999999999999\n", 1},
      {"5 digits", "abc " + canary + " 30 5\n", 1},
      {"9 digits", "abc " + canary + " 30 9\n", 1},
      {"digits as a word", "abc " + canary + " 30 six\n", 1},
      {"extra field", "abc " + canary + " 30 6 extra\n", 1},
      {"bad line after good ones", "a " + canary + "\n\n# c\nb " + canary + " 30 6 7\n", 4},
      {"duplicate uuid", "abc " + canary + "\nabc " + canary + " 60\n", 2},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      auto message = config_error_of([&] { rv::parse_secrets(c.text, "lab.secrets"); });
      BOOST_TEST_REQUIRE(message.has_value());
      BOOST_TEST(message->find("lab.secrets:" + std::to_string(c.line) + ":") != std::string::npos, *message);
      BOOST_TEST(message->find(canary.substr(0, 16)) == std::string::npos, *message);
    }
}

BOOST_AUTO_TEST_CASE(duplicate_points_at_the_first_definition) {
  auto message = config_error_of([] { rv::parse_secrets("abc " + rfc_secret + "\n\nabc " + rfc_secret + "\n"); });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find(":3:") != std::string::npos, *message);
  BOOST_TEST(message->find("line 1") != std::string::npos, *message);
}

BOOST_AUTO_TEST_CASE(file_readable_by_group_or_others_is_refused) {
  temp_dir dir;
  for (mode_t mode : {0644, 0640, 0604, 0660, 0700 | 0004}) BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
      fs::path file = dir.write("open.secrets", "abc " + rfc_secret + "\n", mode);
      auto message = config_error_of([&] { rv::load_secrets_file(file); });
      BOOST_TEST_REQUIRE(message.has_value());
      BOOST_TEST(message->find("chmod 600 " + file.string()) != std::string::npos, *message);
      BOOST_TEST(message->find(rfc_secret) == std::string::npos, *message);
    }
  auto message = config_error_of([&] { rv::load_secrets_file(dir.write("a.secrets", "", 0644)); });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("mode 0644") != std::string::npos, *message);
}

BOOST_AUTO_TEST_CASE(file_private_to_its_owner_is_loaded) {
  temp_dir dir;
  for (mode_t mode : {0600, 0400}) BOOST_TEST_CONTEXT("mode " << std::oct << mode) {
      fs::path file = dir.write("ok" + std::to_string(mode) + ".secrets", "abc " + rfc_secret + " 60\n", mode);
      auto table = rv::load_secrets_file(file);
      BOOST_TEST_REQUIRE(table.size() == 1u);
      BOOST_TEST(table.at("abc").params.step == 60u);
    }
}

BOOST_AUTO_TEST_CASE(fifo_is_refused_without_waiting_for_a_writer) {
  temp_dir dir;
  const auto fifo = dir.path_ / "fifo.secrets";
  BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto loading = std::async(std::launch::async, [&] { return config_error_of([&] { rv::load_secrets_file(fifo); }); });
  if (loading.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    // A blocking open waits for a writer: be one, so that the call returns and the test ends.
    int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (writer >= 0) ::close(writer);
    BOOST_ERROR("reading a FIFO as a secrets file blocked (waiting for a writer)");
  }
  auto message = loading.get();
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("not a regular file") != std::string::npos, *message);
}

BOOST_AUTO_TEST_CASE(file_of_another_user_is_refused) {
  // Only root can give a file away; CI runs as root.
  const struct passwd* nobody = ::getpwnam("nobody");
  if (::geteuid() != 0 || !nobody) {
    BOOST_TEST_MESSAGE("skipped: needs root and a user 'nobody'");
    return;
  }
  temp_dir dir;
  fs::path file = dir.write("theirs.secrets", "abc " + rfc_secret + "\n", 0600);
  BOOST_TEST_REQUIRE(::chown(file.c_str(), nobody->pw_uid, nobody->pw_gid) == 0);
  for (auto load : {std::function<void()>([&] { rv::load_secrets_file(file); }),
                    std::function<void()>([&] { rv::load_client_keys_file(file); })}) {
    auto message = config_error_of(load);
    BOOST_TEST_REQUIRE(message.has_value());
    BOOST_TEST(message->find("owned by nobody") != std::string::npos, *message);
    BOOST_TEST(message->find("chown root " + file.string()) != std::string::npos, *message);
    BOOST_TEST(message->find(rfc_secret) == std::string::npos, *message);
  }
  // Root's own file, and (for root) any file of root, is accepted.
  BOOST_TEST_REQUIRE(::chown(file.c_str(), 0, 0) == 0);
  BOOST_TEST(rv::load_secrets_file(file).size() == 1u);
}

BOOST_AUTO_TEST_CASE(errors_in_a_file_name_the_file) {
  temp_dir dir;
  fs::path file = dir.write("bad.secrets", "abc " + rfc_secret + "\nbroken\n", 0600);
  auto message = config_error_of([&] { rv::load_secrets_file(file); });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find(file.string() + ":2:") != std::string::npos, *message);

  auto missing = config_error_of([&] { rv::load_secrets_file(dir.path_ / "missing.secrets"); });
  BOOST_TEST_REQUIRE(missing.has_value());
  BOOST_TEST(missing->find("missing.secrets") != std::string::npos, *missing);
}

BOOST_AUTO_TEST_CASE(client_keys_files) {
  const std::string key = "c2VjcmV0LWtleS1mb3ItdGVzdHM=";  // 28 characters
  auto keys = rv::parse_client_keys("# clients\nabc " + key + "\n\ndef " + key + "x  # trailing\n");
  BOOST_TEST(keys.size() == 2u);
  BOOST_TEST(keys.at("abc") == key);
  BOOST_TEST(keys.at("def") == key + "x");
  struct bad_case {
    const char* name;
    std::string text;
    const char* expect;
  };
  const bad_case cases[] = {
      {"no key", "abc\n", "expected: UUID KEY"},
      {"extra field", "abc " + key + " more\n", "expected: UUID KEY"},
      {"short key (under 128 bits)", "abc c2VjcmV0\n", "22 to 256"},
      {"invalid UUID", "a/b " + key + "\n", "invalid UUID"},
      {"duplicate", "abc " + key + "\nabc " + key + "\n", "first on line 1"},
  };
  for (const auto& c : cases) BOOST_TEST_CONTEXT(c.name) {
      auto message = config_error_of([&] { rv::parse_client_keys(c.text, "keys"); });
      BOOST_TEST_REQUIRE(message.has_value());
      BOOST_TEST(message->find(c.expect) != std::string::npos, *message);
      BOOST_TEST(message->find("c2VjcmV0") == std::string::npos, "the key leaked into: " << *message);
    }
}

BOOST_AUTO_TEST_SUITE_END()
