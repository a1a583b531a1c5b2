#!/usr/bin/env python3
"""What a connection an attacker holds costs rvserver, for SECURITY.md's threat model.

Starts rvserver (defaults, --metrics on loopback), then from 127.0.0.2 opens N connections of
each kind an unauthenticated peer can hold, and reads rvserver's heap in use
(rv_heap_in_use_bytes) and VmRSS before and after:
- bare: TCP only, TLS never started (closed by --handshake-timeout, 10 s);
- handshaken: TLS done, no request head (closed by --head-timeout, 10 s);
- waiting: a client CONNECT for a UUID that has no parked connection (404 after --grace, 3 s).
Prints one line per kind: KiB of heap and of VmRSS per connection. Python 3 stdlib, e2e harness.

  python3 tests/bench/held_connections.py --build-dir build [--count 500]
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import harness as h  # noqa: E402
import seed_peers as seed  # noqa: E402


def add_args(ap):
    ap.add_argument("--count", type=int, default=500, help="connections of each kind (default 500)")


def settle(metrics, expect_open, timeout=10):
    deadline = time.monotonic() + timeout
    m = h.scrape_metrics(metrics)
    while m.get("rv_connections_open", 0) != expect_open and time.monotonic() < deadline:
        time.sleep(0.1)
        m = h.scrape_metrics(metrics)
    return m


def main(t):
    n = t.args.count
    uuid, key = t.identity()
    metrics = f"127.0.0.1:{h.free_port()}"
    server = t.rvserver(t.secrets_file([(uuid, key)]), extra=("--metrics", metrics, "--grace", "30",
                                                             "--handshake-timeout", "60", "--head-timeout", "60"))
    server.wait_stdout(r"metrics ")
    host, port = seed.split_addr(server.addr)
    ctx = seed.client_tls_context(t.pki.ca)

    def bare():
        return socket.create_connection((host, port), timeout=10, source_address=("127.0.0.2", 0))

    def handshaken():
        return seed.dial(server.addr, ctx, server_hostname="localhost", source="127.0.0.2")

    def waiting():
        s = handshaken()
        s.send_all(f"CONNECT uuid:{uuid} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), time.monotonic() + 10)
        return s

    print(f"rvserver {t.bin('rvserver')}, {n} connections of each kind from 127.0.0.2")
    for name, make in (("bare TCP", bare), ("TLS, no head", handshaken), ("CONNECT waiting for a parked one", waiting)):
        base = settle(metrics, 0)
        heap0, rss0 = base["rv_heap_in_use_bytes"], h.rss_kib(server.pid)
        held = [make() for _ in range(n)]
        m = settle(metrics, n)
        heap1, rss1 = m["rv_heap_in_use_bytes"], h.rss_kib(server.pid)
        t.check(m["rv_connections_open"] == n, f"{name}: {m['rv_connections_open']} open, expected {n}")
        print(f"  {name:34s} heap {(heap1 - heap0) / n / 1024:6.1f} KiB, VmRSS {(rss1 - rss0) / n:6.1f} KiB "
              f"per connection")
        for s in held:
            s.close()


if __name__ == "__main__":
    h.run(main, timeout=180, add_args=add_args)
