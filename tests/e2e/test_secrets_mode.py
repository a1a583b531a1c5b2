#!/usr/bin/env python3
"""Scenario 13: a secrets file that group or others can read is refused: rvserver and rvhidden
exit 2 with a message that mentions chmod. The same file at 0600 is accepted."""
import os

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


if __name__ == "__main__":
    h.run(main)
