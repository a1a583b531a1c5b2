// Files that appear whole: a directory held open, temp files renamed or linked into place,
// lock files.
#include "rvserver/atomic_file.hpp"

#include <sys/file.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "rvserver/random_bytes.hpp"
#include "rv/error.hpp"

namespace rvserver {

namespace fs = std::filesystem;

std::string errno_text() { return std::strerror(errno); }

bool same_file(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

std::string file_name_of(const fs::path& path) {
  auto name = path.filename().string();
  return name == "." || name == ".." ? std::string() : name;
}

namespace {

void write_all(int fd, std::string_view data, const std::string& name) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("cannot write " + name + ": " + errno_text());
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

// ----------------------------------------------------------------------------- directory

directory::directory(const fs::path& path, int at, std::optional<fs::path> shown)
    : fd_(::openat(at, path.empty() ? "." : path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
      path_(shown ? std::move(*shown) : path) {
  if (fd_.fd < 0)
    throw rv::config_error("cannot open directory " + (path_.empty() ? std::string(".") : path_.string()) + ": " +
                           errno_text());
}

std::optional<struct stat> directory::stat_of(const std::string& name) const {
  struct stat st {};
  if (::fstatat(fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return st;
  if (errno == ENOENT) return std::nullopt;
  throw std::runtime_error("cannot stat " + shown(name) + ": " + errno_text());
}

void directory::sync() const {
  if (::fsync(fd()) != 0)
    throw std::runtime_error("cannot sync directory " + (path_.empty() ? std::string(".") : path_.string()) + ": " +
                             errno_text());
}

// ----------------------------------------------------------------------------- temp_file

temp_file::temp_file(const directory& dir, const std::string& name, mode_t mode) : dir_(dir), target_(name) {
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

void temp_file::write(std::string_view data, const struct stat* owner) {
  if (owner && (owner->st_uid != ::geteuid() || owner->st_gid != ::getegid())) {
    if (::fchown(fd_.fd, owner->st_uid, owner->st_gid) != 0) {
      // Not ours to give away: the file stays ours, mode 0600.
    }
  }
  write_all(fd_.fd, data, shown());
  if (::fsync(fd_.fd) != 0) throw std::runtime_error("cannot sync " + shown() + ": " + errno_text());
}

void temp_file::rename_to_target() {
  if (::renameat(dir_.fd(), name_.c_str(), dir_.fd(), target_.c_str()) != 0)
    throw std::runtime_error("cannot rename " + shown() + " to " + dir_.shown(target_) + ": " + errno_text());
  name_.clear();
}

bool temp_file::link_to_target() {
  if (::linkat(dir_.fd(), name_.c_str(), dir_.fd(), target_.c_str(), 0) != 0) {
    if (errno == EEXIST) return false;
    throw std::runtime_error("cannot create " + dir_.shown(target_) + ": " + errno_text());
  }
  discard();  // the temp name; the file stays under the target name
  return true;
}

void temp_file::discard() {
  if (!name_.empty()) ::unlinkat(dir_.fd(), name_.c_str(), 0);
  name_.clear();
}

// ----------------------------------------------------------------------------- lock

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

}  // namespace rvserver
