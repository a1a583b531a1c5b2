// rvserver's provisioning subcommands: secrets add|list|remove|rotate, and cert.
#include "provision.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <utility>

#include <boost/program_options.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "rv/base32.hpp"
#include "rv/error.hpp"
#include "rv/protocol.hpp"
#include "rv/record_lines.hpp"
#include "rv/secrets.hpp"
#include "rv/tls.hpp"

namespace rvserver {

namespace fs = std::filesystem;
namespace po = boost::program_options;

// ----------------------------------------------------------------------------- sans-I/O

std::string format_uuid_v4(std::array<std::uint8_t, 16> b) {
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);  // variant 10xx (RFC 4122)
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(hex[b[i] >> 4]);
    out.push_back(hex[b[i] & 15]);
  }
  return out;
}

std::vector<std::uint8_t> seed_compatible_key(std::span<const std::uint8_t> random) {
  std::vector<std::uint8_t> key(random.begin(), random.end());
  for (auto& b : key) b &= 0x7f;
  return key;
}

std::string percent_encode(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string format_secret_line(std::string_view uuid, std::string_view secret_base32, unsigned step,
                               unsigned digits) {
  std::string line = std::string(uuid) + " " + std::string(secret_base32);
  if (step != 30 || digits != 6) line += " " + std::to_string(step);
  if (digits != 6) line += " " + std::to_string(digits);
  return line;
}

namespace {
void check_issuer(std::string_view issuer) {
  if (issuer.empty()) throw rv::config_error("--issuer must not be empty");
  if (issuer.find(':') != std::string_view::npos)
    throw rv::config_error("--issuer must not contain ':' (it separates issuer and account in the URI)");
}
}  // namespace

std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view secret_base32,
                        unsigned step, unsigned digits) {
  check_issuer(issuer);
  // Key Uri Format: the label is "issuer:account" with a literal colon, and the issuer
  // parameter repeats the issuer for apps that read only one of them.
  return "otpauth://totp/" + percent_encode(issuer) + ":" + percent_encode(account) +
         "?secret=" + percent_encode(secret_base32) + "&issuer=" + percent_encode(issuer) +
         "&algorithm=SHA1&digits=" + std::to_string(digits) + "&period=" + std::to_string(step);
}

namespace {

// One line of the secrets file: [begin, end) is its content without the newline (a '\r'
// before the newline is left in the text but not in `fields`), next is where the following
// line starts.
struct text_line {
  std::size_t begin = 0, end = 0, next = 0;
  // Offsets (from the start of the text) and lengths of the fields before any '#', as
  // rv::parse_secrets splits them.
  std::vector<std::pair<std::size_t, std::size_t>> fields;
};

std::vector<text_line> split_lines(std::string_view text) {
  std::vector<text_line> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    text_line l;
    l.begin = pos;
    auto newline = text.find('\n', pos);
    l.end = newline == std::string_view::npos ? text.size() : newline;
    l.next = newline == std::string_view::npos ? text.size() : newline + 1;
    std::string_view content = text.substr(l.begin, l.end - l.begin);
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    for (auto field : rv::split_fields(content.substr(0, content.find('#'))))
      l.fields.emplace_back(static_cast<std::size_t>(field.data() - text.data()), field.size());
    pos = l.next;
    lines.push_back(std::move(l));
  }
  return lines;
}

std::optional<text_line> find_uuid_line(std::string_view text, std::string_view uuid) {
  for (auto& l : split_lines(text)) {
    if (!l.fields.empty() && text.substr(l.fields[0].first, l.fields[0].second) == uuid) return l;
  }
  return std::nullopt;
}

}  // namespace

std::string append_line(std::string_view text, std::string_view line) {
  std::string out(text);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  out.append(line);
  out.push_back('\n');
  return out;
}

std::optional<std::string> remove_uuid_line(std::string_view text, std::string_view uuid) {
  auto l = find_uuid_line(text, uuid);
  if (!l) return std::nullopt;
  return std::string(text.substr(0, l->begin)) + std::string(text.substr(l->next));
}

std::optional<std::string> replace_uuid_secret(std::string_view text, std::string_view uuid,
                                               std::string_view secret_base32) {
  auto l = find_uuid_line(text, uuid);
  if (!l || l->fields.size() < 2) return std::nullopt;
  auto [at, length] = l->fields[1];
  return std::string(text.substr(0, at)) + std::string(secret_base32) + std::string(text.substr(at + length));
}

std::vector<std::string> uuids_in_order(std::string_view text) {
  std::vector<std::string> out;
  for (auto& l : split_lines(text))
    if (!l.fields.empty()) out.emplace_back(text.substr(l.fields[0].first, l.fields[0].second));
  return out;
}

// ----------------------------------------------------------------------------- files

namespace {

std::string errno_text() { return std::strerror(errno); }

void random_bytes(std::span<std::uint8_t> out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw std::runtime_error("the random number generator failed: " + rv::openssl_errors());
}

struct fd_guard {
  int fd = -1;
  fd_guard() = default;
  explicit fd_guard(int f) : fd(f) {}
  fd_guard(fd_guard&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
  fd_guard& operator=(fd_guard&& other) noexcept {
    if (this != &other) {
      if (fd >= 0) ::close(fd);
      fd = std::exchange(other.fd, -1);
    }
    return *this;
  }
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

void write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + name + ": " + errno_text());
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// "name (uid N)", or "uid N" for a uid without a name.
std::string describe_user(uid_t uid) {
  const struct passwd* pw = ::getpwuid(uid);  // single-threaded: the subcommands run alone
  return pw ? std::string(pw->pw_name) + " (uid " + std::to_string(uid) + ")" : "uid " + std::to_string(uid);
}

// A directory held open. Every name below is looked up in this directory with *at(2) calls,
// so what we read, lock, write and rename all happen in one directory, whatever its path or
// the links on the way to it name meanwhile (the directory may be another user's: see
// edit_secrets_file).
class directory {
 public:
  // Opens `path` ("" is ".") following links (the caller named it), relative to `at` when it
  // is relative; `shown` is its path in messages, `path` when not given.
  explicit directory(const fs::path& path, int at = AT_FDCWD, std::optional<fs::path> shown = std::nullopt)
      : fd_(::openat(at, path.empty() ? "." : path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
        path_(shown ? std::move(*shown) : path) {
    if (fd_.fd < 0)
      throw rv::config_error("cannot open directory " + (path_.empty() ? std::string(".") : path_.string()) + ": " +
                             errno_text());
  }
  int fd() const { return fd_.fd; }
  // The path of `name` in this directory, for messages.
  std::string shown(std::string_view name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  // What `name` is now, not following a link; nullopt when nothing is there.
  std::optional<struct stat> stat_of(const std::string& name) const {
    struct stat st {};
    if (::fstatat(fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
    if (errno == ENOENT) return std::nullopt;
    throw std::runtime_error("cannot stat " + shown(name) + ": " + errno_text());
  }
  // After a rename, the directory entry itself must reach the disk for the new file to
  // survive a crash (rename(2) is atomic, not durable).
  void sync() const {
    if (::fsync(fd()) != 0)
      throw std::runtime_error("cannot sync directory " + (path_.empty() ? std::string(".") : path_.string()) + ": " +
                               errno_text());
  }

 private:
  fd_guard fd_;
  fs::path path_;
};

// A new file "NAME.tmp.RANDOM" in a directory (O_EXCL|O_NOFOLLOW: never an existing file or
// a link someone left there), unlinked on destruction unless committed: renamed or linked to
// NAME.
class temp_file {
 public:
  temp_file(const directory& dir, const std::string& name, mode_t mode) : dir_(dir), target_(name) {
    static constexpr char hex[] = "0123456789abcdef";
    for (int attempt = 0; attempt < 8 && fd_.fd < 0; ++attempt) {
      std::array<std::uint8_t, 6> random{};
      random_bytes(random);
      name_ = name + ".tmp.";
      for (auto b : random) {
        name_.push_back(hex[b >> 4]);
        name_.push_back(hex[b & 15]);
      }
      fd_ = fd_guard(::openat(dir.fd(), name_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (fd_.fd < 0 && errno != EEXIST) break;
    }
    if (fd_.fd < 0) {
      std::string what = "cannot create a temp file beside " + dir.shown(name) + ": " + errno_text();
      name_.clear();
      throw std::runtime_error(what);
    }
    // The umask may have taken bits away; the mode is exactly `mode`.
    if (::fchmod(fd_.fd, mode) != 0) {
      std::string what = "cannot chmod " + shown() + ": " + errno_text();
      discard();  // no destructor runs for a constructor that throws
      throw std::runtime_error(what);
    }
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() { discard(); }

  // Writes `data` and syncs it. With `owner`: root editing a file that the service user owns
  // must leave it readable by that user. Best effort: a user who could read a 0600 file of
  // another user is root, so for anyone else the file stays theirs, and so does the new one.
  void write(std::string_view data, const struct stat* owner = nullptr) {
    if (owner && (owner->st_uid != ::geteuid() || owner->st_gid != ::getegid())) {
      if (::fchown(fd_.fd, owner->st_uid, owner->st_gid) != 0) {
        // Not ours to give away: the file stays ours, mode 0600.
      }
    }
    write_all(fd_.fd, data, shown());
    if (::fsync(fd_.fd) != 0) throw std::runtime_error("cannot sync " + shown() + ": " + errno_text());
  }
  // Replaces whatever the target name is (a link too: renameat(2) never follows it).
  void rename_to_target() {
    if (::renameat(dir_.fd(), name_.c_str(), dir_.fd(), target_.c_str()) != 0)
      throw std::runtime_error("cannot rename " + shown() + " to " + dir_.shown(target_) + ": " + errno_text());
    name_.clear();
  }
  // Puts the file at the target name only when nothing is there (linkat(2) fails with EEXIST),
  // so a file made meanwhile by someone else is never replaced. False when something is there.
  bool link_to_target() {
    if (::linkat(dir_.fd(), name_.c_str(), dir_.fd(), target_.c_str(), 0) != 0) {
      if (errno == EEXIST) return false;
      throw std::runtime_error("cannot create " + dir_.shown(target_) + ": " + errno_text());
    }
    discard();  // the temp name; the file stays under the target name
    return true;
  }
  void discard() {
    if (!name_.empty()) ::unlinkat(dir_.fd(), name_.c_str(), 0);
    name_.clear();
  }

 private:
  std::string shown() const { return dir_.shown(name_); }

  const directory& dir_;
  std::string target_;
  std::string name_;
  fd_guard fd_;
};

// The last component of `path`, for a file in a directory: "" for "x/", ".", "..".
std::string file_name_of(const fs::path& path) {
  auto name = path.filename().string();
  return name == "." || name == ".." ? std::string() : name;
}

// An exclusive flock(2) on NAME in `dir`, opened without following a link and without
// blocking on a FIFO. A lock file that was replaced while we waited for it protects nothing
// (the next writer locks the new one): then lock what the name holds now, a few times.
fd_guard lock_exclusively(const directory& dir, const std::string& name) {
  const std::string shown = dir.shown(name);
  for (int attempt = 0; attempt < 10; ++attempt) {
    fd_guard lock(::openat(dir.fd(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    if (lock.fd < 0) throw rv::config_error("cannot open lock file " + shown + ": " + errno_text());
    struct stat held {};
    if (::fstat(lock.fd, &held) != 0) throw std::runtime_error("cannot stat lock file " + shown + ": " + errno_text());
    if (!S_ISREG(held.st_mode)) throw rv::config_error("lock file " + shown + " is not a regular file");
    while (::flock(lock.fd, LOCK_EX) != 0)
      if (errno != EINTR) throw std::runtime_error("cannot lock " + shown + ": " + errno_text());
    auto named = dir.stat_of(name);
    if (named && same_file(held, *named)) return lock;
  }
  throw std::runtime_error("lock file " + shown +
                           " was replaced each time it was locked (is something removing it?); nothing was changed");
}

// How many symbolic links edit_secrets_file follows from FILE to the secrets file.
constexpr int max_links = 8;

}  // namespace

void edit_secrets_file(const fs::path& file, bool must_exist,
                       const std::function<std::string(const std::string& current)>& edit) {
  auto dir = std::make_unique<directory>(file.parent_path());
  std::string name = file_name_of(file);
  if (name.empty()) throw rv::config_error("secrets file " + file.string() + " names a directory, not a file");

  // Each turn looks at one name; a link we follow, or a file swapped for a link while we
  // waited for the lock, takes another turn.
  for (int turn = 0;; ++turn) {
    if (turn > max_links)
      throw rv::config_error("secrets file " + file.string() + ": too many symbolic links (or they keep changing)");
    const std::string shown = dir->shown(name);
    auto seen = dir->stat_of(name);
    if (seen && S_ISLNK(seen->st_mode)) {
      // Its owner and target come from one descriptor of the link itself, so that a link
      // swapped in meanwhile cannot lend us its target. The rule is that of the kernel's
      // protected_symlinks: follow a link of the user running this, or of root. Another
      // user's link could point at any file we may read (root's /etc/shadow, say) and have
      // its content copied into a file beside the link, in that user's directory.
      fd_guard link(::openat(dir->fd(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      struct stat ls {};
      if (link.fd < 0 || ::fstat(link.fd, &ls) != 0)
        throw rv::config_error("cannot open the symbolic link " + shown + ": " + errno_text());
      if (!S_ISLNK(ls.st_mode)) continue;  // no longer a link: look again
      if (ls.st_uid != ::geteuid() && ls.st_uid != 0)
        throw rv::config_error("secrets file " + shown + " is a symbolic link owned by " + describe_user(ls.st_uid) +
                               ": only links of " + describe_user(::geteuid()) +
                               " or root are followed; give the path of the file itself");
      std::string target(PATH_MAX, '\0');
      ssize_t n = ::readlinkat(link.fd, "", target.data(), target.size());
      if (n < 0 || static_cast<std::size_t>(n) >= target.size())
        throw rv::config_error("cannot read the symbolic link " + shown + ": " + errno_text());
      target.resize(static_cast<std::size_t>(n));
      const fs::path to(target);
      name = file_name_of(to);
      if (name.empty()) throw rv::config_error("secrets file " + shown + " is a link to a directory (" + target + ")");
      // A relative target starts in the link's directory: opened from its descriptor.
      fs::path to_dir_shown = to.is_absolute() ? to.parent_path() : (dir->path() / to.parent_path()).lexically_normal();
      dir = std::make_unique<directory>(to.parent_path(), dir->fd(), std::move(to_dir_shown));
      continue;
    }

    // Lock, then open: what we read is then what the last writer left.
    fd_guard lock = lock_exclusively(*dir, name + ".lock");
    fd_guard f(::openat(dir->fd(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (f.fd < 0 && errno == ELOOP) continue;  // became a link while we waited: look again
    const bool exists = f.fd >= 0;
    if (!exists && (errno != ENOENT || must_exist))
      throw rv::config_error("cannot open secrets file " + shown + ": " + errno_text());

    // Type, mode (with the chmod that fixes it) and syntax are checked on what we read, and
    // the new file's owner is taken from the same descriptor: content and owner always
    // belong together.
    struct stat old {};
    std::string current;
    if (exists) {
      current = rv::read_secrets_fd(f.fd, shown, old, rv::secrets_owner::any);
      rv::parse_secrets(current, shown);
    }
    std::string updated = edit(current);
    rv::parse_secrets(updated, shown);  // never leave a file the server would refuse

    temp_file tmp(*dir, name, 0600);
    tmp.write(updated, exists ? &old : nullptr);
    // Writers hold the lock, so the name still holds what we read unless someone who does
    // not take it (the directory's owner, say) changed it: then keep their change and say so.
    const std::string changed = "secrets file " + shown +
                                " changed while it was being edited (it is not the file that was read); nothing was "
                                "written, try again";
    if (exists) {
      auto now = dir->stat_of(name);
      if (!now || !same_file(*now, old)) throw std::runtime_error(changed);
      tmp.rename_to_target();
    } else if (!tmp.link_to_target()) {
      throw std::runtime_error(changed);
    }
    dir->sync();
    return;
  }
}

// ----------------------------------------------------------------------------- subcommands

namespace {

constexpr unsigned default_step = 30;
constexpr unsigned default_digits = 6;
constexpr std::string_view default_port = "8899";

std::string new_uuid() {
  std::array<std::uint8_t, 16> b{};
  random_bytes(b);
  return format_uuid_v4(b);
}

std::string new_secret(bool seed_compatible) {
  if (seed_compatible) {
    std::array<std::uint8_t, 23> b{};  // 23 x 7 bits = 161 bits of randomness
    random_bytes(b);
    return rv::base32_encode(seed_compatible_key(b));
  }
  std::array<std::uint8_t, 20> b{};  // 160 bits, RFC 4226 §4's recommended length
  random_bytes(b);
  return rv::base32_encode(b);
}

struct usage_text {
  std::string_view command;   // "secrets add"
  std::string_view synopsis;  // usage lines and what it does
  std::string_view epilogue;  // output, examples
};

// Parses argv (argv[0] is the last subcommand word). Prints --help and returns false.
bool parse(int argc, char** argv, po::options_description visible, const po::options_description& hidden,
           const po::positional_options_description& positional, const usage_text& text,
           po::variables_map& vm) {
  visible.add_options()("help,h", "print this help and exit");
  po::options_description all;
  all.add(visible).add(hidden);
  const std::string try_help = " (try 'rvserver " + std::string(text.command) + " --help')";
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "Usage:\n" << text.synopsis << "\n" << visible << "\n" << text.epilogue;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw rv::config_error(std::string(e.what()) + try_help);
  }
  return true;
}

std::string required_string(const po::variables_map& vm, const char* name, std::string_view command) {
  if (!vm.count(name))
    throw rv::config_error(std::string("--") + name + " is required (try 'rvserver " + std::string(command) +
                           " --help')");
  return vm[name].as<std::string>();
}

std::string uuid_argument(const po::variables_map& vm, std::string_view command) {
  if (!vm.count("uuid"))
    throw rv::config_error("a UUID is required (try 'rvserver " + std::string(command) + " --help')");
  auto uuid = vm["uuid"].as<std::string>();
  if (!rv::valid_uuid(uuid))
    throw rv::config_error("invalid UUID '" + uuid + "' (1..128 of A-Z a-z 0-9 . _ ~ -)");
  return uuid;
}

void add_secrets_option(po::options_description& desc) {
  desc.add_options()("secrets", po::value<std::string>()->value_name("FILE"),
                     "the secrets file of rvserver (required)");
}

// What `secrets add` and `secrets rotate` share: how the new key is made and handed over.
void add_new_secret_options(po::options_description& desc) {
  desc.add_options()
      ("seed-compatible", "a key a node-rendezvous seed server also accepts (every byte below 0x80)")
      ("issuer", po::value<std::string>()->value_name("NAME")->default_value("rendezvous"),
       "issuer shown by authenticator apps (in the otpauth:// URI)")
      ("out", po::value<std::string>()->value_name("FILE"),
       "write the hidden machine's secrets file to FILE (new, mode 0600) instead of stdout, which then shows "
       "only the UUID")
      ("force", "with --out: replace FILE when it exists");
}

// `--out FILE`: the hidden machine's secrets file, written by us with mode 0600 whatever the
// umask (a shell's `> FILE` gets the umask's mode). It appears whole: a temp file beside it,
// linked into place, so that an existing FILE (or a link there) is never written; with
// --force renamed over it instead, which replaces a link rather than writing through it.
// Made before the secrets file changes, so that a bad --out fails before a secret exists.
class identity_file {
 public:
  identity_file(const fs::path& path, bool force, const fs::path& secrets_file)
      : dir_(path.parent_path()), name_(file_name_of(path)), force_(force) {
    if (name_.empty()) throw rv::config_error("--out " + path.string() + " names a directory, not a file");
    if (auto st = dir_.stat_of(name_)) {
      if (!force_) throw rv::config_error(shown() + " exists (give --force to replace it)");
      if (S_ISDIR(st->st_mode)) throw rv::config_error("--out " + shown() + " is a directory");
      struct stat out {}, secrets {};
      if (::stat(path.c_str(), &out) == 0 && ::stat(secrets_file.c_str(), &secrets) == 0 && same_file(out, secrets))
        throw rv::config_error("--out " + shown() + " is the secrets file itself");
    }
    tmp_.emplace(dir_, name_, 0600);
  }
  std::string shown() const { return dir_.shown(name_); }
  void commit(std::string_view text) {
    tmp_->write(text);
    if (force_)
      tmp_->rename_to_target();
    else if (!tmp_->link_to_target())
      throw std::runtime_error(shown() + " appeared while the secret was being made");
    dir_.sync();
  }

 private:
  directory dir_;
  std::string name_;
  bool force_;
  std::optional<temp_file> tmp_;  // after dir_, which it refers to
};

// --out and --force, checked and prepared before the secrets file changes.
void prepare_out(const po::variables_map& vm, const fs::path& secrets_file, std::optional<identity_file>& out) {
  if (vm.count("out"))
    out.emplace(vm["out"].as<std::string>(), vm.count("force") > 0, secrets_file);
  else if (vm.count("force"))
    throw rv::config_error("--force goes with --out FILE (it lets FILE be replaced)");
}

void add_uuid_positional(po::options_description& hidden, po::positional_options_description& positional) {
  hidden.add_options()("uuid", po::value<std::string>(), "UUID");
  positional.add("uuid", 1);
}

constexpr std::string_view sighup_hint =
    "a running rvserver picks up the change on SIGHUP (kill -HUP PID)";

// What the hidden machine needs, as a secrets file for it (the URI is a comment): written to
// `out` when given (stdout then shows only the UUID, which is no secret), else on stdout. The
// secret goes nowhere else.
void hand_over_identity(std::string_view uuid, std::string_view secret, unsigned step, unsigned digits,
                        std::string_view issuer, std::optional<identity_file>& out) {
  const std::string text =
      format_secret_line(uuid, secret, step, digits) + "\n# " + otpauth_uri(issuer, uuid, secret, step, digits) + "\n";
  auto lost = [&](const std::string& why) {
    return std::runtime_error(why + ": the secrets file has a secret for " + std::string(uuid) +
                              " that was not handed over; 'rvserver secrets rotate " + std::string(uuid) +
                              "' makes a new one");
  };
  if (out) {
    try {
      out->commit(text);
    } catch (const std::exception& e) {
      throw lost(e.what());
    }
    std::cout << uuid << "\n" << std::flush;
    std::cerr << "wrote the hidden machine's secrets file " << out->shown() << " (mode 0600; for rvhidden --uuid "
              << uuid << " --secrets FILE): copy it there out of band and keep no other copy\n";
    return;
  }
  std::cout << text << std::flush;
  if (!std::cout) throw lost("cannot write to stdout");
  std::cerr << "stdout is the hidden machine's secrets file (for rvhidden --uuid " << uuid
            << " --secrets FILE, mode 0600): copy it there out of band and keep no other copy\n";
}

constexpr std::string_view secrets_synopsis =
    "  rvserver secrets add [UUID] --secrets FILE [--step S] [--digits D] [--seed-compatible]\n"
    "                       [--issuer NAME] [--out FILE [--force]]\n"
    "  rvserver secrets list --secrets FILE\n"
    "  rvserver secrets remove UUID --secrets FILE\n"
    "  rvserver secrets rotate UUID --secrets FILE [--seed-compatible] [--issuer NAME]\n"
    "                       [--out FILE [--force]]\n"
    "\n"
    "Edits rvserver's secrets file: one line per UUID, 'UUID BASE32SECRET [STEP [DIGITS]]',\n"
    "mode 0600. Each change is atomic (a lock against other writers, a temp file renamed over\n"
    "the file) and keeps the other lines and comments as they were. A running rvserver picks\n"
    "changes up on SIGHUP. 'rvserver secrets ACTION --help' describes each action.\n";

int secrets_add(int argc, char** argv) {
  constexpr std::string_view command = "secrets add";
  po::options_description desc("rvserver secrets add options");
  add_secrets_option(desc);
  desc.add_options()
      ("step", po::value<unsigned>()->value_name("SECONDS")->default_value(default_step),
       "TOTP time step, 1..3600")
      ("digits", po::value<unsigned>()->value_name("N")->default_value(default_digits), "token digits, 6..8");
  add_new_secret_options(desc);
  po::options_description hidden;
  po::positional_options_description positional;
  add_uuid_positional(hidden, positional);
  usage_text text{command,
                  "  rvserver secrets add [UUID] --secrets FILE [--step S] [--digits D] [--seed-compatible]\n"
                  "                       [--issuer NAME] [--out FILE [--force]]\n"
                  "\n"
                  "Adds a UUID (a new random UUID v4 when none is given) with a new random 160-bit secret\n"
                  "to FILE, creating FILE (mode 0600) when it does not exist, and hands over what the\n"
                  "hidden machine needs: on stdout, or in the file that --out names.\n",
                  "Output: the hidden machine's secrets file, two lines:\n"
                  "  UUID BASE32SECRET [STEP [DIGITS]]\n"
                  "  # otpauth://totp/ISSUER:UUID?secret=...&issuer=...&algorithm=SHA1&digits=D&period=S\n"
                  "on stdout; with --out, in that file (mode 0600 whatever the umask) and stdout shows\n"
                  "only the UUID. A running rvserver picks up the new UUID on SIGHUP.\n"
                  "\n"
                  "Examples:\n"
                  "  rvserver secrets add --secrets /etc/rendezvous/secrets --out hidden-secrets\n"
                  "  rvserver secrets add laptop-7 --secrets /etc/rendezvous/secrets --seed-compatible\n"
                  "\n"
                  "Exit status: 0 added; 1 I/O failure, or FILE changed during the edit; 2 bad usage,\n"
                  "a bad secrets file, a symbolic link of another user at FILE, the UUID is already\n"
                  "there, or the --out file exists.\n"};
  po::variables_map vm;
  if (!parse(argc, argv, desc, hidden, positional, text, vm)) return rv::exit_code::ok;
  const fs::path file = required_string(vm, "secrets", command);
  const unsigned step = vm["step"].as<unsigned>();
  const unsigned digits = vm["digits"].as<unsigned>();
  if (step < 1 || step > 3600) throw rv::config_error("--step must be in 1..3600 seconds");
  if (digits < 6 || digits > 8) throw rv::config_error("--digits must be 6, 7 or 8");
  const std::string issuer = vm["issuer"].as<std::string>();
  check_issuer(issuer);  // before the file changes
  const std::string uuid = vm.count("uuid") ? uuid_argument(vm, command) : new_uuid();
  std::optional<identity_file> out;
  prepare_out(vm, file, out);
  const std::string secret = new_secret(vm.count("seed-compatible") > 0);

  edit_secrets_file(file, false, [&](const std::string& current) {
    auto table = rv::parse_secrets(current, file.string());
    if (table.count(uuid))
      throw rv::config_error(uuid + " is already in " + file.string() +
                             " (for a new secret: rvserver secrets rotate " + uuid + " --secrets " +
                             file.string() + ")");
    return append_line(current, format_secret_line(uuid, secret, step, digits));
  });
  hand_over_identity(uuid, secret, step, digits, issuer, out);
  std::cerr << "added " << uuid << " to " << file.string() << "; " << sighup_hint << "\n";
  return rv::exit_code::ok;
}

int secrets_list(int argc, char** argv) {
  constexpr std::string_view command = "secrets list";
  po::options_description desc("rvserver secrets list options");
  add_secrets_option(desc);
  usage_text text{command,
                  "  rvserver secrets list --secrets FILE\n"
                  "\n"
                  "Lists the UUIDs of FILE in file order, one per line, with their time step and digits:\n"
                  "  UUID step=30 digits=6\n"
                  "Never the secrets.\n",
                  "Exit status: 0 listed (even none); 2 bad usage or a bad secrets file.\n"};
  po::variables_map vm;
  if (!parse(argc, argv, desc, {}, {}, text, vm)) return rv::exit_code::ok;
  const fs::path file = required_string(vm, "secrets", command);
  // No lock: rename-based writers never leave a partial file behind. Any owner, as for the
  // edits: root may list the service user's file.
  const auto content = rv::read_secrets_file(file, rv::secrets_owner::any);
  const auto table = rv::parse_secrets(content, file.string());
  for (const auto& uuid : uuids_in_order(content)) {
    const auto& entry = table.find(uuid)->second;  // parse_secrets accepted every line
    std::cout << uuid << " step=" << entry.params.step << " digits=" << entry.params.digits << "\n";
  }
  if (table.empty()) std::cerr << "no UUIDs in " << file.string() << "\n";
  return rv::exit_code::ok;
}

int secrets_remove(int argc, char** argv) {
  constexpr std::string_view command = "secrets remove";
  po::options_description desc("rvserver secrets remove options");
  add_secrets_option(desc);
  po::options_description hidden;
  po::positional_options_description positional;
  add_uuid_positional(hidden, positional);
  usage_text text{command,
                  "  rvserver secrets remove UUID --secrets FILE\n"
                  "\n"
                  "Removes the UUID's line from FILE; other lines and comments stay as they were.\n",
                  "A running rvserver forgets the UUID on SIGHUP.\n"
                  "\n"
                  "Exit status: 0 removed; 1 I/O failure, or FILE changed during the edit; 2 bad usage,\n"
                  "a bad secrets file, a symbolic link of another user at FILE, or the UUID is not in it.\n"};
  po::variables_map vm;
  if (!parse(argc, argv, desc, hidden, positional, text, vm)) return rv::exit_code::ok;
  const fs::path file = required_string(vm, "secrets", command);
  const std::string uuid = uuid_argument(vm, command);
  edit_secrets_file(file, true, [&](const std::string& current) {
    auto updated = remove_uuid_line(current, uuid);
    if (!updated) throw rv::config_error(uuid + " is not in " + file.string());
    return *updated;
  });
  std::cerr << "removed " << uuid << " from " << file.string() << "; " << sighup_hint << "\n";
  return rv::exit_code::ok;
}

int secrets_rotate(int argc, char** argv) {
  constexpr std::string_view command = "secrets rotate";
  po::options_description desc("rvserver secrets rotate options");
  add_secrets_option(desc);
  add_new_secret_options(desc);
  po::options_description hidden;
  po::positional_options_description positional;
  add_uuid_positional(hidden, positional);
  usage_text text{command,
                  "  rvserver secrets rotate UUID --secrets FILE [--seed-compatible] [--issuer NAME]\n"
                  "                       [--out FILE [--force]]\n"
                  "\n"
                  "Gives the UUID a new random secret in FILE (same step and digits; the rest of its line\n"
                  "is kept) and hands over the hidden machine's new secrets file, as 'secrets add' does:\n"
                  "on stdout, or in the file that --out names.\n",
                  "The old secret stops working once a running rvserver gets SIGHUP: give the hidden\n"
                  "machine its new line first, or expect it to be refused (401) until it has it.\n"
                  "\n"
                  "Exit status: 0 rotated; 1 I/O failure, or FILE changed during the edit; 2 bad usage,\n"
                  "a bad secrets file, a symbolic link of another user at FILE, the UUID is not in it,\n"
                  "or the --out file exists.\n"};
  po::variables_map vm;
  if (!parse(argc, argv, desc, hidden, positional, text, vm)) return rv::exit_code::ok;
  const fs::path file = required_string(vm, "secrets", command);
  const std::string uuid = uuid_argument(vm, command);
  const std::string issuer = vm["issuer"].as<std::string>();
  check_issuer(issuer);  // before the file changes
  std::optional<identity_file> out;
  prepare_out(vm, file, out);
  const std::string secret = new_secret(vm.count("seed-compatible") > 0);
  unsigned step = default_step, digits = default_digits;
  edit_secrets_file(file, true, [&](const std::string& current) {
    auto table = rv::parse_secrets(current, file.string());
    auto it = table.find(uuid);
    auto updated = replace_uuid_secret(current, uuid, secret);
    if (it == table.end() || !updated) throw rv::config_error(uuid + " is not in " + file.string());
    step = it->second.params.step;
    digits = it->second.params.digits;
    return *updated;
  });
  hand_over_identity(uuid, secret, step, digits, issuer, out);
  std::cerr << "new secret for " << uuid << " in " << file.string() << "; " << sighup_hint << "\n";
  return rv::exit_code::ok;
}

int secrets(int argc, char** argv) {
  // argv[0] is "secrets".
  std::string_view action = argc > 1 ? argv[1] : "";
  if (action == "add") return secrets_add(argc - 1, argv + 1);
  if (action == "list") return secrets_list(argc - 1, argv + 1);
  if (action == "remove") return secrets_remove(argc - 1, argv + 1);
  if (action == "rotate") return secrets_rotate(argc - 1, argv + 1);
  if (action == "--help" || action == "-h" || action == "help") {
    std::cout << "Usage:\n" << secrets_synopsis;
    return rv::exit_code::ok;
  }
  if (action.empty())
    throw rv::config_error("'rvserver secrets' needs an action: add, list, remove or rotate (try 'rvserver secrets --help')");
  throw rv::config_error("unknown secrets action '" + std::string(action) +
                         "': expected add, list, remove or rotate (try 'rvserver secrets --help')");
}

// ----------------------------------------------------------------------------- cert

struct openssl_deleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};
template <class T>
using ossl_ptr = std::unique_ptr<T, openssl_deleter>;

[[noreturn]] void openssl_failure(const std::string& what) {
  throw std::runtime_error("cannot " + what + ": " + rv::openssl_errors());
}

// An IP address (the literal form, "[...]" allowed around IPv6) or a DNS name (letters,
// digits, '-', '.', a leading "*." wildcard). Anything else could smuggle more entries into
// the subjectAltName value.
struct cert_name {
  std::string text;  // as it goes into the certificate
  bool ip = false;
};

cert_name classify_name(std::string name) {
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, name.c_str(), buf) == 1 || ::inet_pton(AF_INET6, name.c_str(), buf) == 1)
    return {name, true};
  std::string_view rest = name;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  bool ok = !rest.empty() && rest.size() <= 253 && rest.front() != '.' && rest.front() != '-' && rest.back() != '.';
  for (char c : rest)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.');
  if (!ok)
    throw rv::config_error("--name '" + name + "' is neither a host name (letters, digits, '-', '.') nor an IP address");
  return {name, false};
}

std::string pem_of(const std::function<int(BIO*)>& write, const char* what) {
  ossl_ptr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) openssl_failure(std::string("encode the ") + what);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string host_port(const cert_name& name) {
  bool v6 = name.ip && name.text.find(':') != std::string::npos;
  return (v6 ? "[" + name.text + "]" : name.text) + ":" + std::string(default_port);
}

int cert(int argc, char** argv) {
  constexpr std::string_view command = "cert";
  po::options_description desc("rvserver cert options");
  desc.add_options()
      ("name", po::value<std::vector<std::string>>()->value_name("HOST"),
       "a name clients dial: a DNS name or an IP address; repeatable; the first is also the CN (required)")
      ("out", po::value<std::string>()->value_name("DIR")->default_value("."),
       "where to write cert.pem and key.pem (created when missing)")
      ("days", po::value<unsigned>()->value_name("N")->default_value(3650), "validity in days")
      ("force", "replace an existing cert.pem and key.pem");
  usage_text text{command,
                  "  rvserver cert --name HOST [--name HOST2]... [--out DIR] [--days N] [--force]\n"
                  "\n"
                  "Makes a self-signed certificate (EC P-256, SHA-256) for a first deployment: DIR/cert.pem\n"
                  "(mode 0644) and its private key DIR/key.pem (mode 0600), and prints the SPKI pin\n"
                  "(sha256//BASE64) that rvhidden and rvconnect take to trust it.\n",
                  "The certificate names each HOST as a subjectAltName (DNS, or IP for an address), has\n"
                  "the first as its common name, and is a leaf (CA:FALSE, serverAuth). Clients trust it\n"
                  "by its pin, or by a copy of cert.pem as their CA file (which also checks the name).\n"
                  "\n"
                  "Examples:\n"
                  "  rvserver cert --name rv.example.com --out /etc/rendezvous\n"
                  "  rvserver cert --name rv.example.com --name 203.0.113.7 --days 825\n"
                  "\n"
                  "Exit status: 0 written; 1 failure; 2 bad usage, or a file exists (without --force).\n"};
  po::variables_map vm;
  if (!parse(argc, argv, desc, {}, {}, text, vm)) return rv::exit_code::ok;
  if (!vm.count("name")) throw rv::config_error("--name is required (try 'rvserver cert --help')");
  std::vector<cert_name> names;
  for (const auto& n : vm["name"].as<std::vector<std::string>>()) names.push_back(classify_name(n));
  if (names.front().text.size() > 64)
    throw rv::config_error("the first --name is the common name, at most 64 characters: give a shorter one first");
  const unsigned days = vm["days"].as<unsigned>();
  if (days < 1 || days > 36500) throw rv::config_error("--days must be in 1..36500");
  const bool force = vm.count("force") > 0;
  const fs::path dir = vm["out"].as<std::string>();
  const fs::path cert_path = dir / "cert.pem", key_path = dir / "key.pem";
  if (!force) {
    for (const auto& p : {cert_path, key_path})
      if (std::error_code ec; fs::exists(fs::symlink_status(p, ec)))
        throw rv::config_error(p.string() + " exists (give --force to replace it)");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw rv::config_error("cannot create directory " + dir.string() + ": " + ec.message());

  ossl_ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) openssl_failure("generate an EC P-256 key");
  ossl_ptr<X509> x(X509_new());
  if (!x || X509_set_version(x.get(), X509_VERSION_3) != 1) openssl_failure("make a certificate");
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 159 random bits.
  std::array<std::uint8_t, 20> serial{};
  random_bytes(serial);
  serial[0] = static_cast<std::uint8_t>((serial[0] & 0x7f) | 0x01);
  ossl_ptr<BIGNUM> bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x.get()))) openssl_failure("set the serial");
  // Valid from an hour ago: a client whose clock is a little behind still accepts it.
  if (!X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) ||
      !X509_time_adj_ex(X509_getm_notAfter(x.get()), static_cast<int>(days), 0, nullptr))
    openssl_failure("set the validity");
  if (X509_set_pubkey(x.get(), key.get()) != 1) openssl_failure("set the public key");
  X509_NAME* subject = X509_get_subject_name(x.get());
  if (X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(names.front().text.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(x.get(), subject) != 1)
    openssl_failure("set the name");

  std::string san;
  for (const auto& n : names) san += (san.empty() ? "" : ",") + std::string(n.ip ? "IP:" : "DNS:") + n.text;
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  // The subject key identifier first: the authority key identifier of a self-signed
  // certificate is read from it.
  const std::pair<int, std::string> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_alt_name, san},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  for (const auto& [nid, value] : extensions) {
    ossl_ptr<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(x.get(), ext.get(), -1) != 1)
      openssl_failure(std::string("add the ") + OBJ_nid2sn(nid) + " extension");
  }
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) openssl_failure("sign the certificate");

  const std::string cert_pem = pem_of([&](BIO* b) { return PEM_write_bio_X509(b, x.get()); }, "certificate");
  const std::string key_pem = pem_of(
      [&](BIO* b) { return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); },
      "private key");
  // Both temp files first, then both into place: a failure leaves neither half of a pair.
  const directory out(dir);
  temp_file key_tmp(out, "key.pem", 0600);
  key_tmp.write(key_pem);
  temp_file cert_tmp(out, "cert.pem", 0644);
  cert_tmp.write(cert_pem);
  auto exists = [&](const char* name) { return rv::config_error(out.shown(name) + " exists (give --force to replace it)"); };
  if (force) {
    key_tmp.rename_to_target();
    cert_tmp.rename_to_target();
  } else {
    if (!key_tmp.link_to_target()) throw exists("key.pem");
    if (!cert_tmp.link_to_target()) {
      ::unlinkat(out.fd(), "key.pem", 0);
      throw exists("cert.pem");
    }
  }
  out.sync();

  const std::string pin = rv::to_string(rv::spki_sha256(x.get()));
  std::string listed;
  for (const auto& n : names) listed += (listed.empty() ? "" : ", ") + n.text;
  const auto abs_cert = fs::absolute(cert_path).lexically_normal().string();
  const auto abs_key = fs::absolute(key_path).lexically_normal().string();
  const auto server = host_port(names.front());
  std::cout << "wrote " << abs_cert << " (self-signed, EC P-256, for " << listed << "; valid " << days
            << " days)\n"
            << "wrote " << abs_key << " (its private key, mode 0600: it stays on this host)\n"
            << "pin " << pin << "\n"
            << "\n"
            << "rvserver  --cert " << abs_cert << " --key " << abs_key << " --secrets FILE ...\n"
            << "rvhidden  --server " << server << " --pin '" << pin << "' --uuid UUID --secrets FILE --forward HOST:PORT\n"
            << "rvconnect --server " << server << " --pin '" << pin << "' UUID\n"
            << "\n"
            << "The pin is not secret, but give it to the clients over a channel you trust. Instead of\n"
            << "--pin they may take a copy of cert.pem as --ca-file, which also checks that --server (or\n"
            << "--server-name) is one of the names above. A running rvserver loads a new certificate\n"
            << "on SIGHUP (kill -HUP PID).\n";
  return rv::exit_code::ok;
}

}  // namespace

std::optional<int> run_subcommand(int argc, char** argv) {
  if (argc < 2) return std::nullopt;
  std::string_view word = argv[1];
  if (word == "secrets") return secrets(argc - 1, argv + 1);
  if (word == "cert") return cert(argc - 1, argv + 1);
  return std::nullopt;
}

}  // namespace rvserver
