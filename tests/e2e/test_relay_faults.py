#!/usr/bin/env python3
"""Relay correctness under faults. Whatever breaks, no end ever sees a corrupted byte or a clean
end of stream that was not one (docs/PROTOCOL.md §8: an abort on one side aborts the other):

- tampering: a TCP proxy between rvconnect and rvserver flips one bit of one TLS record once
  256 KiB of application data have passed, toward the server and then toward rvconnect: the
  tunnel is aborted, rvconnect exits 1, and both the local service and rvconnect's stdout hold
  an exact prefix of what was sent;
- rvhidden SIGKILLed while a 16 MiB stream flows to rvconnect: rvconnect exits 1, never 0 with
  a short file;
- the local service resets its connection (SO_LINGER 0) mid-stream: rvconnect exits 1; the local
  service ending its side first with a clean FIN is a half-close: rvconnect gets every byte, goes
  on sending, and exits 0 (test_half_close.py covers the other order: the client ends first);
- rvserver restarted (SIGTERM) while clients stream through 3 rvhidden: the streams end in
  exit 1, every rvhidden parks again within its --max-backoff, not all at the same instant
  (jitter), its descriptors and memory come back to their baseline, and new tunnels work.
"""
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
from datetime import datetime, timezone

import harness as h

KiB, MiB = 1024, 1 << 20
TAMPER_AFTER = 256 * KiB  # application data that passes a proxy before it flips a bit
POOL = 2
STREAMS_PER_HIDDEN = 3  # tunnels through each rvhidden when rvserver restarts
MAX_BACKOFF = 2  # rvhidden --max-backoff for the restart: its retries come at most this far apart
RSS_TOLERANCE_KIB = 256  # see restart_under_load
# What a message about a tampered record must say (OpenSSL: "decryption failed or bad record mac",
# or "bad record mac" with TLS 1.2's MAC-then-decrypt wording).
TLS_RECORD_FAILED = r"(?i)bad record mac|decrypt"


# ----------------------------------------------------------------------------- a tampering proxy

class RecordFlipper:
    """Follows the TLS records of one direction of a connection. Once `after` bytes of
    application_data record bodies (content type 23, which in TLS 1.3 also carries the encrypted
    handshake) have passed, flips one bit in the middle of the body of the next such record, once. Only the ciphertext changes, never a record header,
    so what fails is the record's authentication (AEAD), not the framing."""

    def __init__(self, after):
        self.after = after
        self.header = bytearray()
        self.kind = None
        self.left = 0          # body bytes of the current record still to come
        self.pos = 0           # body bytes of the current record already seen
        self.target = None     # body offset to flip in the current record
        self.app_bytes = 0
        self.flipped = None    # (record length, application bytes before it) once done

    def feed(self, data):
        data = bytearray(data)
        i = 0
        while i < len(data):
            if self.left == 0:  # a record header (5 bytes: type, version, length)
                take = min(5 - len(self.header), len(data) - i)
                self.header += data[i:i + take]
                i += take
                if len(self.header) == 5:
                    self.kind, self.left, self.pos = self.header[0], int.from_bytes(self.header[3:5], "big"), 0
                    self.header.clear()
                    if self.kind == 23 and self.flipped is None and self.app_bytes >= self.after and self.left:
                        self.target = self.left // 2
                        self.flipped = (self.left, self.app_bytes)
                continue
            take = min(self.left, len(data) - i)
            if self.target is not None and self.pos <= self.target < self.pos + take:
                data[i + self.target - self.pos] ^= 0x10
                self.target = None
            self.pos += take
            self.left -= take
            i += take
            if self.kind == 23:
                self.app_bytes += take
        return bytes(data)


class TamperProxy:
    """127.0.0.1:0 -> `upstream`, for one connection at a time, in one thread. Passes bytes both
    ways, a FIN on as a FIN and a reset on as a reset; bytes going `direction` ('up': toward
    upstream, 'down': back) go through a RecordFlipper first."""

    def __init__(self, t, upstream, direction, after=TAMPER_AFTER):
        self.upstream = upstream
        self.direction = direction
        self.flipper = RecordFlipper(after)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.addr = "127.0.0.1:%d" % self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        t.on_cleanup(self.close)

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.listener.close()

    def _loop(self):
        while not self.stop.is_set():
            r, _, _ = select.select([self.listener], [], [], 0.2)
            if r:
                down, _ = self.listener.accept()
                try:
                    self._serve(down)
                except Exception as e:  # noqa: BLE001
                    self.errors.append(repr(e))

    def _serve(self, a):
        host, port = self.upstream.rsplit(":", 1)
        b = socket.create_connection((host, int(port)), timeout=10)
        peer = {a: b, b: a}
        towards = {b: "up", a: "down"}  # bytes written to b go up
        pending = {a: bytearray(), b: bytearray()}
        ended = set()  # sockets whose peer sent FIN
        shut = set()
        for s in (a, b):
            s.setblocking(False)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline and not self.stop.is_set():
                readers = [s for s in (a, b) if s not in ended and len(pending[peer[s]]) < MiB]
                writers = [s for s in (a, b) if pending[s]]
                if not readers and not writers:
                    return  # both ends closed, everything passed on
                r, w, _ = select.select(readers, writers, [], 0.2)
                for s in r:
                    try:
                        data = s.recv(65536)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:  # a reset: reset the other side too
                        self._reset(peer[s])
                        return
                    if not data:
                        ended.add(s)
                    elif towards[peer[s]] == self.direction:
                        pending[peer[s]] += self.flipper.feed(data)
                    else:
                        pending[peer[s]] += data
                for s in w:
                    try:
                        n = s.send(pending[s])
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        self._reset(peer[s])
                        return
                    del pending[s][:n]
                for s in (a, b):  # a FIN goes on once what came before it has
                    if peer[s] in ended and not pending[s] and s not in shut:
                        shut.add(s)
                        try:
                            s.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
        finally:
            a.close()
            b.close()

    @staticmethod
    def _reset(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


# ----------------------------------------------------------------------------- services

class Sessions:
    """What a local service saw, per connection: the bytes it read and how its input ended
    ('eof', 'reset' or None while open)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.all = []

    def new(self):
        s = {"got": bytearray(), "end": None, "fin_sent": threading.Event()}
        with self.lock:
            self.all.append(s)
        return s

    def last(self, timeout=10.0):
        """The newest session, once its input has ended (bounded wait)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if self.all and self.all[-1]["end"] is not None:
                    return self.all[-1]
            time.sleep(0.02)
        raise h.Failure(f"the local service's connection did not end within {timeout} s "
                        f"({len(self.all)} sessions)")


def read_into(conn, session, limit=None):
    """Reads into session['got'] until end of stream (or `limit` bytes); records how it ended."""
    while limit is None or len(session["got"]) < limit:
        try:
            data = conn.recv(65536 if limit is None else min(65536, limit - len(session["got"])))
        except ConnectionResetError:
            session["end"] = "reset"
            return False
        if not data:
            session["end"] = "eof"
            return False
        session["got"] += data
    return True


def recording_echo(sessions):
    def handler(conn):
        s = sessions.new()
        try:
            while True:
                before = len(s["got"])
                more = read_into(conn, s, limit=before + 65536)
                conn.sendall(s["got"][before:])
                if not more:
                    break
            if s["end"] == "eof":
                conn.shutdown(socket.SHUT_WR)
        except OSError:
            s["end"] = s["end"] or "reset"
    return handler


def paced_source(data, chunk=64 * KiB, pause=0.002):
    """Sends `data` in chunks with a pause between them (a stream that lasts), then FIN; stops at
    the first error. Reads nothing."""
    def handler(conn):
        try:
            for i in range(0, len(data), chunk):
                conn.sendall(data[i:i + chunk])
                time.sleep(pause)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    return handler


def resetter(sessions, read_first, reply):
    """Reads `read_first` bytes, sends `reply`, then closes with SO_LINGER 0: a TCP reset."""
    def handler(conn):
        s = sessions.new()
        read_into(conn, s, limit=read_first)
        conn.sendall(reply)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()
        s["end"] = "we reset"
    return handler


def fin_first(sessions, read_first, reply):
    """Reads `read_first` bytes, sends `reply`, ends its side (FIN), then reads on to the end."""
    def handler(conn):
        s = sessions.new()
        read_into(conn, s, limit=read_first)
        conn.sendall(reply)
        conn.shutdown(socket.SHUT_WR)
        s["fin_sent"].set()
        read_into(conn, s)
    return handler


def mode_service(stream, pause):
    """The first line picks: 'stream' -> paced_source(stream, pause=pause); anything else -> echo."""
    def handler(conn):
        line = bytearray()
        while not line.endswith(b"\n") and len(line) < 100:
            b = conn.recv(1)
            if not b:
                return
            line += b
        if line == b"stream\n":
            paced_source(stream, pause=pause)(conn)
        else:
            conn.sendall(line)
            h.echo_handler(conn)
    return handler


# ----------------------------------------------------------------------------- checks

def wait_out_bytes(proc, n, timeout=10.0):
    """Waits until `proc` has written at least n bytes on stdout (its reader thread keeps up)."""
    deadline = time.monotonic() + timeout
    exited_at = None
    with proc.cond:
        while len(proc.out) < n:
            now = time.monotonic()
            if not proc.running():
                exited_at = exited_at or now
            if now >= deadline or (exited_at and now - exited_at > 1.0):
                raise h.Failure(f"{proc.name}: {len(proc.out)} bytes on stdout, waited for {n} "
                                f"({'exited' if exited_at else f'not within {timeout} s'})")
            proc.cond.wait(0.2)


def check_prefix(t, got, sent, what, strict=True):
    """`got` must be sent[:len(got)] (and shorter, when strict): nothing corrupted, nothing made up."""
    got = bytes(got)
    if got != sent[:len(got)]:
        at = next(i for i in range(len(got)) if got[i] != sent[i]) if len(got) <= len(sent) else len(sent)
        raise h.Failure(f"{what}: {len(got)} bytes that are not a prefix of the {len(sent)} sent "
                        f"(first difference at byte {at})")
    t.check(not strict or len(got) < len(sent), f"{what}: all {len(sent)} bytes arrived, though the stream was cut")


def expect_abort(t, rc, what):
    t.check(rc == 1, f"{what}: rvconnect exited {rc}, expected 1 (the tunnel was aborted)")


def tunnel_closed_line(server, since):
    """The first 'tunnel closed' line rvserver logs after the `since` before it (waits up to 10 s)."""
    server.wait_stderr(r"tunnel closed", timeout=10, count=since + 1)
    return re.findall(r"conn=\d+ uuid=\S+ tunnel closed [^\n]*", server.stderr_text())[since]


# ----------------------------------------------------------------------------- the scenarios

def tamper(t, server, uuid, sessions, direction):
    """Returns what is wrong with the messages (checked by main once every scenario has run);
    anything wrong with the bytes or the exit status fails at once."""
    proxy = TamperProxy(t, server.addr, direction)
    payload = os.urandom(2 * MiB)
    path = t.write_file(f"tamper-{direction}", payload)
    closed_before = server.count_stderr(r"tunnel closed")
    r = t.rvconnect(proxy.addr, uuid, stdin_path=path, server_name="localhost", timeout=20)
    what = f"bit flipped {'toward rvserver' if direction == 'up' else 'toward rvconnect'}"
    t.check(not proxy.errors, f"{what}: proxy: {proxy.errors}")
    t.check(proxy.flipper.flipped, f"{what}: the proxy flipped nothing "
                                   f"({proxy.flipper.app_bytes} application bytes passed)")
    expect_abort(t, r.rc, what)
    check_prefix(t, r.out, payload, f"{what}: rvconnect's stdout")
    s = sessions.last()
    check_prefix(t, s["got"], payload, f"{what}: the local service's input", strict=direction == "up")
    line = tunnel_closed_line(server, closed_before)
    problems = []
    if direction == "up":  # rvserver itself read the bad record
        t.check(s["end"] == "reset", f"{what}: the local service's input ended with {s['end']}, not a reset")
        t.check("error=" in line, f"{what}: rvserver logged a clean end of the tunnel: {line!r}")
        if not re.search(TLS_RECORD_FAILED, line):
            problems.append(f"{what}: rvserver's log does not say the client's TLS record failed: {line!r}")
    elif not re.search(TLS_RECORD_FAILED, r.err_text):
        # rvconnect read the bad record (rvserver may well have finished both directions cleanly).
        problems.append(f"{what}: rvconnect does not say a TLS record failed: {r.err_text.strip()[-200:]!r}")
    length, before = proxy.flipper.flipped
    t.log(f"{what} (a {length}-byte record after {before // KiB} KiB): exit {r.rc}, stdout {len(r.out)} "
          f"bytes, service read {len(s['got'])} and saw {s['end']}; rvserver: {line.split('tunnel closed ')[1]}")
    return problems


def kill_hidden_mid_stream(t, server, uuid, secrets):
    stream = os.urandom(16 * MiB)
    source = t.service(paced_source(stream), "source")
    hidden = t.rvhidden(server.addr, uuid, secrets, source.addr, pool=1)
    client = t.spawn("rvconnect", [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(), uuid])
    wait_out_bytes(client, MiB)
    os.kill(hidden.pid, signal.SIGKILL)
    at = len(client.out)
    rc = client.wait_exit(10)
    expect_abort(t, rc, "rvhidden killed mid-stream")
    check_prefix(t, client.out, stream, "rvhidden killed mid-stream: rvconnect's stdout")
    t.log(f"rvhidden SIGKILLed after {at // KiB} KiB of {len(stream) // MiB} MiB: rvconnect exit {rc} "
          f"with {len(client.out) // KiB} KiB")


def service_resets(t, server, uuid, secrets):
    sessions = Sessions()
    reply = os.urandom(256 * KiB)
    service = t.service(resetter(sessions, 256 * KiB, reply), "resetter")
    t.rvhidden(server.addr, uuid, secrets, service.addr, pool=1)
    payload = os.urandom(4 * MiB)
    r = t.rvconnect(server.addr, uuid, stdin_path=t.write_file("reset-input", payload), timeout=20)
    expect_abort(t, r.rc, "the local service reset its connection")
    check_prefix(t, r.out, reply, "the local service reset: rvconnect's stdout", strict=False)
    s = sessions.last()
    check_prefix(t, s["got"], payload, "the local service reset: its input")
    t.log(f"local service reset after reading {len(s['got']) // KiB} KiB and sending {len(reply) // KiB} KiB: "
          f"rvconnect exit {r.rc} with {len(r.out) // KiB} KiB")


def service_ends_first(t, server, uuid, secrets):
    sessions = Sessions()
    reply = os.urandom(MiB)
    service = t.service(fin_first(sessions, 256 * KiB, reply), "fin-first")
    t.rvhidden(server.addr, uuid, secrets, service.addr, pool=1)
    payload = os.urandom(2 * MiB)
    client = t.spawn("rvconnect", [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(), uuid],
                     stdin=subprocess.PIPE)
    client.p.stdin.write(payload[:256 * KiB])
    client.p.stdin.flush()
    wait_out_bytes(client, len(reply))
    deadline = time.monotonic() + 10
    while not sessions.all and time.monotonic() < deadline:
        time.sleep(0.02)
    t.check(sessions.all and sessions.all[-1]["fin_sent"].wait(10), "the service never ended its side")
    client.p.stdin.write(payload[256 * KiB:])  # after the service's FIN: must still reach it
    client.p.stdin.close()
    rc = client.wait_exit(15)
    t.check(rc == 0, f"service ended first: rvconnect exited {rc}, not 0: {client.stderr_text()[-300:]!r}")
    t.check(bytes(client.out) == reply, f"service ended first: rvconnect got {len(client.out)} bytes "
                                        f"of the {len(reply)} sent, or other bytes")
    s = sessions.last()
    t.check(s["end"] == "eof" and bytes(s["got"]) == payload,
            f"service ended first: it read {len(s['got'])} of {len(payload)} bytes after its FIN, "
            f"ending with {s['end']}")
    t.log(f"local service FIN first: rvconnect exit 0 with all {len(reply) // KiB} KiB and went on "
          f"sending {len(payload) // KiB} KiB")


def log_times(proc, pattern):
    """Wall-clock times (s) of the lines of proc's stderr matching pattern (the log's own
    millisecond timestamps)."""
    out = []
    for m in re.finditer(r"^(\S+Z) [^\n]*" + pattern, proc.stderr_text(), re.M):
        out.append(datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp())
    return out


def echo_works(t, server, uuid, what):
    payload = b"echo\n" + os.urandom(64 * KiB)
    r = t.rvconnect(server.addr, uuid, input=payload, timeout=20)
    t.expect_rc(r, 0, what)
    t.check(r.out == payload, f"{what}: sent {len(payload)} bytes, got {len(r.out)}")


def start_streams(t, server, ids):
    """STREAMS_PER_HIDDEN rvconnect per UUID, each reading a paced stream (stdin left open, so
    the tunnel lasts); returns them once each has received 256 KiB."""
    clients = []
    for u, _ in ids:
        for _ in range(STREAMS_PER_HIDDEN):
            c = t.spawn("rvconnect", [t.bin("rvconnect"), "--server", server.addr, *t.trust_args(), u],
                        stdin=subprocess.PIPE)
            c.p.stdin.write(b"stream\n")
            c.p.stdin.flush()
            clients.append(c)
    for c in clients:
        wait_out_bytes(c, 256 * KiB)
    return clients


def restart_under_load(t):
    ids = [t.identity() for _ in range(3)]
    secrets = t.secrets_file(ids)
    stream = os.urandom(32 * MiB)
    service = t.service(mode_service(stream, pause=0.02), "mode")
    server = t.rvserver(secrets)
    hiddens = [t.rvhidden(server.addr, u, secrets, service.addr, pool=POOL, wait_parked=POOL,
                          extra=["--max-backoff", str(MAX_BACKOFF)]) for u, _ in ids]
    idle = [h.rss_kib(p.pid) for p in hiddens]
    # Warm up with the load to come (STREAMS_PER_HIDDEN tunnels at once, then aborted), so that the
    # baseline holds what that much traffic makes the allocator keep for good.
    for c in start_streams(t, server, ids):
        c.kill()
    for (u, _), hidden in zip(ids, hiddens):
        hidden.wait_stderr(r"tunnel=\d+ closed", count=STREAMS_PER_HIDDEN)
        hidden.wait_stderr(r"parked uuid=", count=POOL + STREAMS_PER_HIDDEN)
        echo_works(t, server, u, "tunnel before the restart")
        hidden.wait_stderr(r"parked uuid=", count=POOL + STREAMS_PER_HIDDEN + 1)
    baseline = [(h.fd_count(p.pid), h.rss_kib(p.pid)) for p in hiddens]

    clients = start_streams(t, server, ids)
    loaded = [h.rss_kib(p.pid) for p in hiddens]
    parked_before = [p.count_stderr(r"parked uuid=") for p in hiddens]

    os.kill(server.pid, signal.SIGTERM)
    t.check(server.wait_exit(5) == 0, f"rvserver exited {server.p.returncode} on SIGTERM, not 0")
    down_since = time.monotonic()
    for i, c in enumerate(clients):
        rc = c.wait_exit(10)
        expect_abort(t, rc, f"client {i} streaming when rvserver stopped")
        check_prefix(t, c.out, stream, f"client {i} streaming when rvserver stopped")
    for p in hiddens:
        p.wait_stderr(r"warn: cannot connect to ", timeout=10)
    # Down long enough for each pool slot to go through a few jittered waits.
    time.sleep(max(0.0, down_since + 2.5 - time.monotonic()))  # a measuring window, not a wait

    restarted = t.rvserver(secrets, listen=server.addr)
    restarted.wait_stderr(r"listening on ")
    back_at = log_times(restarted, r"listening on ")[0]
    times = []
    for i, p in enumerate(hiddens):
        p.wait_stderr(r"parked uuid=", timeout=MAX_BACKOFF + 3, count=parked_before[i] + POOL)
        p.wait_stderr(r"registered at \S+ again", timeout=5)
        times += log_times(p, r"parked uuid=")[parked_before[i]:]
    delays = sorted(x - back_at for x in times)
    t.log("parked again after the restart: " + ", ".join(f"{d:.3f}" for d in delays) + " s")
    t.check(delays[-1] <= MAX_BACKOFF + 1.0,
            f"a pool slot parked again {delays[-1]:.2f} s after the restart, --max-backoff {MAX_BACKOFF}")
    # Without jitter every slot, having lost its connection at the same instant, would retry at
    # the same instants, and all would park again within a few ms of each other.
    t.check(delays[-1] - delays[0] >= 0.1,
            f"all {len(delays)} re-registrations within {1000 * (delays[-1] - delays[0]):.0f} ms: no jitter")

    # Back to baseline. Descriptors: exactly (the parked pool, the io_context's own, stdio): a
    # socket left over from an aborted tunnel or a lost parked connection is a leak. Memory: at
    # most RSS_TOLERANCE_KIB above the baseline. The warm-up ran the same load, so the allocator
    # already holds what that load needs, and what is left is noise: glibc keeps freed blocks for
    # reuse, and which pages a burst touches varies (-120 to +80 KiB in runs here). A leak of what
    # the restart dropped costs more: the warm-up's first tunnels grew RSS from idle by 450 to 800
    # KiB (logged below), and the restart drops as many tunnels and the parked pool.
    # AddressSanitizer (scripts/test --sanitize) quarantines freed memory instead of reusing it,
    # so RSS grows with every allocation there; its leak checker covers that build instead.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(h.fd_count(p.pid) != b[0] for p, b in zip(hiddens, baseline)):
        time.sleep(0.1)
    for i, (p, (fds, rss)) in enumerate(zip(hiddens, baseline)):
        now_fds, now_rss = h.fd_count(p.pid), h.rss_kib(p.pid)
        t.log(f"rvhidden {i}: fds {fds} -> {now_fds}; RSS idle {idle[i]} KiB, after warm-up {rss}, "
              f"under load {loaded[i]}, after the restart {now_rss}")
        t.check(now_fds == fds, f"rvhidden {i}: {now_fds} open descriptors after the restart, {fds} before")
        if t.sanitized("rvhidden"):
            t.log(f"rvhidden {i} runs with AddressSanitizer: RSS not compared")
            continue
        t.check(now_rss <= rss + RSS_TOLERANCE_KIB,
                f"rvhidden {i}: RSS {now_rss} KiB after the restart, baseline {rss} KiB "
                f"(+{RSS_TOLERANCE_KIB} KiB allowed)")
    for u, _ in ids:
        echo_works(t, restarted, u, "tunnel after the restart")


def main(t):
    ids = [t.identity() for _ in range(4)]
    secrets = t.secrets_file(ids)
    server = t.rvserver(secrets)

    (u0, _), (u1, _), (u2, _), (u3, _) = ids
    sessions = Sessions()
    echo = t.service(recording_echo(sessions), "recording-echo")
    t.rvhidden(server.addr, u0, secrets, echo.addr, pool=1)
    problems = []
    for direction in ("up", "down"):
        problems += tamper(t, server, u0, sessions, direction)

    kill_hidden_mid_stream(t, server, u1, secrets)
    service_resets(t, server, u2, secrets)
    service_ends_first(t, server, u3, secrets)
    restart_under_load(t)
    # The messages last: a vague one should not keep the other scenarios from running.
    t.check(not problems, "\n    ".join(["the tunnel was torn down right, but:"] + problems))


if __name__ == "__main__":
    h.run(main, timeout=90)
