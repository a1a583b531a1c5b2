// rvserver's provisioning: UUIDs, seed-compatible keys, otpauth:// URIs, edits of the secrets
// file's text that keep every other byte, and the locked, atomic file update.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "config_error_of.hpp"
#include "temp_dir.hpp"
#include "rvserver/secrets_file.hpp"
#include "rvserver/secrets_text.hpp"
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

using rv_test::config_error_of;
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

struct stat lstat_of(const fs::path& p) {
  struct stat st {};
  BOOST_TEST_REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

// The names in a directory, sorted.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The user 'nobody' when this test runs as root (CI does), else nullptr: only root can give a
// file or link away.
const struct passwd* nobody_when_root() {
  const struct passwd* nobody = ::getpwnam("nobody");
  return ::geteuid() == 0 ? nobody : nullptr;
}

// The message of the std::exception `f` throws (config_error or not), or nullopt.
template <class F>
std::optional<std::string> error_of(F f) {
  try {
    f();
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

// An exclusive flock(2) held on a file until destruction.
struct held_lock {
  int fd = -1;
  explicit held_lock(const fs::path& p) : fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(::flock(fd, LOCK_EX) == 0);
  }
  held_lock(const held_lock&) = delete;
  held_lock& operator=(const held_lock&) = delete;
  ~held_lock() { release(); }
  void release() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Whether /proc/locks shows a process waiting ("->") for a lock on inode `ino`.
bool someone_waits_for_lock_on(ino_t ino) {
  std::ifstream locks("/proc/locks");
  std::string line;
  const std::string inode = ":" + std::to_string(ino) + " ";
  while (std::getline(locks, line))
    if (line.find("->") != std::string::npos && line.find(inode) != std::string::npos) return true;
  return false;
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

BOOST_AUTO_TEST_CASE(edit_follows_a_symbolic_link_of_ours) {
  temp_dir dir;
  auto real = dir.write("real", "u0 " + key_b + "\n", 0600);
  auto link = dir.path_ / "link";
  fs::create_symlink(real, link);
  rvserver::edit_secrets_file(link, true, [](const std::string& c) { return append_line(c, "u1 " + key_a); });
  BOOST_TEST(fs::is_symlink(link));
  BOOST_TEST(read(real) == "u0 " + key_b + "\nu1 " + key_a + "\n");
  // A relative link, through a link: both ours, both followed; the lock is beside the target.
  fs::create_directory(dir.path_ / "sub");
  fs::create_symlink("../real", dir.path_ / "sub" / "rel");
  fs::create_symlink("sub/rel", dir.path_ / "chain");
  rvserver::edit_secrets_file(dir.path_ / "chain", true, [](const std::string& c) { return append_line(c, "u2 " + key_c); });
  BOOST_TEST(read(real) == "u0 " + key_b + "\nu1 " + key_a + "\nu2 " + key_c + "\n");
  BOOST_TEST(fs::exists(dir.path_ / "real.lock"));
  // A loop of links ends.
  fs::create_symlink("loop-b", dir.path_ / "loop-a");
  fs::create_symlink("loop-a", dir.path_ / "loop-b");
  auto message = error_of([&] { rvserver::edit_secrets_file(dir.path_ / "loop-a", false, [](const std::string& c) { return c; }); });
  BOOST_TEST_REQUIRE(message.has_value());
}

BOOST_AUTO_TEST_CASE(edit_refuses_a_symbolic_link_of_another_user) {
  const struct passwd* nobody = nobody_when_root();
  if (!nobody) {
    BOOST_TEST_MESSAGE("skipped: needs root and a user 'nobody'");
    return;
  }
  temp_dir dir;
  const std::string before = "u0 " + key_b + "\n";
  auto real = dir.write("real", before, 0600);
  auto link = dir.path_ / "link";
  fs::create_symlink(real, link);
  BOOST_TEST_REQUIRE(::lchown(link.c_str(), nobody->pw_uid, nobody->pw_gid) == 0);
  bool edited = false;
  auto message = config_error_of([&] {
    rvserver::edit_secrets_file(link, false, [&](const std::string& c) {
      edited = true;
      return append_line(c, "u1 " + key_a);
    });
  });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("symbolic link") != std::string::npos, *message);
  BOOST_TEST(message->find("nobody") != std::string::npos, *message);
  BOOST_TEST(!edited);
  BOOST_TEST(read(real) == before);
  BOOST_TEST(fs::is_symlink(link));
}

BOOST_AUTO_TEST_CASE(edit_as_root_keeps_the_owner_of_a_file_of_another_user) {
  const struct passwd* nobody = nobody_when_root();
  if (!nobody) {
    BOOST_TEST_MESSAGE("skipped: needs root and a user 'nobody'");
    return;
  }
  temp_dir dir;
  auto file = dir.write("secrets", "u0 " + key_b + "\n", 0600);
  BOOST_TEST_REQUIRE(::chown(file.c_str(), nobody->pw_uid, nobody->pw_gid) == 0);
  rvserver::edit_secrets_file(file, true, [](const std::string& c) { return append_line(c, "u1 " + key_a); });
  BOOST_TEST(read(file) == "u0 " + key_b + "\nu1 " + key_a + "\n");
  auto st = lstat_of(file);
  BOOST_TEST(st.st_uid == nobody->pw_uid);
  BOOST_TEST((st.st_mode & 07777) == 0600u);
}

// The edit callback runs between the read and the rename: what it does to FILE is what a
// racing process could do there.
BOOST_AUTO_TEST_CASE(edit_refuses_a_file_swapped_during_the_edit) {
  temp_dir dir;
  const std::string mine = "u0 " + key_b + "\n", theirs = "t0 " + key_c + "\n";
  auto file = dir.write("secrets", mine, 0600);
  auto other = dir.write("other", theirs, 0600);
  auto message = error_of([&] {
    rvserver::edit_secrets_file(file, true, [&](const std::string& c) {
      BOOST_TEST(c == mine);
      fs::rename(other, file);
      return append_line(c, "u1 " + key_a);
    });
  });
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("changed") != std::string::npos, *message);
  BOOST_TEST(read(file) == theirs);
  BOOST_TEST(names_in(dir.path_) == (std::vector<std::string>{"secrets", "secrets.lock"}));

  // Swapped for a symbolic link to another secrets file: that file is not touched either.
  auto target = dir.write("target", theirs, 0600);
  auto message2 = error_of([&] {
    rvserver::edit_secrets_file(file, true, [&](const std::string& c) {
      fs::remove(file);
      fs::create_symlink(target, file);
      return append_line(c, "u1 " + key_a);
    });
  });
  BOOST_TEST_REQUIRE(message2.has_value());
  BOOST_TEST(fs::is_symlink(file));
  BOOST_TEST(read(target) == theirs);
  BOOST_TEST(names_in(dir.path_) == (std::vector<std::string>{"secrets", "secrets.lock", "target"}));

  // A file that appears while `add` creates one is not replaced.
  auto fresh = dir.path_ / "fresh";
  auto message3 = error_of([&] {
    rvserver::edit_secrets_file(fresh, false, [&](const std::string& c) {
      BOOST_TEST(c.empty());
      dir.write("fresh", theirs, 0600);
      return append_line(c, "u1 " + key_a);
    });
  });
  BOOST_TEST_REQUIRE(message3.has_value());
  BOOST_TEST(read(fresh) == theirs);
  BOOST_TEST(names_in(dir.path_) ==
             (std::vector<std::string>{"fresh", "fresh.lock", "secrets", "secrets.lock", "target"}));
}

BOOST_AUTO_TEST_CASE(edit_refuses_what_is_not_a_regular_file_without_blocking) {
  temp_dir dir;
  const auto fifo = dir.path_ / "fifo";
  BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto editing = std::async(std::launch::async, [&] {
    return error_of([&] { rvserver::edit_secrets_file(fifo, false, [](const std::string& c) { return c; }); });
  });
  if (editing.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // unblocks the reader
    if (writer >= 0) ::close(writer);
    BOOST_ERROR("editing a FIFO blocked (waiting for a writer)");
  }
  auto message = editing.get();
  BOOST_TEST_REQUIRE(message.has_value());
  BOOST_TEST(message->find("not a regular file") != std::string::npos, *message);
}

// A lock file replaced while we wait for it: the lock we then get is on a file no other writer
// opens any more, so it must be taken again on what FILE.lock names now.
BOOST_AUTO_TEST_CASE(edit_takes_the_lock_again_when_the_lock_file_was_swapped) {
  temp_dir dir;
  auto file = dir.write("secrets", "u0 " + key_b + "\n", 0600);
  const auto lock_path = dir.path_ / "secrets.lock";
  held_lock old_lock(lock_path);
  const ino_t old_ino = lstat_of(lock_path).st_ino;
  auto editing = std::async(std::launch::async, [&] {
    return error_of([&] {
      rvserver::edit_secrets_file(file, true, [](const std::string& c) { return append_line(c, "u1 " + key_a); });
    });
  });
  // Bounded: until the edit waits for the old lock (or ended, which it must not).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!someone_waits_for_lock_on(old_ino) && std::chrono::steady_clock::now() < deadline &&
         editing.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready) {
  }
  BOOST_TEST_REQUIRE(someone_waits_for_lock_on(old_ino));
  // Another writer's lock file takes the name, and that writer holds it.
  auto fresh = dir.path_ / "fresh.lock";
  held_lock new_lock(fresh);
  fs::rename(fresh, lock_path);
  const ino_t new_ino = lstat_of(lock_path).st_ino;
  old_lock.release();
  // The edit must now wait for the lock that the name holds; it must not go ahead.
  deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool ended = false;
  while (!someone_waits_for_lock_on(new_ino) && std::chrono::steady_clock::now() < deadline) {
    if (editing.wait_for(std::chrono::milliseconds(5)) == std::future_status::ready) {
      ended = true;
      break;
    }
  }
  BOOST_TEST(!ended, "the edit went ahead while the lock that FILE.lock names was held");
  BOOST_TEST(read(file) == "u0 " + key_b + "\n");
  new_lock.release();
  BOOST_TEST_REQUIRE((editing.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
  auto message = editing.get();
  BOOST_TEST(!message.has_value(), message.value_or(""));
  BOOST_TEST(read(file) == "u0 " + key_b + "\nu1 " + key_a + "\n");
}

BOOST_AUTO_TEST_SUITE_END()
