#!/usr/bin/env python3
"""Issue 10, A, raced: while root runs `rvserver secrets add` again and again on a secrets path in
a directory of the service user, a swapper (standing in for that user) keeps exchanging what the
path names: a regular file of the user's, then a symbolic link (the user's) to a root-only secrets
file. Every object that ever sat at the path is swapped out whole (renameat2 RENAME_EXCHANGE) and
looked at, so none goes unseen: the root-only secret must never be in one, nor in any file left
in the directory; the root file must not change; and each run either succeeded (printing a
secrets file) or refused with exit 1 or 2 and a message. Bounded: at most --runs runs and
--seconds seconds. Skips (77) unless run as root with a user 'nobody'."""
import ctypes
import errno
import os
import re
import stat
import subprocess
import threading
import time

import harness as h

AT_FDCWD = -100
RENAME_EXCHANGE = 2


def add_args(ap):
    ap.add_argument("--runs", type=int, default=400, help="at most this many `secrets add` runs")
    ap.add_argument("--seconds", type=float, default=8.0, help="and for at most this long")


class Swapper(threading.Thread):
    """Exchanges svc/secrets with a fresh regular file of nobody's, then with a fresh link of
    nobody's to the root file, and so on; reads each object it swaps out."""

    def __init__(self, svc, root_file, needle, user, nobody_text, max_swaps=5_000_000):
        super().__init__(daemon=True)
        self.svc, self.root_file, self.needle, self.user = svc, root_file, needle, user
        self.nobody_text = nobody_text
        self.path = os.path.join(svc, "secrets")
        self.spare = os.path.join(svc, ".swap")
        self.max_swaps = max_swaps
        self.stop = threading.Event()
        self.swaps = 0
        self.seen_files = 0
        self.leaks = []  # (swap number, owner uid, mode) of files at the path holding the needle
        self.lines = set()  # every line of those files
        self.error = None
        self.libc = ctypes.CDLL(None, use_errno=True)

    def exchange(self):
        if self.libc.renameat2(AT_FDCWD, self.spare.encode(), AT_FDCWD, self.path.encode(),
                               RENAME_EXCHANGE) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"renameat2(RENAME_EXCHANGE): {os.strerror(e)}")

    def inspect_spare(self):
        """What was at the path (now at .swap): a leak when it is a file holding the needle."""
        st = os.lstat(self.spare)
        if stat.S_ISREG(st.st_mode):
            self.seen_files += 1
            fd = os.open(self.spare, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            if self.needle in data:
                self.leaks.append((self.swaps, st.st_uid, stat.S_IMODE(st.st_mode)))
            self.lines.update(data.splitlines())
        os.unlink(self.spare)

    def make_spare(self, as_link):
        if as_link:
            os.symlink(self.root_file, self.spare)
            os.lchown(self.spare, self.user.pw_uid, self.user.pw_gid)
        else:
            fd = os.open(self.spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            os.fchown(fd, self.user.pw_uid, self.user.pw_gid)
            os.write(fd, self.nobody_text)
            os.close(fd)

    def run(self):
        try:
            while not self.stop.is_set() and self.swaps < self.max_swaps:
                self.make_spare(as_link=self.swaps % 2 == 0)
                self.exchange()
                self.swaps += 1
                self.inspect_spare()
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = repr(e)


def main(t):
    nobody = t.require_root_and_user("nobody")
    rvserver = t.bin("rvserver")

    _, needle, root_file = t.root_only_secrets()
    with open(root_file, "rb") as f:
        root_bytes = f.read()

    os.chmod(t.dir, 0o711)
    svc = t.path("svc")
    os.mkdir(svc, 0o755)
    os.chown(svc, nobody.pw_uid, nobody.pw_gid)
    nobody_uuid, nobody_key = t.identity()
    nobody_text = f"{nobody_uuid} {h.b32(nobody_key)}\n".encode()
    path = os.path.join(svc, "secrets")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchown(fd, nobody.pw_uid, nobody.pw_gid)
    os.write(fd, nobody_text)
    os.close(fd)

    swapper = Swapper(svc, root_file, needle, nobody, nobody_text)
    # RENAME_EXCHANGE needs Linux 3.15 and a file system that has it.
    try:
        swapper.make_spare(as_link=False)
        swapper.exchange()
        swapper.inspect_spare()
    except OSError as e:
        if e.errno in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise h.Skipped(f"no RENAME_EXCHANGE here: {e}")
        raise
    except AttributeError:
        raise h.Skipped("no renameat2 in this libc")

    outcomes = {}
    bad = []
    added = []  # (run, the line it printed)
    runs = 0
    swapper.start()
    t.on_cleanup(swapper.stop.set)
    deadline = time.monotonic() + t.args.seconds
    try:
        while runs < t.args.runs and time.monotonic() < deadline:
            runs += 1
            p = subprocess.run([rvserver, "secrets", "add", "--secrets", path], capture_output=True,
                               timeout=20)
            err = p.stderr.decode("utf-8", "replace").strip()
            if p.returncode == 0:
                lines = p.stdout.decode().splitlines()
                if len(lines) != 2 or needle in p.stdout:
                    bad.append(f"run {runs}: exit 0 with stdout {p.stdout!r}")
                else:
                    added.append((runs, lines[0].encode()))
                outcomes["added"] = outcomes.get("added", 0) + 1
            elif p.returncode in (1, 2) and err:
                # "TIME rvserver error: secrets file PATH is a symbolic link owned by ..." -> the words
                message = err.split(" error: ", 1)[-1].replace(path, "FILE")
                key = f"exit {p.returncode}: " + re.sub(r"\s+", " ", message)[:70]
                outcomes[key] = outcomes.get(key, 0) + 1
                if p.stdout or needle in p.stderr:  # a refusal prints no secrets file
                    bad.append(f"run {runs}: exit {p.returncode} printed {p.stdout!r} / {err!r}")
            else:
                bad.append(f"run {runs}: exit {p.returncode}, stderr {err!r}")
            if swapper.error:
                break
    finally:
        swapper.stop.set()
        swapper.join(10)
    t.log(f"{runs} runs of secrets add, {swapper.swaps} swaps ({swapper.seen_files} regular files "
          f"swapped out); outcomes: {outcomes}")
    t.check(swapper.error is None, f"the swapper failed: {swapper.error}")
    t.check(swapper.swaps > runs, f"only {swapper.swaps} swaps in {runs} runs: no race happened")

    # What is left in the directory, too.
    left = []
    for name in os.listdir(svc):
        entry = os.path.join(svc, name)
        st = os.lstat(entry)
        if stat.S_ISREG(st.st_mode):
            with open(entry, "rb") as f:
                data = f.read()
            if needle in data:
                left.append((name, st.st_uid))
            swapper.lines.update(data.splitlines())
    with open(root_file, "rb") as f:
        root_now = f.read()
    leaks = len(swapper.leaks)
    t.log(f"root-only secret found in {leaks} file(s) at the path; in files left: {left}; "
          f"root file {'unchanged' if root_now == root_bytes else 'CHANGED'}")
    t.check(not leaks and not left,
            f"the root-only secret leaked into {leaks} file(s) at the secrets path in {runs} runs "
            f"(first: swap, owner uid, mode = {swapper.leaks[:3]}) and into files left: {left}")
    grown = root_now.count(b"\n") - root_bytes.count(b"\n")
    t.check(root_now == root_bytes, f"the root-only file changed ({grown} lines added)")
    t.check(not bad, f"{len(bad)} runs ended badly: {bad[:5]}")
    # A run that succeeded wrote its line into a file at the path (swapped out since, or there).
    lost = [run for run, line in added if line not in swapper.lines]
    t.check(not lost, f"runs {lost[:10]} said they added a line that no file at the path ever held")


if __name__ == "__main__":
    h.run(main, timeout=lambda args: args.seconds + 60, add_args=add_args)
