#!/usr/bin/env python3
"""Connection caps and tunnel deadlines (issue 4), with the real programs:

- --max-connections-per-source 3: a fourth connection from one address is closed unread at
  accept (no TLS handshake is spent on it), another address is still served, and once one
  closes the address may connect again;
- bare TCP connections from one address hold no more than its share: with --max-connections 60
  and --max-connections-per-source 5, sixty idle connections from 127.0.0.1 leave room for a
  TLS client from 127.0.0.2, which is served;
- --max-connections 4: past it, new connections are closed unread (counted in
  rv_connections_dropped_total), and after they go a tunnel works;
- the metrics listener keeps at most 16 connections: a 17th idle one is closed at once;
- --idle-timeout 1: an idle tunnel is aborted (rvconnect exits non-zero, not 0), one that keeps
  talking outlives it; --half-closed-timeout 1: a client that half-closed while the service never
  answers or closes gets its tunnel aborted after about a second."""
import socket
import ssl
import subprocess
import time

import harness as h
import seed_peers as seed


def tls(t, server, source=None):
    return seed.dial(server.addr, seed.client_tls_context(t.pki.ca), server_hostname="localhost", source=source)


def status_of(t, server, source=None):
    """A client CONNECT for a UUID nobody serves (404 after --grace 0) or the server's refusal."""
    deadline = time.monotonic() + 10
    stream = tls(t, server, source)
    try:
        stream.send_all(b"CONNECT uuid:nobody HTTP/1.1\r\nHost: x\r\n\r\n", deadline)
        return seed.parse_status(stream.read_head(deadline))
    finally:
        stream.close()


def closed_unread(t, server, source=None):
    """Whether a TLS client from `source` is closed before its handshake completes."""
    try:
        stream = tls(t, server, source)
    except (ConnectionError, ssl.SSLError, OSError):
        return True
    stream.close()
    return False


def per_source(t, uuid, key):
    metrics_port = h.free_port()
    server = t.rvserver(t.secrets_file([(uuid, key)]), grace=0, log_level="debug",
                        extra=("--max-connections-per-source", "3", "--metrics", f"127.0.0.1:{metrics_port}"))
    held = [tls(t, server) for _ in range(3)]  # handshaken, idle: within --head-timeout
    t.check(closed_unread(t, server), "a fourth connection from 127.0.0.1 must be closed unread")
    server.wait_stderr(r"from 127\.0\.0\.1 \(--max-connections-per-source\): closing new ones unread", timeout=5)
    m = h.scrape_metrics(f"127.0.0.1:{metrics_port}")
    t.check(m.get("rv_connections_dropped_per_source_total", 0) >= 1, f"not counted: {m}")
    t.check(status_of(t, server, source="127.0.0.2") == 404, "another address is not counted")
    held.pop().close()
    deadline = time.monotonic() + 5
    for _ in range(100):  # the server notices the close asynchronously
        if not closed_unread(t, server):
            break
        t.check(time.monotonic() < deadline, "127.0.0.1 still refused after one of its connections closed")
        time.sleep(0.05)
    for s in held:
        s.close()


def bare_connections(t, uuid, key):
    """Idle TCP connections that never start TLS count against their address at accept."""
    server = t.rvserver(t.secrets_file([(uuid, key)]), grace=0,
                        extra=("--max-connections", "60", "--max-connections-per-source", "5"))
    host, port = seed.split_addr(server.addr)
    held = [socket.create_connection((host, port), timeout=5) for _ in range(60)]
    t.on_cleanup(lambda: [s.close() for s in held])
    server.wait_stderr(r"from 127\.0\.0\.1 \(--max-connections-per-source\): closing new ones unread", timeout=5)
    t.check(status_of(t, server, source="127.0.0.2") == 404,
            "a TLS client from another address while one address holds 60 bare connections")
    for s in held:
        s.close()


def total(t, uuid, key, echo):
    metrics_port = h.free_port()
    server = t.rvserver(t.secrets_file([(uuid, key)]),
                        extra=("--max-connections", "4", "--metrics", f"127.0.0.1:{metrics_port}"))
    metrics = f"127.0.0.1:{metrics_port}"
    host, port = seed.split_addr(server.addr)
    held = [socket.create_connection((host, port), timeout=5) for _ in range(4)]
    time.sleep(0.3)  # let the server accept them (it cannot say when)
    extra = socket.create_connection((host, port), timeout=5)
    extra.settimeout(5)
    try:
        data = extra.recv(100)
        t.check(data == b"", f"a connection past --max-connections got bytes: {data!r}")
    except ConnectionResetError:
        pass  # closed unread: a reset is as good as a FIN here
    extra.close()
    m = h.scrape_metrics(metrics)
    t.check(m.get("rv_connections_dropped_total", 0) >= 1, f"dropped not counted: {m}")
    t.check(m.get("rv_connections_open", 0) == 4, f"open connections: {m}")
    server.wait_stderr(r"connections open \(--max-connections\): closing new ones unread", timeout=5)
    for s in held:
        s.close()
    t.rvhidden(server.addr, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=1)
    r = t.rvconnect(server.addr, uuid, input=b"after the flood\n", extra=("--log-level", "warn"))
    t.expect_rc(r, 0, "a tunnel after the excess connections closed")
    t.check(r.out == b"after the flood\n", f"echo: {r.out!r}")


def metrics_listener(t, uuid, key):
    """The metrics listener holds at most 16 connections: idle ones past that are closed at once,
    and it serves scrapes again once they go."""
    metrics = f"127.0.0.1:{h.free_port()}"
    server = t.rvserver(t.secrets_file([(uuid, key)]), extra=("--metrics", metrics))
    server.wait_stdout(r"metrics 127\.0\.0\.1:\d+")
    host, port = seed.split_addr(metrics)
    held = [socket.create_connection((host, port), timeout=5) for _ in range(16)]
    t.on_cleanup(lambda: [s.close() for s in held])
    extra = socket.create_connection((host, port), timeout=5)
    extra.settimeout(3)
    try:
        data = extra.recv(100)
        t.check(data == b"", f"a 17th connection to the metrics listener got bytes: {data!r}")
    except ConnectionResetError:
        pass  # closed unread
    except socket.timeout:
        raise h.Failure("a 17th idle connection to the metrics listener was kept open") from None
    extra.close()
    server.wait_stderr(r"connections open to the metrics listener: closing new ones unread", timeout=5)
    for s in held:
        s.close()
    deadline = time.monotonic() + 5
    for _ in range(100):  # the server notices the closes asynchronously
        try:
            if "rv_connections_total" in h.scrape_metrics(metrics, timeout=2):
                break
        except OSError:
            pass
        t.check(time.monotonic() < deadline, "no scrape served after the idle connections closed")
        time.sleep(0.05)


def silent_handler(conn):
    """Reads and keeps everything, never answers, never closes first."""
    conn.settimeout(30)
    try:
        while conn.recv(65536):
            pass
        time.sleep(30)  # after the client's EOF: still no answer and no close
    except OSError:
        pass


def deadlines(t, uuid, key, echo):
    silent = t.service(silent_handler, "silent")
    server = t.rvserver(t.secrets_file([(uuid, key)]), extra=("--idle-timeout", "1", "--half-closed-timeout", "1"))
    t.rvhidden(server.addr, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=2, wait_parked=2)

    # A client that keeps talking every 300 ms for 2.5 s outlives the 1 s idle limit.
    argv = [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(), "--log-level", "warn", uuid]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t.on_cleanup(p.kill)
    for i in range(8):
        p.stdin.write(b"%d\n" % i)
        p.stdin.flush()
        time.sleep(0.3)
    out, err = p.communicate(timeout=10)  # closes stdin: the tunnel half-closes and ends
    t.check(p.returncode == 0 and out == b"".join(b"%d\n" % i for i in range(8)),
            f"a talking tunnel past --idle-timeout: rc {p.returncode} out {out!r} err {err!r}")

    # An idle one is aborted: rvconnect must not exit 0 as if the tunnel had ended cleanly.
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t.on_cleanup(p.kill)
    start = time.monotonic()
    try:
        p.wait(timeout=10)  # stdin stays open: only the idle limit ends it
    except subprocess.TimeoutExpired:
        raise h.Failure("an idle tunnel outlived --idle-timeout 1 by 10 s") from None
    took = time.monotonic() - start
    err = p.stderr.read()
    p.stdin.close()
    t.check(p.returncode != 0, f"idle tunnel: rvconnect exit {p.returncode}")
    t.check(0.9 <= took < 5, f"idle tunnel closed after {took:.1f} s")
    server.wait_stderr(r"tunnel closed .*error=", timeout=5)
    t.log(f"idle tunnel aborted after {took:.1f} s: {err.decode().strip()}")

    # Half-closed: the client sends and closes; the service never answers or closes.
    uuid2, key2 = t.identity()
    server2 = t.rvserver(t.secrets_file([(uuid2, key2)]), extra=("--half-closed-timeout", "1"))
    t.rvhidden(server2.addr, uuid2, t.secrets_file([(uuid2, key2)]), silent.addr, pool=1)
    start = time.monotonic()
    r = t.rvconnect(server2.addr, uuid2, input=b"request\n", extra=("--log-level", "warn"), timeout=15)
    took = time.monotonic() - start
    t.check(r.rc != 0, f"half-closed tunnel: rvconnect exit {r.rc}")
    t.check(took < 6, f"half-closed tunnel closed after {took:.1f} s")
    t.log(f"half-closed tunnel aborted after {took:.1f} s")


def main(t):
    echo = t.service(h.echo_handler, "echo")
    for name, scenario in (("per source", lambda u, k: per_source(t, u, k)),
                           ("bare connections", lambda u, k: bare_connections(t, u, k)),
                           ("total", lambda u, k: total(t, u, k, echo)),
                           ("metrics listener", lambda u, k: metrics_listener(t, u, k)),
                           ("deadlines", lambda u, k: deadlines(t, u, k, echo))):
        t.log(f"--- {name}")
        scenario(*t.identity())


if __name__ == "__main__":
    h.run(main)
