#!/usr/bin/env python3
"""Out of descriptors. rvserver runs with RLIMIT_NOFILE 64 (soft and hard: it raises its soft limit
to the hard one) and gets 150 raw TCP connections that
never start TLS: its accept fails with EMFILE, which accept_each (lib/rv/io.hpp) logs once as
`accept failed: Too many open files; pausing 100 ms` (then a count every 10 s, not a line per
retry) and retries, never ending the accept loop. The server keeps running; a client that dials
during the shortage waits in the listen backlog and gets its tunnel once the raw connections
close; afterwards a fresh tunnel works and the server's descriptor count is back where it was
before the flood."""
import os
import re
import socket
import threading
import time

import harness as h

NOFILE = 64
RAW = 150  # well over NOFILE: the listen backlog (SOMAXCONN) holds what rvserver cannot accept
ACCEPT_FAILED = r"accept failed: Too many open files; pausing 100 ms"


def wait_fds_at_most(pid, limit, timeout):
    deadline = time.monotonic() + timeout
    n = h.fd_count(pid)
    while n > limit and time.monotonic() < deadline:  # bounded by the deadline
        time.sleep(0.1)
        n = h.fd_count(pid)
    return n


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, grace=5, extra=t.generous_limits(), preexec_fn=h.nofile_limit(NOFILE, hard=NOFILE))
    with open(f"/proc/{server.pid}/limits") as f:
        limit_line = next(line for line in f if line.startswith("Max open files"))
    t.check(limit_line.split()[3] == str(NOFILE), f"rvserver's limit: {limit_line.strip()}")
    t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=2, wait_parked=2)
    server.wait_stderr(r"uuid=" + re.escape(uuid) + r" parked \(2 waiting\)", timeout=10)
    before = h.fd_count(server.pid)
    t.log(f"rvserver: {before} descriptors open of {NOFILE}, 2 parked connections")

    host, port = server.addr.rsplit(":", 1)
    raw = []
    try:
        for _ in range(RAW):  # bounded
            raw.append(socket.create_connection((host, int(port)), timeout=5))
        server.wait_stderr(ACCEPT_FAILED, timeout=10)
        t.check(server.running(), "rvserver exited when out of descriptors")
        at_limit = h.fd_count(server.pid)
        t.log(f"{len(raw)} raw connections open; rvserver holds {at_limit} descriptors and logs "
              f"{ACCEPT_FAILED!r}")
        t.check(at_limit <= NOFILE, f"rvserver holds {at_limit} descriptors with a limit of {NOFILE}")
        time.sleep(1.5)  # at the limit: the loop keeps retrying every 100 ms, the process stays up
        t.check(server.running(), "rvserver exited while out of descriptors")
        failed = server.count_stderr(r"accept failed")
        t.log(f"{failed} 'accept failed' line(s) after 1.5 s at the limit")
        # One line, then a count every 10 s while it lasts (accept_each), not ten lines a second.
        t.check(failed == 1, f"{failed} 'accept failed' lines in 1.5 s: the shortage floods the log")

        # A client that dials now sits in the listen backlog behind the raw connections.
        early = []
        payload = os.urandom(256 * 1024)
        th = threading.Thread(target=lambda: early.append(t.rvconnect(server.addr, uuid, input=payload,
                                                                      timeout=40)), daemon=True)
        th.start()
        time.sleep(1.0)
        t.check(th.is_alive(), f"rvconnect during the shortage ended at once: {early!r}")
    finally:
        for s in raw:
            s.close()
    th.join(45)
    t.check(early, "rvconnect during the shortage did not finish")
    t.expect_rc(early[0], 0, "rvconnect that dialled during the shortage")
    t.check(early[0].out == payload, f"echo through the tunnel dialled during the shortage: sent "
                                     f"{len(payload)} bytes, got {len(early[0].out)}")
    t.log(f"the client that dialled during the shortage got its tunnel after {early[0].elapsed:.2f} s")

    payload = os.urandom(1 << 20)
    r = t.rvconnect(server.addr, uuid, input=payload)
    t.expect_rc(r, 0, "rvconnect after the shortage")
    t.check(r.out == payload, f"echo after the shortage: sent {len(payload)} bytes, got {len(r.out)}")
    t.check(server.running(), "rvserver exited")

    # rvhidden has re-parked its two connections; nothing of the flood is left open.
    after = wait_fds_at_most(server.pid, before, timeout=15)
    t.log(f"rvserver: {after} descriptors after the flood and two tunnels (before: {before})")
    t.check(after <= before, f"rvserver holds {after} descriptors after the flood, {before} before")


if __name__ == "__main__":
    h.run(main)
