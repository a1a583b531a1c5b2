#!/usr/bin/env python3
"""Scenario 13: a secrets file that group or others can read is refused: rvserver and rvhidden
exit 2 with a message that mentions chmod. The same file at 0600 is accepted. As root (issue 10,
B): a 0600 secrets file that another user owns ('nobody': that user could rewrite it) is refused
too, with a message naming its owner and the chown that fixes it."""
import os
import pwd

import harness as h


def main(t):
    uuid, key = t.identity()
    for mode in (0o644, 0o640, 0o604):
        secrets = t.secrets_file([(uuid, key)], name=f"secrets-{mode:o}", mode=mode)
        r = t.run("rvserver", [t.bin("rvserver"), "--listen", "127.0.0.1:0", "--cert", t.pki.cert,
                               "--key", t.pki.key, "--secrets", secrets], timeout=10)
        t.expect_rc(r, 2, f"rvserver with a {mode:o} secrets file")
        t.check("chmod" in r.err_text, f"rvserver, mode {mode:o}: no chmod in {r.err_text!r}")
        t.check(b"listening" not in r.out, f"rvserver listened with a {mode:o} secrets file")

    secrets = t.secrets_file([(uuid, key)], name="secrets-644", mode=0o644)
    r = t.run("rvhidden", [t.bin("rvhidden"), "--server", "127.0.0.1:9", "--uuid", uuid,
                           "--secrets", secrets, "--forward", "127.0.0.1:9", "--ca-file", t.pki.ca],
              timeout=10)
    t.expect_rc(r, 2, "rvhidden with a 644 secrets file")
    t.check("chmod" in r.err_text, f"rvhidden: no chmod in {r.err_text!r}")

    os.chmod(secrets, 0o600)
    server = t.rvserver(secrets)  # the same file, fixed: accepted
    t.check(server.running(), "rvserver with a 600 secrets file")
    server.kill()

    # Owned by another user: refused by both programs, and by rvconnect as a client keys file.
    if os.geteuid() != 0:
        t.log("not root: the owner check (a file of another user) is not tested")
        return
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        t.log("no user 'nobody': the owner check is not tested")
        return
    theirs = t.secrets_file([(uuid, key)], name="secrets-of-nobody", mode=0o600)
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    keys = t.write_file("keys-of-nobody", f"{uuid} {'k' * 32}\n", 0o600)
    os.chown(keys, nobody.pw_uid, nobody.pw_gid)
    fix = f"chown root {theirs}"
    runs = {
        "rvserver": [t.bin("rvserver"), "--listen", "127.0.0.1:0", "--cert", t.pki.cert, "--key",
                     t.pki.key, "--secrets", theirs],
        "rvhidden": [t.bin("rvhidden"), "--server", "127.0.0.1:9", "--uuid", uuid, "--secrets", theirs,
                     "--forward", "127.0.0.1:9", "--ca-file", t.pki.ca],
        "rvconnect": [t.bin("rvconnect"), "--server", "127.0.0.1:9", "--ca-file", t.pki.ca,
                      "--client-keys", keys, uuid],
    }
    for name, argv in runs.items():
        r = t.run(name, argv, timeout=10)
        t.expect_rc(r, 2, f"{name} with a 0600 file owned by nobody")
        t.check("owned by nobody" in r.err_text, f"{name}: the owner is not named: {r.err_text!r}")
        t.check(fix.replace(theirs, keys if name == "rvconnect" else theirs) in r.err_text,
                f"{name}: no '{fix}' in {r.err_text!r}")
        t.check(b"listening" not in r.out, f"{name} listened with a file owned by nobody")
    os.chown(theirs, 0, 0)
    server = t.rvserver(theirs)  # root's again: accepted
    t.check(server.running(), "rvserver with a 600 secrets file of root's")


if __name__ == "__main__":
    h.run(main)
