#!/usr/bin/env python3
"""Scenario 2: half-close. `rvconnect UUID < file`: the local service reads until end of stream
and only then answers the SHA-256 of what it read; that answer must still reach rvconnect."""
import os

import harness as h


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    digest = t.service(h.sha_handler, "sha256")
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, digest.addr)

    for size in (0, 1, 3 << 20):
        payload = os.urandom(size)
        path = t.write_file(f"payload-{size}", payload)
        r = t.rvconnect(server.addr, uuid, stdin_path=path)
        t.expect_rc(r, 0, f"rvconnect < {size}-byte file")
        t.check(r.out.decode(errors="replace").strip() == h.sha256(payload),
                f"{size} bytes: expected {h.sha256(payload)}, got {r.out[:100]!r}")


if __name__ == "__main__":
    h.run(main)
