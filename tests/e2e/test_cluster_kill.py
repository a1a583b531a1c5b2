#!/usr/bin/env python3
"""A node of a three-node cluster dies (SIGKILL), then falls silent (SIGSTOP), under load (issue 12;
README "Several nodes", docs/PROTOCOL.md §5.1). Three rvserver nodes share one Redis; one rvhidden
parks --pool 2 at every node (--server given once per node).
In each phase:
- six long tunnels, two through each node (each rvconnect names that one node), move 3 MiB each
  way through a local service that checks the SHA-256 of what came up and sends its own stream
  down; each side sends half, waits until node 1 is hit, then the rest (so every tunnel spans it);
- short tunnels keep opening, a few at once, each rvconnect naming all three nodes, node 1 first,
  each echoing its payload;
- node 1 is hit two seconds in.
Then: every short tunnel opened, within a bound (SIGKILL: refused at once; SIGSTOP: about
--try-timeout 1), and echoed (one that had opened at node 1 before the hit may be cut: counted);
every long tunnel through nodes 2 and 3 carried its bytes intact both ways (those through node 1
are counted; no tunnel ever carries a wrong byte); nodes 2 and 3 hold the pool for the UUID once
idle; node 1, restarted on its port (or continued), is filled to the pool again within a bound
(rvhidden --max-backoff 1). The numbers are printed for the record."""
import calendar
import hashlib
import os
import re
import signal
import socket
import subprocess
import threading
import time

import harness
from cluster import Cluster, Redis
from harness import Failure

POOL = 2
TRY = 1                 # rvconnect --try-timeout in both phases
STREAM = 3 << 20        # bytes each way through a long tunnel
CHUNK = 64 << 10
PACE = 0.03             # seconds between chunks of a long tunnel (each way)
SHORT_FOR = 8.0         # seconds of short tunnels per phase
SHORT_EVERY = 0.15      # a new short tunnel this often ...
SHORT_AT_ONCE = 3       # ... while fewer than this many run
HIT_AT = 2.0            # node 1 is hit this long after the short tunnels begin
RELEASE_AFTER = 0.5     # the long tunnels send their second halves this long after the hit
# Seconds from spawning a short rvconnect to the time stamp of its "tunnel ... open" line: a dead
# node costs nothing, a silent one --try-timeout (not --connect-timeout, 10 s); the rest is slack
# for a loaded machine. Sanitizer builds start and run slower. Why rvconnect left node 1 is checked
# exactly, from its log: refused, or no TLS within the --try-timeout.
OPEN_BOUND = {"kill": 5.0, "stop": TRY + 3.0}
OPEN_BOUND_SANITIZED = {"kill": 8.0, "stop": TRY + 5.0}
LEFT_NODE1 = {"kill": r"cannot connect: Connection refused",
              "stop": r"no TLS (connection|handshake) within " + str(TRY) + r"(\.0+)? s"}
LONG_DEADLINE = 60.0    # seconds for a long tunnel through a node that was not hit
SHORT_DEADLINE = 80.0   # seconds for a short one (one that opened at node 1 waits for SIGCONT)
REFILL_BOUND = 15.0     # seconds for a node to hold the pool again
HEADER_LIMIT = 128


def parked(c, i, uuid):
    return c.metric(i, f'rv_parked_connections{{uuid="{uuid}"}}') or 0.0


def wait_parked(c, i, uuid, want, timeout):
    """Waits until node i holds `want` parked connections for uuid; returns the seconds it took."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        n = parked(c, i, uuid)
        if n == want:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise Failure(f"node{i}: {n:g} parked connections for the UUID after {timeout} s, want {want}")
        time.sleep(0.05)


def hold_pool(t, c, i, uuid, samples=6, every=0.2):
    """Node i holds exactly POOL parked connections now and over the next second (idle: no
    refill to do, and no slot of another node moved here)."""
    wait_parked(c, i, uuid, POOL, REFILL_BOUND)
    seen = []
    for _ in range(samples):
        seen.append(parked(c, i, uuid))
        time.sleep(every)
    t.check(all(n == POOL for n in seen), f"node{i}: parked connections while idle were {seen}, want {POOL}")


class Streams:
    """The local service behind rvhidden. The first line picks what a connection is:
    b"echo\\n": the rest is echoed (with the line); b"long ID\\n": the stream ID's `up` bytes
    are read and hashed while its `down` bytes are sent (half, the phase's gate, the rest, paced),
    then the SHA-256 (hex) of what was read and a newline, then end of stream."""

    def __init__(self, t):
        self.lock = threading.Lock()
        self.streams = {}   # id -> LongTunnel
        self.got = {}       # id -> SHA-256 of the bytes that came up, or the error that ended them
        self.service = t.service(self.handle, "streams")
        self.addr = self.service.addr

    def handle(self, conn):
        head = b""
        while b"\n" not in head:
            data = conn.recv(HEADER_LIMIT - len(head)) if len(head) < HEADER_LIMIT else b""
            if not data:
                raise ValueError(f"no header line: {head!r}")
            head += data
        line, _, rest = head.partition(b"\n")
        if line == b"echo":
            conn.sendall(head)
            harness.echo_handler(conn)
            return
        m = re.fullmatch(rb"long (\d+)", line)
        if not m:
            raise ValueError(f"bad header line {line!r}")
        with self.lock:
            tunnel = self.streams[int(m.group(1))]
        sender = threading.Thread(target=self.send_down, args=(conn, tunnel), daemon=True)
        sender.start()
        h = hashlib.sha256(rest)
        n = len(rest)
        try:
            while True:
                data = conn.recv(CHUNK)
                if not data:
                    break
                h.update(data)
                n += len(data)
                if n > STREAM:
                    raise ValueError("more than the stream came up")
        except OSError as e:
            with self.lock:
                self.got[tunnel.id] = f"ended after {n} bytes: {e!r}"
            return
        with self.lock:
            self.got[tunnel.id] = h.hexdigest()
        sender.join(LONG_DEADLINE)
        if tunnel.down_sent != STREAM:
            return
        conn.sendall((h.hexdigest() + "\n").encode())
        conn.shutdown(socket.SHUT_WR)

    @staticmethod
    def send_down(conn, tunnel):
        try:
            paced_send(conn.sendall, tunnel.down, tunnel.gate, lambda n: setattr(tunnel, "down_sent", n))
        except OSError:
            pass


def paced_send(write, data, gate, progress):
    """Writes data in CHUNKs PACE apart; before the second half, waits for `gate` (bounded)."""
    half = len(data) // 2
    sent = 0
    while sent < len(data):
        if sent >= half and not gate.is_set():
            if not gate.wait(LONG_DEADLINE):
                raise OSError("the gate never opened")
        end = min(sent + CHUNK, half if sent < half else len(data))
        write(data[sent:end])
        sent = end
        progress(sent)
        time.sleep(PACE)


class LongTunnel:
    """rvconnect through one node: up goes in through stdin (paced, gated), down comes out."""

    def __init__(self, t, streams, ident, node, server, uuid, gate):
        self.t = t
        self.id = ident
        self.node = node
        self.up = os.urandom(STREAM)
        self.down = os.urandom(STREAM)
        self.gate = gate
        self.down_sent = 0
        self.up_sent = 0
        self.write_error = None
        with streams.lock:
            streams.streams[ident] = self
        self.streams = streams
        argv = [t.bin("rvconnect"), "--server", server, *t.trust_args(), "--try-timeout", str(TRY),
                "--log-level", "info", uuid]
        self.proc = t.spawn(f"long{ident}-node{node}", argv, stdin=subprocess.PIPE)
        self.writer = threading.Thread(target=self.write, daemon=True)
        self.writer.start()

    def write(self):
        stdin = self.proc.p.stdin
        try:
            stdin.write(f"long {self.id}\n".encode())
            stdin.flush()
            paced_send(lambda b: (stdin.write(b), stdin.flush()), self.up, self.gate,
                       lambda n: setattr(self, "up_sent", n))
        except (OSError, ValueError) as e:
            self.write_error = repr(e)
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def wait_open(self, uuid):
        self.proc.wait_stderr(r"tunnel to " + re.escape(uuid) + " open", timeout=15)

    def finish(self, timeout):
        """Waits (bounded) for the end; returns (intact, why)."""
        try:
            self.proc.wait_exit(timeout)
        except Failure:
            return False, f"still running after {timeout:g} s"
        self.writer.join(5)
        out = bytes(self.proc.out)
        down = out[:STREAM]
        # Whatever else happened, no byte may be wrong: what came down is a prefix of what was sent.
        if down != self.down[:len(down)]:
            raise Failure(f"long tunnel {self.id} through node{self.node}: a wrong byte came down")
        with self.streams.lock:
            got = self.streams.got.get(self.id)
        rc = self.proc.p.returncode
        if rc != 0:
            return False, f"rvconnect exit {rc} after {len(out)} bytes down, {self.up_sent} up"
        if down != self.down:
            return False, f"{len(down)} of {STREAM} bytes came down"
        up_sha = harness.sha256(self.up)
        if got != up_sha:
            return False, f"the service read {got} up, sent {up_sha}"
        if out[STREAM:] != (up_sha + "\n").encode():
            return False, f"the service's receipt came back as {out[STREAM:]!r}"
        return True, "intact"


class Short:
    """One short tunnel: rvconnect naming every node, node 1 first, echoing a payload. Notes when
    it opened (its "tunnel to UUID open" line) and where (node 1 unless it failed over)."""

    def __init__(self, t, servers, uuid, n):
        self.servers = servers
        self.uuid = uuid
        self.payload = b"echo\n" + os.urandom(4096)
        argv = [t.bin("rvconnect")]
        for s in servers:
            argv += ["--server", s]
        # --answer-timeout: one that sent its request just before node 1 stopped moves on in 5 s.
        argv += [*t.trust_args(), "--try-timeout", str(TRY), "--answer-timeout", "5", "--log-level", "info",
                 uuid]
        self.start = time.monotonic()
        self.wall_start = time.time()
        self.opened_at = None
        self.rc = None
        self.proc = t.spawn(f"short{n}", argv, stdin=subprocess.PIPE)
        try:
            self.proc.p.stdin.write(self.payload)
            self.proc.p.stdin.close()
        except OSError:
            pass
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            self.proc.wait_stderr(r"tunnel to " + re.escape(self.uuid) + " open", timeout=SHORT_DEADLINE)
            self.opened_at = time.monotonic()
        except Failure:
            pass
        try:
            self.rc = self.proc.wait_exit(SHORT_DEADLINE)
        except Failure:
            pass

    def done(self):
        return not self.thread.is_alive()

    def where(self):
        """The node the tunnel opened at (None: not open)."""
        if self.opened_at is None:
            return None
        at = re.search(r"tunnel opened at (\S+)", self.proc.stderr_text())
        return at.group(1) if at else self.servers[0]

    def open_time(self):
        """Seconds from spawning rvconnect to the time stamp of its "open" line (so not counting
        how late this busy process read it)."""
        if self.opened_at is None:
            return None
        m = re.search(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z [^\n]*tunnel to "
                      + re.escape(self.uuid) + " open", self.proc.stderr_text(), re.M)
        if not m:
            raise Failure(f"{self.proc.name}: no time stamp on the open line")
        y, mo, d, h, mi, sec, ms = (int(g) for g in m.groups())
        return calendar.timegm((y, mo, d, h, mi, sec)) + ms / 1000 - self.wall_start

    def left_node1(self, why):
        """Whether it moved on from node 1 for `why` (a regex)."""
        return re.search(r"no tunnel at " + re.escape(self.servers[0]) + ": " + why + "; moving on",
                         self.proc.stderr_text()) is not None

    def mid_request(self):
        """Whether it had sent its request to node 1 and waited for the answer (--answer-timeout)."""
        return f"no tunnel at {self.servers[0]}: no answer within" in self.proc.stderr_text()

    def ok(self):
        return self.rc == 0 and bytes(self.proc.out) == self.payload

    def check_bytes(self):
        out = bytes(self.proc.out)
        if out != self.payload[:len(out)]:
            raise Failure(f"{self.proc.name}: a wrong byte came back")

    def describe(self):
        return (f"{self.proc.name}: exit {self.rc}, {len(self.proc.out)} of {len(self.payload)} bytes back: "
                f"{self.proc.stderr_text().strip()[-400:]}")


def short_loop(t, servers, uuid, shorts, stop_at, first_n, hit):
    """Starts short tunnels until `stop_at`, SHORT_EVERY apart, fewer than SHORT_AT_ONCE at once."""
    n = first_n

    def running(s):
        # Once node 1 is hit, one that opened there (and may wait for it to continue) takes no place.
        return not s.done() and not (hit.is_set() and s.where() == servers[0])
    while time.monotonic() < stop_at:
        if sum(1 for s in shorts if running(s)) < SHORT_AT_ONCE:
            shorts.append(Short(t, servers, uuid, n))
            n += 1
        time.sleep(SHORT_EVERY)


def wait_until(what, pred, timeout):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() >= deadline:
            raise Failure(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def phase(t, c, streams, uuid, how, first_id):
    """One phase: long and short tunnels, node 1 hit by `how` ("kill": SIGKILL, then restarted on
    its port; "stop": SIGSTOP, then SIGCONT) HIT_AT seconds into the short tunnels."""
    servers = [c.node(i).addr for i in (1, 2, 3)]
    node1 = servers[0]
    bound = (OPEN_BOUND_SANITIZED if t.sanitized("rvconnect") else OPEN_BOUND)[how]
    gate = threading.Event()
    longs = []
    for k in range(6):
        node = k % 3 + 1
        longs.append(LongTunnel(t, streams, first_id + k, node, servers[node - 1], uuid, gate))
    for lt in longs:
        lt.wait_open(uuid)

    shorts = []
    hit = threading.Event()
    start = time.monotonic()
    loop = threading.Thread(target=short_loop,
                            args=(t, servers, uuid, shorts, start + SHORT_FOR, first_id, hit), daemon=True)
    loop.start()
    time.sleep(HIT_AT)
    victim = c.node(1)
    hit_at = time.monotonic()
    if how == "kill":
        os.kill(victim.pid, signal.SIGKILL)
    else:
        os.kill(victim.pid, signal.SIGSTOP)
        t.on_cleanup(lambda: os.kill(victim.pid, signal.SIGCONT))
    hit.set()
    time.sleep(RELEASE_AFTER)
    gate.set()
    loop.join(SHORT_FOR + 30)
    t.check(not loop.is_alive(), "the short tunnel loop did not end")

    # Every short tunnel ends, but one that opened at node 1 before it stopped waits for SIGCONT.
    def settled(s):
        return s.done() or (how == "stop" and s.where() == node1)
    for s in shorts:
        wait_until(f"{how}: {s.proc.name} to end", lambda s=s: settled(s), SHORT_DEADLINE)
    waiting = [s for s in shorts if not s.done()]

    # Every short tunnel opened, within the bound unless it was caught waiting for node 1's answer;
    # one may break only if it had opened at node 1, before the hit (it cannot open there after).
    failures, cut, times, caught = [], [], [], []
    for s in shorts:
        s.check_bytes()
        if s.open_time() is None:
            failures.append("never opened: " + s.describe())
            continue
        if s.mid_request():
            caught.append(s)
        else:
            times.append(s.open_time())
            if s.open_time() > bound:
                failures.append(f"opened at {s.where()} after {s.open_time():.2f} s (bound {bound} s): "
                                + s.describe())
        if s in waiting or s.ok():
            continue
        if s.where() == node1:
            cut.append(s)
        else:
            failures.append(f"opened at {s.where()} but broke: " + s.describe())
    after = [s for s in shorts if s.start >= hit_at]
    past1 = sum(1 for s in after if s.where() not in (None, node1))
    at1 = sum(1 for s in shorts if s.where() == node1)
    t.log(f"{how}: {len(shorts)} short tunnels: {at1} opened at node 1 before the hit, {len(after)} begun "
          f"after it ({past1} went past node 1); "
          f"{len(failures)} failures; open time max {max(times, default=0):.2f} s, median "
          f"{sorted(times)[len(times) // 2] if times else 0:.2f} s (bound {bound} s); {len(caught)} caught waiting "
          f"for node 1's answer (opened after {[round(s.open_time(), 2) for s in caught]} s); "
          f"{len(cut)} cut at node 1; {len(waiting)} opened at node 1 and waiting for it")
    if failures or not times:
        raise Failure(f"{how}: short tunnels failed:\n  " + "\n  ".join(failures))
    t.check(len(after) >= 3 and past1 == len(after),
            f"{how}: {len(after)} short tunnels began after the hit and {past1} of them went past node 1")
    for s in after:
        t.check(s.left_node1(LEFT_NODE1[how]), f"{how}: {s.proc.name} left node 1 for another reason than "
                                                 f"/{LEFT_NODE1[how]}/: {s.describe()}")

    # Long tunnels through nodes 2 and 3: intact both ways.
    lost = []
    for lt in longs:
        if lt.node != 1:
            ok, why = lt.finish(LONG_DEADLINE)
            if not ok:
                lost.append(f"long tunnel {lt.id} through node{lt.node}: {why}")
    if lost:
        raise Failure(f"{how}: tunnels through nodes that were not hit broke:\n  " + "\n  ".join(lost))
    t.log(f"{how}: long tunnels through nodes 2 and 3: 4 of 4 intact ({STREAM >> 20} MiB each way, "
          f"SHA-256 checked both ways)")

    for i in (2, 3):
        hold_pool(t, c, i, uuid)
    t.log(f"{how}: nodes 2 and 3 hold {POOL} parked connections each while idle")

    if how == "kill":
        whys = []
        for lt in longs:
            if lt.node == 1:
                ok, why = lt.finish(LONG_DEADLINE)
                t.check(not ok, f"long tunnel {lt.id} through the killed node 1 came through intact")
                whys.append(why)
        t.log(f"kill: long tunnels through node 1: 2 of 2 lost, as expected: {whys}")
        c.start(c.ips[0])
        took = wait_parked(c, 1, uuid, POOL, REFILL_BOUND)
        t.log(f"kill: node 1 restarted on its port; {POOL} parked there after {took:.2f} s")
    else:
        os.kill(victim.pid, signal.SIGCONT)
        for s in waiting:
            wait_until(f"stop: {s.proc.name} to end after SIGCONT", s.done, SHORT_DEADLINE)
            s.check_bytes()
        outcomes = []
        for lt in longs:
            if lt.node == 1:
                ok, why = lt.finish(LONG_DEADLINE)
                outcomes.append("intact" if ok else why)
        t.log(f"stop: after SIGCONT, the short tunnels that waited at node 1: "
              f"{['echoed' if s.ok() else s.describe() for s in waiting]}; the long tunnels through node 1: "
              f"{outcomes}")
        took = wait_parked(c, 1, uuid, POOL, REFILL_BOUND)
        t.log(f"stop: node 1 continued; {POOL} parked there after {took:.2f} s")
    for i in (2, 3):
        hold_pool(t, c, i, uuid)


def main(t):
    redis = Redis(t, password=harness.b32(harness.new_key()))
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    c = Cluster(t, redis, secrets, nodes=3)
    for i in (1, 2, 3):
        c.wait_redis_up(i)
    streams = Streams(t)

    # One rvhidden parked at every node; --max-backoff 1: a node that comes back is filled soon.
    argv = [t.bin("rvhidden")]
    for i in (1, 2, 3):
        argv += ["--server", c.node(i).addr]
    t.spawn("rvhidden", argv + ["--uuid", uuid, "--secrets", secrets, "--forward", streams.addr,
                                "--pool", str(POOL), "--max-backoff", "1", "--log-level", "info",
                                *t.trust_args()])
    for i in (1, 2, 3):
        wait_parked(c, i, uuid, POOL, REFILL_BOUND)

    phase(t, c, streams, uuid, "kill", 100)
    phase(t, c, streams, uuid, "stop", 200)


harness.run(main, timeout=140)
