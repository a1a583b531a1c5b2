#!/usr/bin/env python3
"""Scenario 1: `rvconnect UUID` as netcat. 4 MiB of random bytes go in on stdin, through
rvserver and rvhidden to a local echo service, and come back on stdout unchanged."""
import os

import harness as h


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, echo.addr)

    payload = os.urandom(4 << 20)
    r = t.rvconnect(server.addr, uuid, input=payload)
    t.expect_rc(r, 0)
    t.check(h.sha256(r.out) == h.sha256(payload),
            f"echo differs: sent {len(payload)} bytes, got {len(r.out)} back")


if __name__ == "__main__":
    h.run(main)
