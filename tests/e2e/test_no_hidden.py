#!/usr/bin/env python3
"""Scenario 5: no hidden server registered. rvconnect exits 3 after the server's grace (--grace 1),
for an unknown UUID and for a known one with nothing parked."""
import harness as h


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    server = t.rvserver(secrets, grace=1)

    for name, target in (("unknown UUID", "no-such-uuid"), ("known UUID, nothing parked", uuid)):
        r = t.rvconnect(server.addr, target, input=b"hello\n", timeout=20)
        t.expect_rc(r, 3, name)
        t.check(r.elapsed < 10, f"{name}: took {r.elapsed:.1f} s with --grace 1")
        t.check(r.err_text.strip() != "", f"{name}: no message on stderr")
        t.log(f"{name}: exit 3 after {r.elapsed:.2f} s: {r.err_text.strip()[:120]}")


if __name__ == "__main__":
    h.run(main)
