// Files that appear whole, every name looked up relative to one held descriptor of their
// directory: a temp file renamed or linked into place, and an exclusive lock file. The
// secrets-file edits, `rvserver secrets ... --out` and `rvserver cert` write through these.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace rvserver {

// strerror(errno), for messages about a failed call.
std::string errno_text();

// Owns a file descriptor (-1 for none) and closes it.
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

// The same inode (st_dev, st_ino).
bool same_file(const struct stat& a, const struct stat& b);

// The last component of `path`, for a file in a directory: "" for "x/", ".", "..".
std::string file_name_of(const std::filesystem::path& path);

// A directory held open. Every name below is looked up in this directory with *at(2) calls,
// so what we read, lock, write and rename all happen in one directory, whatever its path or
// the links on the way to it name meanwhile (the directory may be another user's: see
// edit_secrets_file in secrets_file.hpp).
class directory {
 public:
  // Opens `path` ("" is ".") following links (the caller named it), relative to `at` when it
  // is relative; `shown` is its path in messages, `path` when not given. Throws
  // rv::config_error when it cannot be opened.
  explicit directory(const std::filesystem::path& path, int at = AT_FDCWD,
                     std::optional<std::filesystem::path> shown = std::nullopt);
  int fd() const { return fd_.fd; }
  // The path of `name` in this directory, for messages.
  std::string shown(std::string_view name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }
  // What `name` is now, not following a link; nullopt when nothing is there.
  std::optional<struct stat> stat_of(const std::string& name) const;
  // After a rename, the directory entry itself must reach the disk for the new file to
  // survive a crash (rename(2) is atomic, not durable).
  void sync() const;

 private:
  fd_guard fd_;
  std::filesystem::path path_;
};

// A new file "NAME.tmp.RANDOM" in a directory (O_EXCL|O_NOFOLLOW: never an existing file or
// a link someone left there), unlinked on destruction unless committed: renamed or linked to
// NAME. The directory must outlive it. Failures throw std::runtime_error.
class temp_file {
 public:
  temp_file(const directory& dir, const std::string& name, mode_t mode);
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() { discard(); }

  // Writes `data` and syncs it. With `owner`: root editing a file that the service user owns
  // must leave it readable by that user. Best effort: a user who could read a 0600 file of
  // another user is root, so for anyone else the file stays theirs, and so does the new one.
  void write(std::string_view data, const struct stat* owner = nullptr);
  // Replaces whatever the target name is (a link too: renameat(2) never follows it).
  void rename_to_target();
  // Puts the file at the target name only when nothing is there (linkat(2) fails with EEXIST),
  // so a file made meanwhile by someone else is never replaced. False when something is there.
  bool link_to_target();
  void discard();

 private:
  std::string shown() const { return dir_.shown(name_); }

  const directory& dir_;
  std::string target_;
  std::string name_;
  fd_guard fd_;
};

// An exclusive flock(2) on NAME in `dir`, opened without following a link and without
// blocking on a FIFO (created mode 0600 when missing). A lock file that was replaced while we
// waited for it protects nothing (the next writer locks the new one): then lock what the name
// holds now, at most 10 times, then throw std::runtime_error. Throws rv::config_error when
// NAME cannot be opened or is not a regular file. The lock lasts as long as the descriptor.
fd_guard lock_exclusively(const directory& dir, const std::string& name);

}  // namespace rvserver
