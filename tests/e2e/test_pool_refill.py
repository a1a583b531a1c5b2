#!/usr/bin/env python3
"""Pool refill. rvhidden keeps only 2 connections parked, yet 8 clients that are all open at the
same time each get a tunnel: the server's grace lets them wait while rvhidden refills its pool,
one new parked connection for each one taken."""
import subprocess

import harness as h

POOL = 2
CLIENTS = 8


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, grace=5)
    hidden = t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=POOL, wait_parked=POOL)

    clients = [t.spawn("rvconnect", [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(), uuid],
                       stdin=subprocess.PIPE)
               for _ in range(CLIENTS)]
    for i, c in enumerate(clients):
        c.p.stdin.write(f"client {i}\n".encode())
        c.p.stdin.flush()
    # Every client has its echo while all 8 tunnels are still open (no stdin closed yet).
    for i, c in enumerate(clients):
        c.wait_stdout(rf"client {i}\n", timeout=15)
    t.check(echo.accepted == CLIENTS, f"the service saw {echo.accepted} connections, not {CLIENTS}")
    t.check(all(c.running() for c in clients), "a client ended before its stdin closed")

    for c in clients:
        c.p.stdin.close()
    for i, c in enumerate(clients):
        rc = c.wait_exit(10)
        t.check(rc == 0, f"client {i}: exit {rc}: {c.stderr_text()[-300:]!r}")
        t.check(c.stdout_text() == f"client {i}\n", f"client {i}: got {c.stdout_text()!r}")

    # POOL parked at the start, then one refill per client taken.
    hidden.wait_stderr(r"parked uuid=", timeout=10, count=POOL + CLIENTS)
    t.log(f"rvhidden parked {hidden.count_stderr(r'parked uuid=')} connections for {CLIENTS} clients")


if __name__ == "__main__":
    h.run(main)
