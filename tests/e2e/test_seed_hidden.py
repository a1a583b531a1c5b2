#!/usr/bin/env python3
"""Scenario 8: a seed-protocol hidden server (seed_peers.py: one registration at a time, no
Rendezvous-Notify, connects to its service on the first client bytes) registered with rvserver.
rvconnect reaches it, and so does a client doing the CONNECT by hand."""
import os

import harness as h
import seed_peers as seed


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets)
    hidden = seed.SeedHiddenServer(server.addr, uuid, key, echo.addr, t.pki.ca).start()
    t.on_cleanup(hidden.stop)
    hidden.wait_parked(1)

    payload = os.urandom(1 << 20)
    r = t.rvconnect(server.addr, uuid, input=payload)
    t.expect_rc(r, 0, "rvconnect to a seed hidden server")
    t.check(r.out == payload, f"rvconnect: sent {len(payload)} bytes, got {len(r.out)}")

    for i in range(2):
        hidden.wait_parked(2 + i)
        status, head, stream = seed.open_client(server.addr, uuid, t.pki.ca)
        t.check(status == 200, f"hand-made CONNECT {i}: {head!r}")
        data = os.urandom(100_000)
        reply = seed.echo_through(stream, data)
        t.check(reply == data, f"hand-made CONNECT {i}: sent {len(data)} bytes, got {len(reply)}")

    # A wrong token is refused with 401 (and the seed hidden server sees it).
    bad = seed.SeedHiddenServer(server.addr, uuid, h.new_key(), echo.addr, t.pki.ca,
                                max_registrations=1).start()
    t.on_cleanup(bad.stop)
    bad.thread.join(10)
    t.check(bad.refused == [401], f"wrong key: statuses {bad.refused}, errors {bad.errors}")
    t.check(not hidden.errors, f"seed hidden server errors: {hidden.errors}")


if __name__ == "__main__":
    h.run(main)
