#!/usr/bin/env python3
"""Scenario 7: `rvconnect --listen 127.0.0.1:0 UUID` prints its address and tunnels each accepted
TCP connection; three at once, each with its own payload, each echoed back unchanged."""
import os
import socket
import threading

import harness as h


def exchange(addr, payload, results, i):
    try:
        host, port = addr.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=20) as c:
            sender = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)))
            sender.start()
            results[i] = h.recv_until_eof(c)
            sender.join(20)
    except Exception as e:  # noqa: BLE001
        results[i] = e


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=4)

    local = t.spawn("rvconnect", [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(),
                                  "--listen", "127.0.0.1:0", uuid])
    addr = local.wait_stdout(r"listening (127\.0\.0\.1:\d+)\r?\n", timeout=10).group(1)

    payloads = [bytes([i]) * 10 + os.urandom(256 * 1024 + i) for i in range(3)]
    results = [None] * 3
    threads = [threading.Thread(target=exchange, args=(addr, p, results, i)) for i, p in enumerate(payloads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    for i, (p, r) in enumerate(zip(payloads, results)):
        t.check(isinstance(r, bytes), f"connection {i}: {r!r}")
        t.check(r == p, f"connection {i}: sent {len(p)} bytes, got {len(r)} (equal: {r == p})")
    t.check(echo.accepted == 3, f"the service saw {echo.accepted} connections, not 3")
    t.check(local.running(), "rvconnect --listen ended after its connections")


if __name__ == "__main__":
    h.run(main)
