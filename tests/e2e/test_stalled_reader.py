#!/usr/bin/env python3
"""Bounded per-tunnel buffers: a peer that stops reading stalls only its own tunnel.

One rvserver, one rvhidden serving three UUIDs, two `rvconnect --listen`:
- tunnel A-up: the client pushes as fast as it can, the local service never reads;
- tunnel A-down: the local service streams as fast as it can, the client never reads;
- tunnel B: while both A tunnels are stalled, 32 MiB go through an echo service and come back with
  the right SHA-256.
The pushers of A stop making progress (the stall reaches back to them instead of piling up in
rvserver), rvserver's VmRSS stays within a fixed bound of what it was with only parked
connections, and when A's ends go away both stalled tunnels close and rvserver's descriptors
return to what they were."""
import os
import select
import socket
import threading
import time

import harness as h

B_BYTES = 32 << 20
PUSH_CAP = 1 << 30  # what each A peer tries to push at most (it stalls long before)
CHUNK = 64 * 1024

# rvserver's memory for one tunnel, whatever its peers do (ARCHITECTURE.md, tls_stream.hpp,
# relay.cpp): per leg a tls_stream with one 64 KiB socket read buffer and one 65 KiB write
# buffer (its write BIO holds at most one chunk ahead of the socket) plus OpenSSL's record
# buffers (~2 x 17 KiB), and per direction one 32 KiB relay chunk: about 0.5 MiB a tunnel (the
# soak measures 0.46 MiB of heap per busy tunnel). Three tunnels are open here, so ~1.5 MiB; the
# bound leaves room for allocator slack but is far below what A's peers try to push (up to
# PUSH_CAP each, all the while B runs: a server that kept reading from a stalled tunnel would
# hold all of it). Bounded, a stalled peer's bytes wait in kernel socket buffers (not in VmRSS)
# and then in the pusher itself, whose send() is no longer taken.
RSS_GROWTH_BOUND_KIB = 8 * 1024


class Pusher(threading.Thread):
    """Sends `data` over `sock` as fast as the socket takes it, up to PUSH_CAP, until stopped;
    `sent` counts the bytes the kernel accepted."""

    def __init__(self, sock, stop, deadline):
        super().__init__(daemon=True)
        self.sock, self.stop, self.deadline = sock, stop, deadline
        self.sent = 0
        self.error = None

    def run(self):
        data = os.urandom(CHUNK)
        self.sock.setblocking(False)
        try:
            while self.sent < PUSH_CAP and not self.stop.is_set() and time.monotonic() < self.deadline:
                _, w, _ = select.select([], [self.sock], [], 0.2)
                if w:
                    try:
                        self.sent += self.sock.send(data)
                    except BlockingIOError:
                        pass
        except OSError as e:
            self.error = e


def wait_stalled(t, what, counter, quiet=2.0, timeout=30.0):
    """Waits until counter() has not grown for `quiet` seconds; returns its value."""
    deadline = time.monotonic() + timeout
    last, since = counter(), time.monotonic()
    while time.monotonic() < deadline:  # bounded by the deadline
        time.sleep(0.2)
        now = counter()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet and now > 0:
            return now
    raise h.Failure(f"{what}: still moving after {timeout} s ({last} bytes): not stalled")


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.peak = pid, threading.Event(), h.rss_kib(pid)

    def run(self):
        for _ in range(100_000):  # bounded; stopped long before
            if self.stop.wait(0.05):
                return
            try:
                self.peak = max(self.peak, h.rss_kib(self.pid))
            except (OSError, h.Failure):
                return


def main(t):
    up_id, up_key = t.identity()
    down_id, down_key = t.identity()
    b_id, b_key = t.identity()
    secrets = t.secrets_file([(up_id, up_key), (down_id, down_key), (b_id, b_key)])
    stop = threading.Event()
    release_up = threading.Event()
    t.on_cleanup(stop.set)
    t.on_cleanup(release_up.set)
    deadline = time.monotonic() + 100
    streamed = []  # A-down's service: bytes its socket accepted

    def never_reads(conn):
        release_up.wait(100)  # then the service closes with unread input: a reset

    def streams(conn):
        pusher = Pusher(conn, stop, deadline)
        streamed.append(pusher)
        pusher.run()

    sink = t.service(never_reads, "never-reads")
    source = t.service(streams, "streams")
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, extra=["--metrics", "127.0.0.1:0", *t.generous_limits()])
    metrics = server.wait_stdout(r"metrics (127\.0\.0\.1:\d+)\r?\n").group(1)
    hidden = t.spawn("rvhidden", [t.bin("rvhidden"), "--server", server.addr, "--secrets", secrets,
                                  *t.trust_args(), "--pool", "2", "--log-level", "info",
                                  "--service", f"{up_id} {sink.addr}",
                                  "--service", f"{down_id} {source.addr}",
                                  "--service", f"{b_id} {echo.addr}"])
    for u in (up_id, down_id, b_id):
        server.wait_stderr(r"uuid=" + u + r" parked \(2 waiting\)", timeout=15)
    fds_parked = h.fd_count(server.pid)
    rss_parked = h.rss_kib(server.pid)
    t.log(f"rvserver with 6 parked connections: {fds_parked} descriptors, VmRSS {rss_parked} KiB")
    sampler = RssSampler(server.pid)
    sampler.start()
    t.on_cleanup(sampler.stop.set)

    def listener(uuid):
        c = t.spawn("rvconnect", [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(),
                                  "--listen", "127.0.0.1:0", uuid])
        host, port = c.wait_stdout(r"listening (127\.0\.0\.1:\d+)\r?\n").group(1).rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=10)
        server.wait_stderr(r"uuid=" + uuid + r" hidden=\S+ mode=stream tunnel open", timeout=15)
        return c, s

    # A-up: the client pushes, the service never reads.
    up_client, up_sock = listener(up_id)
    up = Pusher(up_sock, stop, deadline)
    up.start()
    # A-down: the service streams, the client never reads.
    down_client, down_sock = listener(down_id)
    for _ in range(100):  # bounded: the service's handler starts once rvhidden connects
        if streamed:
            break
        time.sleep(0.1)
    t.check(streamed, "A-down's service never got its connection")
    down = streamed[0]

    up_stalled = wait_stalled(t, "A-up's client", lambda: up.sent)
    down_stalled = wait_stalled(t, "A-down's service", lambda: down.sent)
    rss_stalled = h.rss_kib(server.pid)
    t.log(f"stalled: A-up's client got {up_stalled} bytes into the tunnel, A-down's service "
          f"{down_stalled}; rvserver VmRSS {rss_stalled} KiB")
    t.check(up.error is None and down.error is None, f"a pusher failed: {up.error!r} {down.error!r}")

    # B, on the same rvserver and rvhidden, while both A tunnels stay stalled.
    payload = os.urandom(B_BYTES)
    start = time.monotonic()
    r = t.rvconnect(server.addr, b_id, input=payload, timeout=90)
    took = time.monotonic() - start
    t.expect_rc(r, 0, "rvconnect (tunnel B)")
    t.check(len(r.out) == len(payload) and h.sha256(r.out) == h.sha256(payload),
            f"tunnel B: sent {len(payload)} bytes, got {len(r.out)} back, SHA-256 "
            f"{'equal' if h.sha256(r.out) == h.sha256(payload) else 'differs'}")
    t.log(f"tunnel B echoed {B_BYTES >> 20} MiB in {took:.1f} s "
          f"({2 * B_BYTES / took / (1 << 20):.1f} MiB/s through rvserver)")

    m = h.scrape_metrics(metrics)
    t.check(m.get("rv_tunnels_open") == 2, f"rv_tunnels_open {m.get('rv_tunnels_open')}: A's two "
                                           "tunnels should still be open (stalled)")
    t.check(up_client.running() and down_client.running(), "an A client (rvconnect --listen) ended")
    up_after, down_after = up.sent, down.sent
    t.log(f"after B: A-up's client has pushed {up_after} bytes (+{up_after - up_stalled}), "
          f"A-down's service {down_after} (+{down_after - down_stalled})")
    # Still stalled: nothing of what they kept trying to push during B got through (a few
    # kernel-buffer bytes of slack).
    t.check(up_after - up_stalled < (1 << 20) and down_after - down_stalled < (1 << 20),
            f"A's pushers moved on while stalled: up +{up_after - up_stalled}, "
            f"down +{down_after - down_stalled}")

    sampler.stop.set()
    sampler.join(5)
    growth = sampler.peak - rss_parked
    t.log(f"rvserver VmRSS: {rss_parked} KiB parked only, {rss_stalled} KiB with A stalled, "
          f"peak {sampler.peak} KiB during B (+{growth} KiB; bound {RSS_GROWTH_BOUND_KIB} KiB)")
    for p in (hidden, up_client, down_client):
        t.log(f"{p.name} VmRSS {h.rss_kib(p.pid)} KiB")
    if t.sanitized("rvserver"):
        t.log("VmRSS bound not checked: AddressSanitizer's quarantine holds freed memory back")
    else:
        t.check(growth <= RSS_GROWTH_BOUND_KIB,
                f"rvserver's VmRSS grew by {growth} KiB with A's peers stalled (bound "
                f"{RSS_GROWTH_BOUND_KIB} KiB): it buffers what a stalled peer pushes")

    # A's ends go away: the service that never read closes (a reset), the client that never
    # read closes; each stalled tunnel is torn down and rvserver is back to its parked state.
    release_up.set()
    down_sock.close()
    server.wait_stderr(r"uuid=" + up_id + r" tunnel closed", timeout=15)
    server.wait_stderr(r"uuid=" + down_id + r" tunnel closed", timeout=15)
    stop.set()
    up_sock.close()
    for u in (up_id, down_id, b_id):  # rvhidden re-parks the ones taken
        server.wait_stderr(r"uuid=" + u + r" parked \(2 waiting\)", timeout=15, count=2)
    fds = h.fd_count(server.pid)
    for _ in range(50):  # bounded: 5 s for the last closes
        if fds <= fds_parked:
            break
        time.sleep(0.1)
        fds = h.fd_count(server.pid)
    t.log(f"after A closed: {fds} descriptors (parked only: {fds_parked}), "
          f"VmRSS {h.rss_kib(server.pid)} KiB")
    t.check(fds <= fds_parked, f"rvserver holds {fds} descriptors after every tunnel closed, "
                               f"{fds_parked} with the same parked connections before")
    t.check(server.running(), "rvserver exited")


if __name__ == "__main__":
    h.run(main, timeout=140)
