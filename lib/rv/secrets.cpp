// The per-UUID TOTP secrets file shared by rvserver and rvhidden.
#include "rv/secrets.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <vector>

#include "rv/base32.hpp"
#include "rv/error.hpp"
#include "rv/protocol.hpp"
#include "rv/record_lines.hpp"

namespace rv {
namespace {

bool parse_unsigned(std::string_view text, unsigned low, unsigned high, unsigned& out) {
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size() || value < low || value > high) return false;
  out = value;
  return true;
}

// The first field of the secrets and client keys files: a valid UUID, once per file.
class uuid_column {
 public:
  template <class Fail>
  void take(std::string_view uuid, std::size_t line, Fail fail) {
    if (!valid_uuid(uuid)) fail("invalid UUID (1..128 of A-Z a-z 0-9 . _ ~ -)");
    if (auto it = first_line_.find(uuid); it != first_line_.end())
      fail("duplicate UUID (first on line " + std::to_string(it->second) + ")");
    first_line_.emplace(std::string(uuid), line);
  }

 private:
  std::map<std::string, std::size_t, std::less<>> first_line_;
};

}  // namespace

secrets_table parse_secrets(std::string_view text, std::string_view origin) {
  secrets_table table;
  uuid_column uuids;
  for_each_record(text, [&](const record_line& record) {
    const auto& fields = record.fields;
    auto fail = [&](std::string_view what) { fail_at(origin, record.number, what); };
    if (fields.size() < 2) fail("expected: UUID BASE32SECRET [STEP [DIGITS]]");
    if (fields.size() > 4) fail("extra fields after DIGITS");
    uuids.take(fields[0], record.number, fail);
    secret_entry entry;
    entry.uuid = fields[0];
    auto key = base32_decode(fields[1]);
    if (!key) fail("secret is not valid base32");
    if (key->size() < 20) fail("secret is shorter than 160 bits");
    // HMAC-SHA1 hashes a key over its 64-byte block first: such a UUID would
    // cost measurably more to check than the 20-byte decoy an unknown one is
    // checked against, and tell that it exists.
    if (key->size() > 64) fail("secret is longer than 512 bits");
    entry.params.key = std::move(*key);
    if (fields.size() > 2 && !parse_unsigned(fields[2], 1, 3600, entry.params.step))
      fail("STEP must be a number of seconds in 1..3600");
    if (fields.size() > 3 && !parse_unsigned(fields[3], 6, 8, entry.params.digits))
      fail("DIGITS must be 6, 7 or 8");
    std::string uuid = entry.uuid;
    table.emplace(std::move(uuid), std::move(entry));
  });
  return table;
}

namespace {

// The name of user `uid`, if it has one.
std::optional<std::string> name_of(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buffer(16384);
  if (::getpwuid_r(uid, &pw, buffer.data(), buffer.size(), &found) == 0 && found) return std::string(found->pw_name);
  return std::nullopt;
}

// "name (uid N)", or "uid N" for a uid without a name.
std::string describe_user(uid_t uid) {
  auto name = name_of(uid);
  return name ? *name + " (uid " + std::to_string(uid) + ")" : "uid " + std::to_string(uid);
}

}  // namespace

std::string read_secrets_fd(int fd, std::string_view name_view, struct stat& st, secrets_owner owners,
                            std::string_view kind_view) {
  const std::string name(name_view), kind(kind_view);
  auto io_error = [&](const char* what) {
    return config_error("cannot " + std::string(what) + " " + kind + " " + name + ": " + std::strerror(errno));
  };
  // Every check is on the descriptor we read, not on whatever the name pointed to a
  // moment earlier.
  if (::fstat(fd, &st) != 0) throw io_error("stat");
  if (!S_ISREG(st.st_mode)) throw config_error(kind + " " + name + " is not a regular file");
  const uid_t self = ::geteuid();
  if (owners == secrets_owner::effective_user_or_root && st.st_uid != self && st.st_uid != 0) {
    throw config_error(kind + " " + name + " is owned by " + describe_user(st.st_uid) + ", not by " +
                       describe_user(self) + " (who runs this) or root, and its owner could change it; run: chown " +
                       name_of(self).value_or(std::to_string(self)) + " " + name);
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    throw config_error(kind + " " + name + " is readable by group or others (mode " + mode +
                       "); run: chmod 600 " + name);
  }
  std::string text;
  char buffer[4096];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw io_error("read");
    if (n == 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

std::string read_secrets_file(const std::filesystem::path& path, secrets_owner owners, std::string_view kind) {
  const std::string name = path.string();
  // O_NONBLOCK: opening a FIFO would otherwise wait for a writer (forever, on
  // rvserver's SIGHUP). It changes nothing for the regular file we then insist on.
  int fd = ::open(name.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) throw config_error("cannot open " + std::string(kind) + " " + name + ": " + std::strerror(errno));
  struct closer {
    int fd_;
    ~closer() { ::close(fd_); }
  } close_fd{fd};
  struct stat st {};
  return read_secrets_fd(fd, name, st, owners, kind);
}

secrets_table load_secrets_file(const std::filesystem::path& path) {
  return parse_secrets(read_secrets_file(path), path.string());
}

client_keys parse_client_keys(std::string_view text, std::string_view origin) {
  client_keys keys;
  uuid_column uuids;
  for_each_record(text, [&](const record_line& record) {
    const auto& fields = record.fields;
    auto fail = [&](std::string_view what) { fail_at(origin, record.number, what); };
    if (fields.size() != 2) fail("expected: UUID KEY");
    uuids.take(fields[0], record.number, fail);
    const auto key = fields[1];
    // 22 base64 characters carry 128 bits: shorter keys could be guessed.
    if (key.size() < 22 || key.size() > 256) fail("KEY must be 22 to 256 characters");
    if (!std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 0x7f; }))
      fail("KEY must be visible ASCII characters");
    keys.emplace(std::string(fields[0]), std::string(key));
  });
  return keys;
}

client_keys load_client_keys_file(const std::filesystem::path& path) {
  return parse_client_keys(read_secrets_file(path, secrets_owner::effective_user_or_root, "client keys file"),
                           path.string());
}

}  // namespace rv
