#!/usr/bin/env python3
"""Authentication that holds up (issue 4), against the real rvserver and rvhidden:

- failed tokens from one address get 401s, then 429 with a Retry-After that grows; a right code
  from that address is then not even checked, while the real rvhidden (another address) parks;
- a guesser spread over 20 addresses trips the UUID's throttle (a new address with a right code
  gets 429), and the real rvhidden, which registered before from its address, still parks;
- replay: by default a code registers again only from its first address; with --token-reuse never
  not at all, and rvhidden still fills a pool of 4 (pool credentials) with no 401;
- a client address that takes parked connections faster than --client-rate gets 429 (rvconnect
  exits 5 and says so); another address is not affected;
- client keys: with --client-keys, a UUID's clients need its key: rvconnect without one (or with
  a wrong one) gets 403 and exits 5, with --client-keys it tunnels; curl -u UUID:KEY --basic
  reaches the web service, which sees neither Authorization nor the key; a UUID not listed still
  takes any client.

Attackers connect from other loopback addresses (127.0.0.2...; all of 127/8 is local on Linux)."""
import base64
import json
import os
import time

import harness as h
import seed_peers as seed


def wrong_token(key):
    now = time.time()
    near = {seed.totp(key, now + d * 30) for d in range(-3, 4)}
    return next(t for t in ("123456", "654321", "000001", "999998") if t not in near)


def register(t, server, uuid, token, source=None, credential=None, want_credential=False):
    """One raw registration; returns (status, head, body). The connection is closed afterwards
    (a parked one too: the server unparks it)."""
    deadline = time.monotonic() + 10
    stream = seed.dial(server.addr, seed.client_tls_context(t.pki.ca), server_hostname="localhost",
                       source=source)
    try:
        target = f"uuid:{uuid}" if credential else f"uuid:{uuid}?response={token}"
        head = f"CONNECT {target} HTTP/1.1\r\nHost: {server.addr}\r\n"
        if credential:
            head += f"Rendezvous-Pool-Credential: {credential}\r\n"
        if want_credential:
            head += "Rendezvous-Pool: 1\r\n"
        stream.send_all((head + "\r\n").encode(), deadline)
        answer = stream.read_head(deadline)
        status = seed.parse_status(answer)
        body = b""
        if status != 200:
            body = stream.read_all(deadline, limit=64 * 1024)
        return status, answer, body
    finally:
        stream.close()


def diagnostic(body):
    return json.loads(body)["error"]["diagnostic"]


def failed_tokens(t, uuid, key, echo):
    server = t.rvserver(t.secrets_file([(uuid, key)]), extra=t.generous_limits())
    attacker = "127.0.0.2"
    # The real hidden server registers once first (its address becomes trusted for the UUID).
    hidden = t.rvhidden(server.addr, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=1)

    for i in range(5):  # --max-failures 5: after five failures the address must wait
        status, _, body = register(t, server, uuid, wrong_token(key), source=attacker)
        t.check(status == 401, f"wrong token {i + 1}: {status} {body!r}")
    status, head, body = register(t, server, uuid, seed.totp(key), source=attacker)
    t.check(status == 429, f"a right code from a throttled address must not be checked: {status}")
    first_wait = int(seed.header_value(head, "Retry-After") or 0)
    t.check(first_wait >= 1, f"429 without Retry-After: {head!r}")
    t.log(f"after 5 failures: 429, Retry-After {first_wait}: {diagnostic(body)}")

    # Waiting it out allows one more check; failing it doubles the wait.
    time.sleep(first_wait + 0.2)  # the server's own delay, read from its answer
    status, _, _ = register(t, server, uuid, wrong_token(key), source=attacker)
    t.check(status == 401, f"after Retry-After the next token is checked again: {status}")
    status, head, _ = register(t, server, uuid, wrong_token(key), source=attacker)
    second_wait = int(seed.header_value(head, "Retry-After") or 0)
    t.check(status == 429 and second_wait > first_wait,
            f"the delay must grow: {status}, Retry-After {second_wait} after {first_wait}")

    # The real hidden server (127.0.0.1) is not affected: its next registration parks.
    r = t.rvconnect(server.addr, uuid, input=b"through\n", extra=("--log-level", "warn"))
    t.expect_rc(r, 0, "client while an attacker is throttled")
    t.check(r.out == b"through\n", f"echo: {r.out!r}")
    hidden.wait_stderr(r"parked uuid=", count=2, timeout=10)
    # The current code is used (replay rule); the next step's is accepted too (clock skew).
    status, _, body = register(t, server, uuid, seed.totp(key, time.time() + 30), source="127.0.0.3")
    t.check(status == 200, f"a right code from an untouched address: {status} {body!r}")
    server.wait_stderr(r"status=429", timeout=5)


def spread_guesser(t, uuid, key, echo):
    server = t.rvserver(t.secrets_file([(uuid, key)]), extra=t.generous_limits())
    hidden = t.rvhidden(server.addr, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=1)
    # 20 addresses, one wrong token each: the UUID's 20 failures before it must wait.
    for i in range(20):
        status, _, _ = register(t, server, uuid, wrong_token(key), source=f"127.0.1.{i + 1}")
        t.check(status == 401, f"guess from address {i + 1}: {status}")
    status, _, body = register(t, server, uuid, seed.totp(key), source="127.0.1.200")
    t.check(status == 429, f"a new address once the UUID is throttled: {status} {body!r}")
    # The real rvhidden's address registered the UUID before: it still parks after a pairing.
    r = t.rvconnect(server.addr, uuid, input=b"still\n", extra=("--log-level", "warn"))
    t.expect_rc(r, 0, "client while the UUID is throttled for other addresses")
    hidden.wait_stderr(r"parked uuid=", count=2, timeout=10)
    # The status as a word: rvserver's port is in every 'parked' line, and one in 180 ports
    # contains "429" (the cause of this test's rare failures before).
    t.check(hidden.count_stderr(r"\b429\b") == 0, "the real hidden server met the throttle")


def replay(t, uuid, key, echo):
    # Default: a code registers again only from its first address.
    server = t.rvserver(t.secrets_file([(uuid, key)]), extra=t.generous_limits())
    code = seed.totp(key)
    t.check(register(t, server, uuid, code)[0] == 200, "first use of a code")
    t.check(register(t, server, uuid, code)[0] == 200, "same code, same address (seed hidden servers)")
    status, _, body = register(t, server, uuid, code, source="127.0.0.2")
    t.check(status == 401, f"same code from another address: {status}")
    t.log(f"replay from another address: 401: {diagnostic(body)}")
    server.kill()

    # Strict: never twice; rvhidden fills its pool of 4 with pool credentials all the same.
    strict = t.rvserver(t.secrets_file([(uuid, key)]), extra=(*t.generous_limits(), "--token-reuse", "never"))
    hidden = t.rvhidden(strict.addr, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=4, wait_parked=4,
                        log_level="debug")
    t.check(hidden.count_stderr(r"\b401\b") == 0, "rvhidden met a 401 filling its pool in strict mode")
    for i in range(3):
        r = t.rvconnect(strict.addr, uuid, input=b"strict %d\n" % i, extra=("--log-level", "warn"))
        t.expect_rc(r, 0, f"client {i} in strict mode")
        t.check(r.out == b"strict %d\n" % i, f"echo {i}: {r.out!r}")
    hidden.wait_stderr(r"parked uuid=", count=7, timeout=10)  # each taken slot refilled
    t.check(hidden.count_stderr(r"\b401\b") == 0, "rvhidden met a 401 refilling in strict mode")

    # By hand: rvhidden used the current code, so take the next step's (within the skew window).
    code = seed.totp(key, time.time() + 30)
    status, head, _ = register(t, strict, uuid, code, want_credential=True)
    t.check(status == 200, f"first use, strict: {status}")
    credential = seed.header_value(head, "Rendezvous-Pool-Credential")
    t.check(credential and seed.header_value(head, "Rendezvous-Pool-Max-Age") == "600",
            f"no pool credential in {head!r}")
    t.check(register(t, strict, uuid, code)[0] == 401, "a code twice with --token-reuse never")
    t.check(register(t, strict, uuid, None, credential=credential)[0] == 200, "the credential registers")
    t.check(register(t, strict, uuid, None, credential=credential)[0] == 200, "...again: the pool needs it")
    t.check(register(t, strict, "other-uuid", None, credential=credential)[0] == 401,
            "a credential is bound to its UUID")


def client_rate(t, uuid, key, echo):
    server = t.rvserver(t.secrets_file([(uuid, key)]), extra=("--client-rate", "0.2", "--client-burst", "2"))
    t.rvhidden(server.addr, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=4, wait_parked=4)
    for i in range(2):
        r = t.rvconnect(server.addr, uuid, input=b"ok\n", extra=("--log-level", "warn"))
        t.expect_rc(r, 0, f"client {i + 1} within the burst")
    r = t.rvconnect(server.addr, uuid, input=b"ok\n", extra=("--log-level", "warn"))
    t.expect_rc(r, 5, "third client past --client-burst 2")
    t.check("(429" in r.err_text and "retry after" in r.err_text.lower(),
            f"rvconnect must say why: {r.err_text!r}")
    # Another address has a bucket of its own.
    status, head, stream = None, None, None
    deadline = time.monotonic() + 10
    stream = seed.dial(server.addr, seed.client_tls_context(t.pki.ca), server_hostname="localhost",
                       source="127.0.0.2")
    try:
        stream.send_all(f"CONNECT uuid:{uuid} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), deadline)
        status = seed.parse_status(stream.read_head(deadline))
    finally:
        stream.close()
    t.check(status == 200, f"a client from another address: {status}")


def client_keys(t, uuid, key, echo):
    t.require("curl")
    open_uuid, open_key = t.identity()
    client_key = base64.b64encode(os.urandom(24)).decode()
    keys = t.write_file("client-keys", f"{uuid} {client_key}\n")
    both = t.secrets_file([(uuid, key), (open_uuid, open_key)])
    server = t.rvserver(both, extra=(*t.generous_limits(), "--client-keys", keys))
    web = t.http_service()
    t.rvhidden(server.addr, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=2, wait_parked=2)
    t.rvhidden(server.addr, open_uuid, t.secrets_file([(open_uuid, open_key)]), echo.addr, pool=1)

    no_keys = t.write_file("no-keys", "# none\n")
    r = t.rvconnect(server.addr, uuid, input=b"no key\n", extra=("--client-keys", no_keys))
    t.expect_rc(r, 5, "a client without the key")
    t.check("(403" in r.err_text and "client key" in r.err_text, f"rvconnect must say why: {r.err_text!r}")
    wrong = t.write_file("wrong-keys", f"{uuid} {base64.b64encode(os.urandom(24)).decode()}\n")
    r = t.rvconnect(server.addr, uuid, input=b"wrong key\n", extra=("--client-keys", wrong))
    t.expect_rc(r, 5, "a client with a wrong key")
    r = t.rvconnect(server.addr, uuid, input=b"with the key\n", extra=("--client-keys", keys))
    t.expect_rc(r, 0, "a client with the key")
    t.check(r.out == b"with the key\n", f"echo: {r.out!r}")
    r = t.rvconnect(server.addr, open_uuid, input=b"open\n", extra=("--client-keys", no_keys))
    t.expect_rc(r, 0, "a UUID without a client key takes any client")

    # HTTP: the key is the Basic password; it goes no further than rvserver.
    uuid_web, key_web = t.identity()
    web_keys = t.write_file("web-keys", f"{uuid_web} {client_key}\n")
    web_server = t.rvserver(t.secrets_file([(uuid_web, key_web)]), extra=("--client-keys", web_keys))
    t.rvhidden(web_server.addr, uuid_web, t.secrets_file([(uuid_web, key_web)]), web.addr, pool=1)
    url = f"https://{web_server.addr}/hello"
    r = t.run("curl", ["curl", "-sS", "--max-time", "20", "--cacert", t.pki.ca, "--basic", "-u",
                       f"{uuid_web}:{client_key}", url], timeout=30)
    t.expect_rc(r, 0, "curl with the key as the Basic password")
    t.check(r.out == b"hello world", f"curl: {r.out[:200]!r}")
    r = t.run("curl", ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "--cacert",
                       t.pki.ca, "--basic", "-u", f"{uuid_web}:wrong", url], timeout=30)
    t.check(r.out == b"403", f"curl with a wrong key: {r.out!r}")
    for line, headers in web.requests:
        t.check(not any(k.lower() in ("authorization", "rendezvous-client-key") for k in headers),
                f"a credential reached the hidden service: {line} {headers}")
        t.check(client_key not in repr(headers), "the client key reached the hidden service")
    t.check(len(web.requests) == 1, f"the service saw {len(web.requests)} requests, expected 1")


def main(t):
    echo = t.service(h.echo_handler, "echo")
    for name, scenario in (("failed tokens", failed_tokens), ("spread guesser", spread_guesser),
                           ("replay", replay), ("client rate", client_rate), ("client keys", client_keys)):
        t.log(f"--- {name}")
        uuid, key = t.identity()
        scenario(t, uuid, key, echo)


if __name__ == "__main__":
    h.run(main)
