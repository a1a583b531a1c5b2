#!/usr/bin/env python3
"""Scenario 6: an ordinary HTTP client (curl) reaches the hidden server's web service, naming the
UUID as the user name (Digest or Basic). No credentials: 401 with a Digest challenge. An upgrade
request names the UUID in ?rendezvous= instead, and then the stream is the service's."""
import re
import time

import harness as h
import seed_peers as seed


def curl(t, server, *args):
    return t.run("curl", ["curl", "-sS", "--max-time", "20", "--cacert", t.pki.ca, *args,
                          f"https://{server.addr}/hello"], timeout=30)


def main(t):
    t.require("curl")
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    web = t.http_service()
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, web.addr, pool=2)

    for how in ("--digest", "--basic"):
        r = curl(t, server, how, "-u", f"{uuid}:x")
        t.expect_rc(r, 0, f"curl {how}")
        t.check(r.out == b"hello world", f"curl {how}: body {r.out[:200]!r}")
    for line, headers in web.requests:
        t.check(not any(k.lower() == "authorization" for k in headers),
                f"Authorization reached the hidden service: {line} {headers}")

    r = curl(t, server, "-i")
    t.expect_rc(r, 0, "curl without credentials")
    head = r.out.decode(errors="replace")
    t.check(re.match(r"HTTP/1\.1 401", head), f"no credentials: expected 401, got {head[:200]!r}")
    t.check(re.search(r'(?im)^WWW-Authenticate:\s*Digest\s+realm="rendezvous"', head),
            f"no Digest challenge: {head[:400]!r}")

    # Upgrade: GET /ws?rendezvous=UUID, then the upgraded stream is the service's (it echoes).
    deadline = time.monotonic() + 20
    s = seed.dial(server.addr, seed.client_tls_context(t.pki.ca))
    s.send_all((f"GET /ws?rendezvous={uuid} HTTP/1.1\r\nHost: {server.addr}\r\n"
                "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n").encode(), deadline)
    head = s.read_head(deadline)
    t.check(seed.parse_status(head) == 101, f"upgrade: {head!r}")
    t.check(seed.header_value(head, "X-Request-Line") == f"GET /ws?rendezvous={uuid} HTTP/1.1",
            f"the service saw another request line: {head!r}")
    reply = seed.echo_through(s, b"frames after the upgrade\n" * 100)
    t.check(reply == b"frames after the upgrade\n" * 100, f"upgraded stream echoed {reply[:100]!r}")


if __name__ == "__main__":
    h.run(main)
