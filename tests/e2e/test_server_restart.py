#!/usr/bin/env python3
"""The rendezvous server restarts. rvhidden (--pool 3) loses its parked connections when rvserver
stops (SIGTERM: exit 0), warns once while the server is down, backs off instead of spinning, and
parks its pool again at a new rvserver on the same port; a new tunnel then works."""
import os
import re
import signal
import time

import harness as h

POOL = 3
CANNOT_CONNECT = r"cannot connect to "


def tunnel_works(t, server, uuid, what):
    payload = os.urandom(64 * 1024)
    r = t.rvconnect(server.addr, uuid, input=payload, timeout=20)
    t.expect_rc(r, 0, what)
    t.check(r.out == payload, f"{what}: sent {len(payload)} bytes, got {len(r.out)}")


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets)
    # debug: a repeated connection failure is a debug line, so each attempt can be counted.
    hidden = t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=POOL, wait_parked=POOL,
                        log_level="debug")
    tunnel_works(t, server, uuid, "tunnel before the restart")
    hidden.wait_stderr(r"parked uuid=", count=POOL + 1)  # the pool refilled after that tunnel

    os.kill(server.pid, signal.SIGTERM)
    t.check(server.wait_exit(5) == 0, f"rvserver exited {server.p.returncode} on SIGTERM, not 0")
    down_since = time.monotonic()
    parked_before = hidden.count_stderr(r"parked uuid=")

    hidden.wait_stderr(r"warn: " + CANNOT_CONNECT, timeout=10)
    time.sleep(max(0.0, down_since + 2.5 - time.monotonic()))  # a measuring window, not a wait
    attempts = hidden.count_stderr(CANNOT_CONNECT)
    warnings = hidden.count_stderr(r"warn: " + CANNOT_CONNECT)
    t.log(f"server down {time.monotonic() - down_since:.1f} s: {attempts} connection attempts, "
          f"{warnings} warning(s)")
    t.check(attempts <= 5 * POOL, f"rvhidden spins while the server is down: {attempts} attempts "
                                  f"in 2.5 s with a pool of {POOL}")

    restarted = t.rvserver(secrets, listen=server.addr)
    t.check(restarted.addr == server.addr, f"restarted on {restarted.addr}, not {server.addr}")
    hidden.wait_stderr(r"parked uuid=", timeout=15, count=parked_before + POOL)
    t.log(f"pool parked again {time.monotonic() - down_since:.1f} s after the server stopped")
    hidden.wait_stderr(r"registered at \S+ again", timeout=5)
    tunnel_works(t, restarted, uuid, "tunnel after the restart")

    # Settled: connection attempts at the new server stay bounded (the pool, plus one refill).
    time.sleep(1)  # a measuring window, not a wait
    registrations = restarted.count_stderr(r"uuid=" + re.escape(uuid) + r" parked \(")
    t.check(registrations <= POOL + 2, f"{registrations} registrations at the new server, pool {POOL}")
    t.check(hidden.running(), "rvhidden exited")


if __name__ == "__main__":
    h.run(main)
