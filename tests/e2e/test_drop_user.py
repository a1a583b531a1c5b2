#!/usr/bin/env python3
"""rvserver --user: started as root, it binds and reads its files, then runs as an unprivileged
user (real, effective and saved IDs all dropped) and goes on serving tunnels. Skips (77) unless
run as root with a 'nobody' user."""
import os
import pwd

import harness as h


def ids(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise h.Failure(f"no {field} in /proc/{pid}/status")


def main(t):
    if os.geteuid() != 0:
        raise h.Skipped("needs root")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise h.Skipped("no user 'nobody'")
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, extra=["--user", "nobody"])
    server.wait_stderr(r"running as user nobody")
    t.check(ids(server.pid, "Uid") == [nobody.pw_uid] * 4, f"Uid: {ids(server.pid, 'Uid')}")
    t.check(ids(server.pid, "Gid") == [nobody.pw_gid] * 4, f"Gid: {ids(server.pid, 'Gid')}")

    t.rvhidden(server.addr, uuid, secrets, echo.addr)
    r = t.rvconnect(server.addr, uuid, input=b"as nobody\n")
    t.expect_rc(r, 0, "rvconnect through an rvserver running as nobody")
    t.check(r.out == b"as nobody\n", f"echo: {r.out!r}")

    r = t.run("rvserver", [t.bin("rvserver"), "--listen", "127.0.0.1:0", "--cert", t.pki.cert,
                           "--key", t.pki.key, "--secrets", secrets, "--user", "no-such-user-here"])
    t.expect_rc(r, 2, "rvserver --user with an unknown user")
    t.check(b"no such user" in r.err, f"message: {r.err_text}")


if __name__ == "__main__":
    h.run(main)
