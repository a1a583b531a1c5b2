// The locked, atomic edit of rvserver's secrets file: links followed by the kernel's
// protected_symlinks rule, the content and its owner read from one descriptor, the new file
// renamed over the inode that was read.
#include "rvserver/secrets_file.hpp"

#include <limits.h>
#include <pwd.h>

#include <cerrno>
#include <memory>
#include <stdexcept>

#include "rvserver/atomic_file.hpp"
#include "rv/error.hpp"
#include "rv/secrets.hpp"

namespace rvserver {

namespace fs = std::filesystem;

namespace {

// "name (uid N)", or "uid N" for a uid without a name.
std::string describe_user(uid_t uid) {
  const struct passwd* pw = ::getpwuid(uid);  // single-threaded: the subcommands run alone
  return pw ? std::string(pw->pw_name) + " (uid " + std::to_string(uid) + ")" : "uid " + std::to_string(uid);
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

}  // namespace rvserver
