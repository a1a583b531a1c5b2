// The locked, atomic edit of rvserver's secrets file, safe in a directory that another user
// owns (the file layer under `rvserver secrets add|remove|rotate`).
#pragma once
#include <filesystem>
#include <functional>
#include <string>

namespace rvserver {

// Edits the secrets file atomically, so that concurrent writers and a reader (rvserver on
// SIGHUP) never see a partial file and no update is lost. FILE's directory may belong to
// another user (README's layout: the service user's, with root running this), who can swap
// names in it at any moment; so:
//  - the directory is opened once and every step is relative to that descriptor (*at(2));
//  - takes an exclusive flock(2) on FILE.lock (opened O_NOFOLLOW, created mode 0600; never
//    removed, since removing a lock file lets two writers hold two different locks); when
//    FILE.lock no longer names the file we locked (it was replaced while we waited), locks
//    again, at most 10 times, then fails;
//  - opens FILE with O_NOFOLLOW|O_NONBLOCK and takes its type, mode, owner and content from
//    that one descriptor (rv::read_secrets_fd with any owner: the kernel lets only root read
//    another user's 0600 file), then parses it; when FILE does not exist and `must_exist` is
//    false, the current text is empty;
//  - writes edit(current text) to a new FILE.tmp.RANDOM (O_CREAT|O_EXCL|O_NOFOLLOW, mode
//    0600, the old file's owner and group where we may set them: the content's owner is the
//    new file's), fsyncs it; checks that FILE still names the inode we read (st_dev, st_ino),
//    renames the temp file over it and fsyncs the directory. A new FILE is linked into place
//    only if nothing appeared there meanwhile.
// A symbolic link at FILE is followed (to its target, in the target's directory, at most 8
// links) only when the link is owned by the effective user or by root, the rule of the
// kernel's protected_symlinks: another user's link could point at any file we may read and
// have its content copied beside the link. Another user's link is refused
// (rv::config_error, exit 2), the link and its target left alone.
// `edit` may throw to abandon the update (nothing is written). Throws rv::config_error for a bad
// or unreadable file (a FIFO or device at FILE is refused, never waited on), and
// std::runtime_error for I/O failures while writing and when FILE changed during the edit (not
// the inode that was read, or created meanwhile): then nothing is written and the temp file is
// removed.
void edit_secrets_file(const std::filesystem::path& file, bool must_exist,
                       const std::function<std::string(const std::string& current)>& edit);

}  // namespace rvserver
