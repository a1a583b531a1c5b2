#!/usr/bin/env python3
"""Scenario 10: OpenSSH through the tunnel. A private sshd on 127.0.0.1 is the hidden service;
ssh reaches it with `ProxyCommand rvconnect UUID`: a command with input, scp both ways (legacy and
sftp mode) of a 2 MiB file, and 8 sessions at once."""
import getpass
import os
import shlex
import subprocess
import threading

import harness as h

SSHD = "/usr/sbin/sshd"


def start_sshd(t):
    """sshd -D -e on a free port with its own host key and config; waits for 'Server listening'."""
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
    d = t.path("sshd")
    os.makedirs(d)
    for name in ("host_key", "client_key"):
        t.expect_rc(t.run("ssh-keygen", ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/{name}"]), 0)
    with open(f"{d}/client_key.pub") as f:
        t.write_file("sshd/authorized_keys", f.read(), 0o600)
    for attempt in range(5):  # sshd cannot print the port it got: pick a free one, retry if taken
        port = h.free_port()
        config = t.write_file("sshd/sshd_config", f"""
Port {port}
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
UsePAM no
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 64
MaxSessions 64
Subsystem sftp internal-sftp
LogLevel VERBOSE
""", 0o600)
        sshd = t.spawn("sshd", [SSHD, "-D", "-e", "-f", config])
        try:
            sshd.wait_stderr(r"Server listening on 127\.0\.0\.1 port", timeout=10)
            return port, f"{d}/client_key"
        except h.Failure:
            if "Address already in use" not in sshd.stderr_text() or attempt == 4:
                raise
            sshd.kill()
    raise h.Failure("sshd did not start")


def main(t):
    t.require(SSHD, "ssh", "scp", "ssh-keygen")
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    sshd_port, client_key = start_sshd(t)
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, f"127.0.0.1:{sshd_port}", pool=4)

    proxy = " ".join(shlex.quote(a) for a in
                     [t.bin("rvconnect"), "--server", server.addr, "--ca-file", t.pki.ca, uuid])
    opts = ["-F", "/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
            "-o", "ConnectTimeout=20", "-i", client_key, "-o", f"ProxyCommand={proxy}"]
    user = getpass.getuser()
    target = f"{user}@hidden"

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
