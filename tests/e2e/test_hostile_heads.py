#!/usr/bin/env python3
"""Hostile heads (bare CR and LF, obs-fold, NUL, two Hosts, Content-Length with Transfer-Encoding, oversize...). Raw heads over TLS (verifying the test CA), one connection per row, each answered
with exactly the status of docs/PROTOCOL.md §9 (and a JSON body with a diagnostic), then closed. Bytes
that are not TLS get a close; a slowloris is cut off by --head-timeout 1 while a real client still
gets its tunnel; afterwards the server still serves tunnels."""
import base64
import json
import os
import select
import socket
import threading
import time

import harness as h
import seed_peers as seed

HEAD_TIMEOUT = 1


def wrong_token(key):
    """Six digits that are not the token of any step near now."""
    now = time.time()
    near = {seed.totp(key, now + d * 30) for d in range(-3, 4)}
    return next(t for t in ("123456", "654321", "000001", "999998") if t not in near)


def rows(uuid, key, host):
    """(what, raw bytes sent in one write, the exact status line expected)."""
    connect = f"CONNECT uuid:{uuid} HTTP/1.1\r\n".encode()
    hostline = f"Host: {host}\r\n".encode()
    basic = base64.b64encode(f"{uuid}:x".encode()).decode()
    return [
        ("bare LF line endings", f"CONNECT uuid:{uuid} HTTP/1.1\nHost: {host}\n\n".encode(),
         "HTTP/1.1 400 Bad Request"),
        ("bare CR inside a line", connect + f"Host: {host}\r\nX-Cr: a\rb\r\n\r\n".encode(),
         "HTTP/1.1 400 Bad Request"),
        ("Content-Length with Transfer-Encoding (smuggling)",
         f"POST /x HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {basic}\r\nContent-Length: 4\r\n"
         f"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n".encode(),
         "HTTP/1.1 400 Bad Request"),
        ("obs-fold", connect + hostline + b"X-Folded: a\r\n b\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("space before colon", connect + f"Host : {host}\r\n\r\n".encode(), "HTTP/1.1 400 Bad Request"),
        ("NUL in a header", connect + hostline + b"X-Nul: a\x00b\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        ("two Host headers", connect + hostline + b"Host: other.example:443\r\n\r\n",
         "HTTP/1.1 400 Bad Request"),
        ("request line over 8 KiB", b"GET /" + b"a" * (9 * 1024) + b" HTTP/1.1\r\n" + hostline + b"\r\n",
         "HTTP/1.1 400 Bad Request"),  # docs/PROTOCOL.md §2.2: over the limits is 400, not 431
        ("head over 16 KiB of many headers",
         connect + hostline + b"".join(b"X-Filler-%02d: %s\r\n" % (i, b"f" * 480) for i in range(40)) + b"\r\n",
         "HTTP/1.1 400 Bad Request"),  # docs/PROTOCOL.md §2.2: over the limits is 400, not 431
        ("CONNECT to an http: URI", b"CONNECT http://x HTTP/1.1\r\n" + hostline + b"\r\n",
         "HTTP/1.1 403 Forbidden"),
        ("CONNECT with a query but no response=", b"CONNECT uuid:abc?foo=1 HTTP/1.1\r\n" + hostline + b"\r\n",
         "HTTP/1.1 407 Proxy Authentication Required"),
        ("registration with bytes after its head",
         lambda: f"CONNECT uuid:{uuid}?response={seed.totp(key)} HTTP/1.1\r\nHost: {host}\r\n"
                 f"Rendezvous-Notify: 1\r\n\r\nSSH-2.0-early\r\n".encode(),
         "HTTP/1.1 409 Conflict"),
        ("registration with a wrong token",
         f"CONNECT uuid:{uuid}?response={wrong_token(key)} HTTP/1.1\r\n".encode() + hostline + b"\r\n",
         "HTTP/1.1 401 Unauthorized"),
    ]


def ask(t, addr, raw, what):
    """One connection: TLS, `raw` in one write; returns (status line, head, body) and checks that the
    server then closes."""
    deadline = time.monotonic() + 10
    stream = seed.dial(addr, seed.client_tls_context(t.pki.ca), server_hostname="localhost")
    try:
        stream.send_all(raw, deadline)
        head = stream.read_head(deadline)
        body = stream.read_all(deadline, limit=64 * 1024)  # the server closes after its answer
    except (OSError, ValueError, TimeoutError) as e:
        raise h.Failure(f"{what}: no complete answer: {e!r}") from None
    finally:
        stream.close()
    return head.split("\r\n", 1)[0], head, body


def check_error_body(t, head, body, what):
    length = seed.header_value(head, "Content-Length")
    t.check(length == str(len(body)), f"{what}: Content-Length {length}, body {len(body)} bytes")
    try:
        diagnostic = json.loads(body)["error"]["diagnostic"]
    except (ValueError, KeyError, TypeError):
        raise h.Failure(f"{what}: body is not {{\"error\":{{...\"diagnostic\"}}}}: {body[:200]!r}") from None
    t.check(isinstance(diagnostic, str) and diagnostic, f"{what}: empty diagnostic in {body!r}")
    return diagnostic


def not_tls(t, addr, raw, what):
    """Bytes that are not a TLS ClientHello: the server closes (FIN), sending no HTTP answer."""
    host, port = seed.split_addr(addr)
    got = bytearray()
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(raw)
        deadline = time.monotonic() + 5
        for _ in range(1000):
            left = deadline - time.monotonic()
            t.check(left > 0, f"{what}: the server kept the connection open for 5 s")
            r, _, _ = select.select([s], [], [], left)
            if not r:
                continue
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                raise h.Failure(f"{what}: closed with a reset, not a clean close "
                                f"(after {bytes(got)[:40]!r})") from None
            if not data:
                break
            got += data
    t.check(not got.startswith(b"HTTP/"), f"{what}: answered in plaintext: {bytes(got)[:80]!r}")
    t.log(f"{what}: closed after {len(got)} bytes {bytes(got[:7]).hex()}")


class Slowloris(threading.Thread):
    """A TLS handshake, then a never-ending head, one byte per 200 ms. Records when the server
    cut it off (its answer or its close) and what it said."""

    def __init__(self, t, addr, uuid):
        super().__init__(daemon=True)
        self.t, self.addr = t, addr
        self.head = (f"CONNECT uuid:{uuid} HTTP/1.1\r\nHost: {addr}\r\nX-Slow: " + "z" * 200).encode()
        self.answer = bytearray()
        self.cut_after = None  # seconds from the end of the handshake
        self.error = None

    def run(self):
        try:
            stream = seed.dial(self.addr, seed.client_tls_context(self.t.pki.ca), server_hostname="localhost")
        except Exception as e:  # noqa: BLE001
            self.error = e
            return
        start = time.monotonic()
        try:
            for i in range(len(self.head)):  # bounded: 200 bytes x 0.2 s
                stream.write(self.head[i:i + 1])
                stream.flush()
                r, _, _ = select.select([stream.sock], [], [], 0.2)
                data = stream.read_nb() if r else None
                if data is not None:
                    self.cut_after = time.monotonic() - start
                    self.answer += data
                    return
        except OSError:
            self.cut_after = time.monotonic() - start
        finally:
            stream.close()


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, grace=2, extra=["--head-timeout", str(HEAD_TIMEOUT)])
    t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=2, wait_parked=2)

    failures = []
    for what, raw, expected in rows(uuid, key, server.addr):
        status, head, body = ask(t, server.addr, raw() if callable(raw) else raw, what)
        if status != expected:
            failures.append(f"{what}: expected {expected!r}, got {status!r} (body {body[:160]!r})")
            continue
        diagnostic = check_error_body(t, head, body, what)
        t.log(f"{what}: {status}: {diagnostic}")
    t.check(not failures, "wrong answers:\n    " + "\n    ".join(failures))

    not_tls(t, server.addr, b"\x00\x01garbage that is not TLS\r\n\r\n" + os.urandom(64), "non-TLS garbage")
    not_tls(t, server.addr, f"GET / HTTP/1.1\r\nHost: {server.addr}\r\n\r\n".encode(), "plaintext HTTP")

    slow = Slowloris(t, server.addr, uuid)
    slow.start()
    payload = os.urandom(100_000)
    r = t.rvconnect(server.addr, uuid, input=payload)
    busy = slow.is_alive()
    slow.join(15)
    t.expect_rc(r, 0, "rvconnect during a slowloris")
    t.check(r.out == payload, f"rvconnect during a slowloris: sent {len(payload)} bytes, got {len(r.out)}")
    t.check(slow.error is None, f"slowloris: {slow.error!r}")
    t.check(slow.cut_after is not None, "slowloris: never cut off")
    t.log(f"slowloris cut off after {slow.cut_after:.2f} s ({bytes(slow.answer[:40])!r}); "
          f"the tunnel finished {'while it was still trickling' if busy else 'after it'}")
    t.check(HEAD_TIMEOUT - 0.2 <= slow.cut_after < HEAD_TIMEOUT + 2.5,
            f"slowloris cut off after {slow.cut_after:.2f} s with --head-timeout {HEAD_TIMEOUT}")
    if slow.answer:
        line = bytes(slow.answer).split(b"\r\n", 1)[0]
        t.check(line == b"HTTP/1.1 408 Request Timeout", f"slowloris answered {line!r}")

    r = t.rvconnect(server.addr, uuid, input=b"still serving\n")
    t.expect_rc(r, 0, "rvconnect after the hostile heads")
    t.check(r.out == b"still serving\n", f"echo after the hostile heads: {r.out!r}")
    t.check(server.running(), "rvserver exited")


if __name__ == "__main__":
    h.run(main)
