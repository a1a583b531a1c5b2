"""Fixtures for cluster tests: a real redis-server and rvserver nodes on 127.0.0.N.

A Redis runs on a unix socket in the test's temp dir and is killed by PID at the end; a node is an
rvserver on 127.0.0.N with --redis, the cluster's shared pool credential key file and a --node-id.
`registration()` speaks the protocol itself over TLS from a chosen source address (any 127.0.0.0/8
address works on Linux), so a test can register "from another machine".
"""
import os
import re
import shutil
import signal
import socket
import ssl
import time

import harness
from harness import Failure, Skipped
from seed_peers import totp

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

# What SECURITY.md tells operators to give rvserver: its key prefixes, and only the commands it
# and its scripts use (Redis checks a script's commands against the caller's ACL too).
RVSERVER_ACL = ["on", "resetkeys", "~rv:*", "~strict:*", "resetchannels", "-@all",
                "+auth", "+select", "+ping", "+eval", "+del", "+time", "+get", "+set", "+hget",
                "+hset", "+pexpire", "+zadd", "+zscore", "+zcard", "+zremrangebyrank"]


class Redis:
    """redis-server on DIR/redis.sock, no persistence; restartable on the same socket."""

    def __init__(self, t, name="redis", password=None):
        if not os.path.exists(REDIS_SERVER):
            raise Skipped("redis-server is not installed (scripts/install-deps installs it)")
        self.t = t
        self.dir = t.path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.sock = os.path.join(self.dir, "redis.sock")
        self.url = "unix://" + self.sock
        self.password = password
        if password:
            self.url = f"unix://rvserver:{password}@{self.sock}"
        self.proc = None
        self.start()

    def start(self):
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = self.t.spawn("redis-server", [
            REDIS_SERVER, "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", self.dir])
        self.proc.wait_stdout(r"ready to accept connections", timeout=10)
        if self.password:  # the ACL user lives in memory only: again after every start
            reply = self.command("ACL", "SETUSER", "rvserver", ">" + self.password, *RVSERVER_ACL)
            if not reply.startswith(b"+OK"):
                raise Failure(f"ACL SETUSER: {reply!r}")
        return self

    def kill(self):
        self.proc.kill()

    def stop(self):
        os.kill(self.proc.p.pid, signal.SIGSTOP)

    def cont(self):
        os.kill(self.proc.p.pid, signal.SIGCONT)

    def command(self, *args):
        """One command over the socket (RESP), for checks: returns the raw reply bytes."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.sock)
            out = b"*%d\r\n" % len(args)
            for a in args:
                a = a.encode() if isinstance(a, str) else a
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            reply = s.recv(65536)
            if reply.startswith(b"$") and b"\r\n" in reply:  # a bulk string: read all of it
                head, _, rest = reply.partition(b"\r\n")
                want = int(head[1:]) + 2
                while 0 <= len(rest) < want and len(rest) < (16 << 20):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
                reply = head + b"\r\n" + rest
            return reply


class Cluster:
    """Nodes 127.0.0.1 .. 127.0.0.N sharing one Redis, secrets file and credential key file."""

    def __init__(self, t, redis, secrets, nodes=3, extra=(), node_extra=None, first=1):
        self.t = t
        self.redis = redis
        self.secrets = secrets
        self.extra = list(extra)
        self.node_extra = node_extra or {}
        ips = [f"127.0.0.{i}" for i in range(first, first + nodes)]
        san = "DNS:localhost," + ",".join(f"IP:{ip}" for ip in ips)
        self.cert, self.key = t.pki.make_leaf(f"cluster{first}", t.pki.ca, t.pki.ca_key, san=san)
        self.key_file = t.write_file(f"credential{first}.keys", os.urandom(32).hex() + "\n", 0o600)
        self.ticket_file = t.write_file(f"tickets{first}.keys", os.urandom(32).hex() + "\n", 0o600)
        self.first = first
        self.ips = ips
        self.ports = {}
        self.procs = {}
        for ip in ips:
            self.start(ip)

    def start(self, ip, port=0):
        port = self.ports.get(ip, port)
        n = self.ips.index(ip) + self.first
        argv = [self.t.bin("rvserver"), "--listen", f"{ip}:{port}", "--cert", self.cert,
                "--key", self.key, "--secrets", self.secrets, "--log-level", "info",
                "--redis", self.redis.url, "--redis-timeout", "0.5",
                "--pool-credential-key-file", self.key_file, "--tls-ticket-key-file", self.ticket_file,
                "--node-id", f"node{n}",
                "--metrics", "127.0.0.1:0", *self.t.generous_limits(), *self.extra,
                *self.node_extra.get(n, ())]
        p = self.t.spawn(f"node{n}", argv)
        m = p.wait_stdout(r"listening (" + re.escape(ip) + r":(\d+))\r?\n", timeout=10)
        p.addr = m.group(1)
        self.ports[ip] = int(m.group(2))
        p.metrics = p.wait_stdout(r"metrics (127\.0\.0\.1:\d+)\r?\n", timeout=10).group(1)
        self.procs[ip] = p
        return p

    def node(self, i):
        """Node i (numbered from `first`)."""
        return self.procs[self.ips[i - self.first]]

    def metric(self, i, name):
        return harness.scrape_metrics(self.node(i).metrics).get(name)

    def wait_redis_up(self, i, up=True, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metric(i, "rv_redis_up") == (1.0 if up else 0.0):
                return
            time.sleep(0.05)
        raise Failure(f"node{i}: rv_redis_up did not become {int(up)} within {timeout} s")


class Answer:
    def __init__(self, status, fields, body):
        self.status = status
        self.fields = fields
        self.body = body

    def field(self, name):
        return self.fields.get(name.lower())

    def __repr__(self):
        return f"<{self.status} {self.fields} {self.body[:200]!r}>"


_CONTEXTS = {}


def registration(t, addr, uuid, code=None, credential=None, source="127.0.0.1", pool=False,
                 timeout=10.0, session=None):
    """Sends one registration to `addr` from `source` and reads the answer head (and an error's
    body). Returns an Answer; the connection is closed afterwards (a parked one ends).
    `session`: a TLS session (an earlier Answer's .session) to offer for resumption; the
    Answer's .reused says whether the server took it."""
    host, port = addr.rsplit(":", 1)
    if t.pki.ca not in _CONTEXTS:  # sessions resume only within one context
        ctx = ssl.create_default_context(cafile=t.pki.ca)
        ctx.check_hostname = False
        _CONTEXTS[t.pki.ca] = ctx
    ctx = _CONTEXTS[t.pki.ca]
    raw = socket.create_connection((host, int(port)), timeout=timeout, source_address=(source, 0))
    with ctx.wrap_socket(raw, server_hostname=host, session=session) as s:
        target = f"uuid:{uuid}" + (f"?response={code}" if code else "")
        head = f"CONNECT {target} HTTP/1.1\r\nHost: {addr}\r\n"
        if credential:
            head += f"Rendezvous-Pool-Credential: {credential}\r\n"
        if pool:
            head += "Rendezvous-Pool: 1\r\n"
        s.sendall((head + "\r\n").encode())
        data = b""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in data and time.monotonic() < deadline and len(data) < 65536:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        if b"\r\n\r\n" not in data:
            raise Failure(f"no answer head from {addr}: {data!r}")
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        length = int(fields.get("content-length", "0"))
        while len(body) < length and time.monotonic() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
        answer = Answer(status, fields, body.decode("utf-8", "replace"))
        answer.session = s.session
        answer.reused = s.session_reused
        return answer


def wrong_code(key):
    """A six-digit code that is none of the three a server would take now."""
    near = {totp(key, time.time() + d) for d in (-30, 0, 30)}
    for c in range(1000000):
        code = f"{c:06d}"
        if code not in near:
            return code
    raise Failure("no wrong code")
