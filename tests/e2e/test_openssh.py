#!/usr/bin/env python3
"""Scenario 10: OpenSSH through the tunnel. A private sshd on 127.0.0.1 is the hidden service;
ssh reaches it with `ProxyCommand rvconnect UUID`: a command with input, scp both ways (legacy and
sftp mode) of a 2 MiB file, and 8 sessions at once."""
import os
import shlex
import subprocess
import threading

import harness as h

def main(t):
    t.require(h.SSHD, "ssh", "scp", "ssh-keygen")
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    sshd_port, client_key = t.sshd()
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, f"127.0.0.1:{sshd_port}", pool=4)

    proxy = " ".join(shlex.quote(a) for a in
                     [t.bin("rvconnect"), "--server", server.addr, "--ca-file", t.pki.ca, uuid])
    opts = ["-F", "/dev/null", *t.ssh_options(client_key), "-o", f"ProxyCommand={proxy}"]
    target = f"{t.user()}@hidden"

    r = t.run("ssh", ["ssh", *opts, "-p", "22", target, "echo hi; sort"], input=b"pear\napple\nfig\n")
    t.expect_rc(r, 0, "ssh 'echo hi; sort'")
    t.check(r.out == b"hi\napple\nfig\npear\n", f"ssh output {r.out!r}")

    payload = os.urandom(2 << 20)
    local = t.write_file("payload.bin", payload)
    for mode in (["-O"], ["-s"]):  # legacy scp protocol, then sftp
        name = "legacy" if mode == ["-O"] else "sftp"
        remote = t.path(f"remote-{name}.bin")
        back = t.path(f"back-{name}.bin")
        r = t.run("scp", ["scp", *mode, *opts, "-P", "22", local, f"{target}:{remote}"], timeout=60)
        t.expect_rc(r, 0, f"scp {name} upload")
        r = t.run("scp", ["scp", *mode, *opts, "-P", "22", f"{target}:{remote}", back], timeout=60)
        t.expect_rc(r, 0, f"scp {name} download")
        for path in (remote, back):
            with open(path, "rb") as f:
                t.check(h.sha256(f.read()) == h.sha256(payload), f"scp {name}: {path} differs")

    results = [None] * 8

    def session(i):
        p = subprocess.run(["ssh", *opts, "-p", "22", target, f"echo session-{i}"],
                           capture_output=True, timeout=60, start_new_session=True)
        results[i] = (p.returncode, p.stdout, p.stderr)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(70)
    for i, res in enumerate(results):
        t.check(res is not None and res[0] == 0 and res[1] == f"session-{i}\n".encode(),
                f"parallel ssh session {i}: {res!r}")


if __name__ == "__main__":
    h.run(main, timeout=120)
