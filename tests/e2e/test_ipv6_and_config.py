#!/usr/bin/env python3
"""IPv6 and config files. rvserver started with only `--config FILE` listens on [::1] and on
127.0.0.1 (two `listening` lines); rvhidden registers over [::1] (--server-name localhost, the
name in the certificate), a client over 127.0.0.1 reaches it, and so does `rvconnect --config`."""
import os
import re
import socket

import harness as h


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def main(t):
    if not ipv6_loopback():
        raise h.Skipped("::1 is not available")
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")

    conf = t.write_file("rvserver.conf",
                        "# rvserver e2e config\n"
                        "listen = [::1]:0\n"
                        "listen = 127.0.0.1:0\n"
                        f"cert = {t.pki.cert}\n"
                        f"key = {t.pki.key}\n"
                        f"secrets = {secrets}\n")
    server = t.spawn("rvserver", [t.bin("rvserver"), "--config", conf])
    server.wait_stdout(r"listening .*\n", count=2, timeout=10)
    lines = re.findall(r"listening (\S+)\r?\n", server.stdout_text())
    t.check(len(lines) == 2, f"expected two listening lines, got {lines}")
    v6 = next((a for a in lines if re.fullmatch(r"\[::1\]:\d+", a)), None)
    v4 = next((a for a in lines if re.fullmatch(r"127\.0\.0\.1:\d+", a)), None)
    t.check(v6 and v4, f"listening lines {lines}: want one [::1]:PORT and one 127.0.0.1:PORT")
    t.check(not v6.endswith(":0") and not v4.endswith(":0"), f"port 0 printed, not the real port: {lines}")

    t.rvhidden(v6, uuid, secrets, echo.addr, pool=2, server_name="localhost")
    server.wait_stderr(r"peer=\[::1\]:\d+ uuid=" + re.escape(uuid) + r" parked", timeout=5)

    payload = os.urandom(100_000)
    r = t.rvconnect(v4, uuid, input=payload)
    t.expect_rc(r, 0, "rvconnect over 127.0.0.1")
    t.check(r.out == payload, f"over 127.0.0.1: sent {len(payload)} bytes, got {len(r.out)}")
    server.wait_stderr(r"peer=127\.0\.0\.1:\d+ uuid=" + re.escape(uuid) + r" hidden=\[::1\]:\d+ .*tunnel open",
                       timeout=5)

    client_conf = t.write_file("rvconnect.conf",
                               f"server = {v6}\n"
                               f"ca-file = {t.pki.ca}\n"
                               "server-name = localhost\n"
                               f"uuid = {uuid}\n")
    r = t.run("rvconnect --config", [t.bin("rvconnect"), "--config", client_conf], input=b"from a config\n")
    t.expect_rc(r, 0, "rvconnect --config")
    t.check(r.out == b"from a config\n", f"rvconnect --config: echo {r.out!r}")
    t.check(echo.accepted == 2, f"the service saw {echo.accepted} connections, not 2")


if __name__ == "__main__":
    h.run(main)
