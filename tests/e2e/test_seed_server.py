#!/usr/bin/env python3
"""Scenario 9: rvhidden (--pool 4) registered with a seed-protocol rendezvous server (seed_peers.py:
`HTTP/1.1 200` with no reason and no headers, only the newest parked connection per UUID). It must
keep working, one client after another, without churning registrations; rvconnect works too.
The 200 without Rendezvous-Notify tells rvhidden it faces a seed server: its other slots stop
before they register, so no registration of rvhidden's evicts another of its parked connections
(before that fix every run saw 1 to 4 such evictions, and the late registrations of slots that had
waited for the first one's answer sometimes landed in the idle window below)."""
import os
import time

import harness as h
import seed_peers as seed


def main(t):
    uuid, key = t.identity(ascii_only=True)  # the seed's TOTP agrees with RFC 6238 only then
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = seed.SeedRendezvousServer(t.pki.cert, t.pki.key, {uuid: (key, 30, 6)}, grace=5).start()
    t.on_cleanup(server.stop)
    hidden = t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=4)

    for i in range(3):
        status, head, stream = seed.open_client(server.addr, uuid, t.pki.ca)
        t.check(status == 200, f"seed client {i}: {head!r}")
        data = os.urandom(200_000)
        reply = seed.echo_through(stream, data)
        t.check(reply == data, f"seed client {i}: sent {len(data)} bytes, got {len(reply)}")

    payload = os.urandom(1 << 20)
    r = t.rvconnect(server.addr, uuid, input=payload)
    t.expect_rc(r, 0, "rvconnect through the seed server")
    t.check(r.out == payload, f"rvconnect: sent {len(payload)} bytes, got {len(r.out)}")

    # Settled: the seed evicts all but the newest, so a pool of 4 would churn; rvhidden must keep one.
    since = time.monotonic()
    time.sleep(3)  # a measuring window, not a wait for readiness
    registrations = server.count("register", since)
    t.log(f"registrations in 3 s while idle: {registrations}; total {server.count('register')}, "
          f"evictions {server.count('evict')}")
    t.check(registrations <= 3, f"rvhidden churns against the seed server: {registrations} "
                                f"registrations in 3 s idle")
    t.check(server.count("evict") == 0, f"rvhidden's registrations evicted {server.count('evict')} of its own "
                                        f"parked connections: its slots churn against the seed server")

    status, head, stream = seed.open_client(server.addr, uuid, t.pki.ca)
    t.check(status == 200, f"client after idling: {head!r}")
    t.check(seed.echo_through(stream, b"still there\n") == b"still there\n", "echo after idling")
    t.check(hidden.running(), "rvhidden exited")


if __name__ == "__main__":
    h.run(main)
