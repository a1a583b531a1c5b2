#!/usr/bin/env python3
"""The seed peers against each other (no programs of ours): seed hidden server + seed rendezvous
server + a hand-written client. If this fails, the other seed tests prove nothing."""
import os

import harness as h
import seed_peers as seed


def main(t):
    # RFC 6238 appendix B, SHA-1, 8 digits.
    rfc_key = b"12345678901234567890"
    for when, token in ((59, "94287082"), (1111111109, "07081804"), (1234567890, "89005924"),
                        (20000000000, "65353130")):
        t.check(seed.totp(rfc_key, when, 30, 8) == token, f"TOTP at {when}: {seed.totp(rfc_key, when, 30, 8)}")
    t.check(seed.totp_accepts(rfc_key, seed.totp(rfc_key, 1000 - 30), now=1000), "one step back accepted")
    t.check(not seed.totp_accepts(rfc_key, seed.totp(rfc_key, 1000 - 60), now=1000), "two steps back refused")

    uuid, key = t.identity(ascii_only=True)
    server = seed.SeedRendezvousServer(t.pki.cert, t.pki.key, {uuid: (key, 30, 6)}, grace=3).start()
    t.on_cleanup(server.stop)
    echo = t.service(h.echo_handler, "echo")
    hidden = seed.SeedHiddenServer(server.addr, uuid, key, echo.addr, t.pki.ca).start()
    t.on_cleanup(hidden.stop)
    hidden.wait_parked(1)

    # Sequential clients, each a few hundred KiB with half-close.
    for i in range(3):
        payload = os.urandom(300_000 + i)
        status, head, stream = seed.open_client(server.addr, uuid, t.pki.ca)
        t.check(status == 200 and head == "HTTP/1.1 200\r\n\r\n", f"client {i}: {head!r}")
        reply = seed.echo_through(stream, payload)
        t.check(reply == payload, f"client {i}: {len(reply)} bytes back of {len(payload)}")
        hidden.wait_parked(i + 2)

    # A reply that follows the client's half-close (close_notify) still reaches it.
    digest = t.service(h.sha_handler, "sha")
    sha_hidden = seed.SeedHiddenServer(server.addr, "sha-" + uuid, key, digest.addr, t.pki.ca)
    server.secrets["sha-" + uuid] = (key, 30, 6)
    sha_hidden.start()
    t.on_cleanup(sha_hidden.stop)
    sha_hidden.wait_parked(1)
    payload = os.urandom(1 << 20)
    status, head, stream = seed.open_client(server.addr, "sha-" + uuid, t.pki.ca)
    t.check(status == 200, f"sha client: {head!r}")
    reply = seed.echo_through(stream, payload)
    t.check(reply == (h.sha256(payload) + "\n").encode(), f"sha reply {reply!r}")

    # A client for a UUID nobody registered: 404. A wrong token: 401.
    server.grace = 0
    status, head, stream = seed.open_client(server.addr, "nobody", t.pki.ca)
    stream.close()
    t.check(status == 404, f"unknown UUID: {head!r}")
    bad = seed.SeedHiddenServer(server.addr, uuid, h.new_key(True), echo.addr, t.pki.ca,
                                max_registrations=1).start()
    t.on_cleanup(bad.stop)
    bad.thread.join(10)
    t.check(bad.refused == [401], f"wrong key: {bad.refused} {bad.errors}")

    # Newest only: a second registration evicts the first.
    t.check(server.count("evict") == 0, "no eviction yet")
    second = seed.SeedHiddenServer(server.addr, uuid, key, echo.addr, t.pki.ca).start()
    t.on_cleanup(second.stop)
    second.wait_parked(1)
    server.wait_event("evict", 1)
    server.grace = 3
    status, head, stream = seed.open_client(server.addr, uuid, t.pki.ca)
    t.check(status == 200, f"after eviction: {head!r}")
    t.check(seed.echo_through(stream, b"x" * 1000) == b"x" * 1000, "echo after eviction")


if __name__ == "__main__":
    h.run(main)
