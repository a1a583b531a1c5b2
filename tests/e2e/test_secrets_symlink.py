#!/usr/bin/env python3
"""Issue 10, A: root's `rvserver secrets add|rotate|remove` in a directory of the service user
(README's layout) where that user made the secrets path a symbolic link to a root-only secrets
file. The link is not root's, so it is refused (exit 2, a message naming the link's owner): the
root file stays byte for byte as it was, and no file of the service user ever holds its content.
A link of root's own is still followed. Skips (77) unless run as root with a user 'nobody'."""
import os
import stat

import harness as h


def files_holding(top, needle):
    """[(path, owner uid)] of the regular files under `top` whose bytes contain `needle`."""
    found = []
    for root, dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    if needle in f.read():
                        found.append((path, st.st_uid))
    return found


def main(t):
    nobody = t.require_root_and_user("nobody")
    rvserver = t.bin("rvserver")

    # root's own secrets file, where only root may read it.
    root_uuid, root_secret, root_file = t.root_only_secrets("# root only\n")
    with open(root_file, "rb") as f:
        root_bytes = f.read()

    # The service user's directory (t.dir is root's 0700 temp dir: let nobody through to it).
    os.chmod(t.dir, 0o711)
    svc = t.path("svc")
    os.mkdir(svc, 0o755)
    os.chown(svc, nobody.pw_uid, nobody.pw_gid)
    link = os.path.join(svc, "secrets")
    os.symlink(root_file, link)
    os.lchown(link, nobody.pw_uid, nobody.pw_gid)

    for argv in (["add", "--secrets", link], ["add", "made-by-root", "--secrets", link],
                 ["rotate", root_uuid, "--secrets", link], ["remove", root_uuid, "--secrets", link]):
        r = t.run("secrets " + argv[0], [rvserver, "secrets", *argv])
        t.check(r.rc == 2, f"rvserver secrets {' '.join(argv)} through nobody's link: expected exit 2, "
                f"got {r!r}")
        t.check("symbolic link" in r.err_text and "nobody" in r.err_text,
                f"the message does not say whose link it is: {r.err_text!r}")
        t.check(root_secret not in r.out and root_secret not in r.err, "the root secret was printed")
        with open(root_file, "rb") as f:
            t.check(f.read() == root_bytes, f"secrets {argv[0]} changed the root-only file")
        t.check(os.path.islink(link), "the link was replaced")
        leaked = [(p, uid) for p, uid in files_holding(t.dir, root_secret) if p != root_file]
        t.check(not leaked, f"the root file's secret is now also in {leaked}")
        t.check(stat.S_IMODE(os.stat(root_file).st_mode) == 0o600 and os.stat(root_file).st_uid == 0,
                "the root file's mode or owner changed")

    # A link that root made (in a directory of root's) is root's choice: followed, as before.
    own_link = os.path.join(os.path.dirname(root_file), "link")
    os.symlink("root-secrets", own_link)
    r = t.run("secrets add via root's link", [rvserver, "secrets", "add", "--secrets", own_link])
    t.expect_rc(r, 0, "secrets add through a link of root's")
    new_line = r.out.decode().splitlines()[0]
    with open(root_file, "rb") as f:
        t.check(f.read() == root_bytes + new_line.encode() + b"\n", "root's link was not followed")
    t.check(os.path.islink(own_link), "root's link was replaced by a file")


if __name__ == "__main__":
    h.run(main)
