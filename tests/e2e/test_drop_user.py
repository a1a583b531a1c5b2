#!/usr/bin/env python3
"""rvserver --user: started as root, it binds, then runs as an unprivileged user (real, effective
and saved IDs all dropped), reads its files as that user (as it will on every SIGHUP: the
README's layout, files owned by the service user, mode 0600) and goes on serving tunnels; files
only root may read are refused at start, not at the first reload. Skips (77) unless run as root
with a 'nobody' user."""
import os
import shutil

import harness as h


def ids(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return [int(x) for x in line.split()[1:]]
    raise h.Failure(f"no {field} in /proc/{pid}/status")


def main(t):
    nobody = t.require_root_and_user("nobody")
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    # The service user's own copies, in a directory it may enter.
    os.chmod(t.dir, 0o711)
    own = t.path("nobody")
    os.makedirs(own, mode=0o700)
    files = {}
    for name, src in (("secrets", secrets), ("cert.pem", t.pki.cert), ("key.pem", t.pki.key)):
        files[name] = os.path.join(own, name)
        shutil.copyfile(src, files[name])
        os.chmod(files[name], 0o600)
        os.chown(files[name], nobody.pw_uid, nobody.pw_gid)
    os.chown(own, nobody.pw_uid, nobody.pw_gid)

    # Root's own files: rvserver, already running as nobody, cannot read them.
    r = t.run("rvserver", [t.bin("rvserver"), "--listen", "127.0.0.1:0", "--cert", t.pki.cert,
                           "--key", t.pki.key, "--secrets", secrets, "--user", "nobody"])
    t.expect_rc(r, 2, "rvserver --user nobody with files only root may read")
    t.check(b"Permission denied" in r.err and b"listening" not in r.out, f"message: {r.err_text}")

    server = t.rvserver(files["secrets"], cert=files["cert.pem"], key=files["key.pem"], extra=["--user", "nobody"])
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
