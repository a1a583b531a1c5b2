#!/usr/bin/env python3
"""Scenario 3: a server-first service (like SMTP) sends a banner before the client says anything.
rvconnect must receive the banner without sending a byte; then the service echoes."""
import subprocess

import harness as h

BANNER = b"220 hidden.example ESMTP ready\r\n"


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    smtp = t.service(h.banner_handler(BANNER), "banner")
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, smtp.addr)

    client = t.spawn("rvconnect", [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(), uuid],
                     stdin=subprocess.PIPE)
    client.wait_stdout(r"^220 hidden\.example ESMTP ready\r\n", timeout=10)
    t.check(smtp.accepted == 1, f"service saw {smtp.accepted} connections")

    client.p.stdin.write(b"EHLO client\r\n")
    client.p.stdin.flush()
    client.wait_stdout(r"EHLO client\r\n", timeout=10)
    client.p.stdin.close()  # end of stream: the echo service ends too, and so does rvconnect
    rc = client.wait_exit(10)
    t.check(rc == 0, f"rvconnect exit {rc}")
    t.check(client.out == BANNER + b"EHLO client\r\n", f"stdout {bytes(client.out)!r}")


if __name__ == "__main__":
    h.run(main)
