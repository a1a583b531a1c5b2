#!/usr/bin/env python3
"""Scenario 4: the hidden server's local service is down (--forward to a closed port). rvconnect
exits 4 and says that the hidden side could not reach its service."""
import re

import harness as h


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, f"127.0.0.1:{h.free_port()}")

    r = t.rvconnect(server.addr, uuid, input=b"hello\n", timeout=20)
    t.expect_rc(r, 4, "rvconnect to a hidden server whose service is down")
    t.check(re.search(r"(?i)reach|502|bad gateway|local service|unavailable", r.err_text),
            f"stderr does not say the hidden side could not reach its service: {r.err_text!r}")
    t.check(r.out == b"", f"unexpected output {r.out[:100]!r}")


if __name__ == "__main__":
    h.run(main)
