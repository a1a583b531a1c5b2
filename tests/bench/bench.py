#!/usr/bin/env python3
"""scripts/bench's driver: the rendezvous path and its baselines, measured in one run with the same
load generators, on 127.0.0.1 only.

Paths (each a local TCP port that ends at the same two services: an iperf3 server and an echo
service, tests/bench/loadgen.c):
  rendezvous     rvconnect --listen -> TLS -> rvserver -> TLS -> rvhidden -> TCP -> service
  HAProxy chain  stunnel (client) -> TLS -> HAProxy (TLS in, TLS out) -> TLS -> stunnel (server)
                 -> TCP -> service; "the bar": every ratio is to it
  ssh -R/-L      ssh -L -> sshd (a private jump host on loopback) -> ssh -R -> service
  socat          one plain socat relay (no crypto: the copying ceiling)
  direct         the service itself over loopback
plus AES-GCM speed from `openssl speed` (the crypto ceiling: a figure, no path).

Figures: iperf3 throughput of one tunnel and of 8 at once (with the CPU each relay process used),
RTT of 64-byte ping-pong (median, p99), time to open a tunnel (median of sequential opens),
tunnels opened per second by 32 clients, rvconnect's stdio start to first echoed byte, memory
(PSS) per parked connection and per live idle tunnel against HAProxy's per idle connection, and
CPU seconds per GiB relayed. The cluster group (its own section of the table) runs several
rvserver nodes on 127.0.0.1-3 sharing one Redis: --redis's cost on one node, 8 tunnels over 1-3
nodes, a node SIGKILLed and restarted under load, and Redis stopped under load. Each figure is
measured --reps times (paths interleaved, so a burst of other work on the machine hits every path
alike) and reported as min/median/max with its ratio
to the HAProxy chain. Writes results.md, results.json and bench.svg (gnuplot) into --out, and
prints the table on stdout; configs, certificates and every program's output go to --out/run/,
removed after a successful run unless --keep. Exit 0 when every figure was measured, 1 otherwise
(the table is still written, with what failed).

Every process it starts is in a session of its own and is killed (by process group, only those)
on exit, on SIGINT/SIGTERM/SIGHUP and by a watchdog; every wait has a deadline, every loop a bound.
"""
import argparse
import base64
import ctypes
import datetime
import getpass
import hashlib
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
import uuid as uuidlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import harness  # noqa: E402  (the private sshd's config, shared with the end-to-end tests)
from seed_peers import totp  # noqa: E402  (RFC 6238, for the cluster's registrations)
GIB = float(1 << 30)
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1
SSHD = "/usr/sbin/sshd"

PATHS = ("rendezvous", "chain", "ssh", "socat", "direct")
FIGURE_GROUPS = ("throughput", "rtt", "open", "rate", "speed", "stdio", "memory", "cluster")
PATH_GROUPS = ("throughput", "rtt", "open", "rate", "stdio")  # the groups measured through the paths
LABEL = {"rendezvous": "rendezvous", "chain": "HAProxy chain", "ssh": "ssh -R/-L", "socat": "socat",
         "direct": "direct", "crypto": "(crypto ceiling)"}

FULL = dict(reps=3, iperf_s=5, rtt_count=10000, open_count=200, rate_s=4, rate_clients=32,
            stdio_count=20, parked=10000, live_tunnels=2000, haproxy_idle=10000, speed_s=1,
            cl_registrations=200, cl_clients=32, cl_kill_at=5, cl_kill_restart=15, cl_kill_end=20,
            cl_outage_s=20, watchdog_s=18 * 60)
QUICK = dict(reps=1, iperf_s=2, rtt_count=1000, open_count=20, rate_s=2, rate_clients=32,
             stdio_count=5, parked=500, live_tunnels=100, haproxy_idle=500, speed_s=1,
             cl_registrations=40, cl_clients=32, cl_kill_at=3, cl_kill_restart=8, cl_kill_end=12,
             cl_outage_s=5, watchdog_s=9 * 60)
POOL = 32          # rvhidden --pool on the measured rendezvous path (32 clients open at once)
MAX_POOL = 250     # rvhidden --pool for the memory phase (rvhidden accepts 1..256)
SERVICES_PER_HIDDEN = 10
SSH_TUNNELS = 8    # ssh multiplexes: 8 separate ssh -R/-L pairs for the 8-tunnel figure
SOCAT_BUFFER = 131072
SETTLE_WINDOW = 22.0  # memory: PSS steady for this long (rvserver and rvhidden trim their heap
                      # 10-20 s after a burst of connections ends)
SETTLE_LIMIT = 60.0   # ... or at most this long
CLUSTER_NODES = 3     # cluster: rvserver nodes on 127.0.0.1 .. 127.0.0.3
CLUSTER_POOL = 32     # rvhidden --pool of the echo service at each node (32 clients open at once)
CLUSTER_IPERF_POOL = 10  # ... of each iperf3 service (one iperf3 client, at most 9 tunnels, per node)
CLUSTER_VICTIM = 1    # the node killed (index: 127.0.0.2)
CLUSTER_LONG = 6      # long tunnels in the node-kill run, two tried first at each node
LONG_CHUNK = 16384    # a long tunnel writes this many bytes ...
LONG_RATE = 512 * 1024  # ... at this many bytes per second


class BenchError(Exception):
    """A step failed; the message says which and why."""


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def now():
    return time.monotonic()


# ----------------------------------------------------------------------------- processes

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _child_setup():
    """In a long-running child before exec (started from the main thread): die with the driver.
    (The descriptor limit is the driver's own, raised to the hard limit in prepare().)"""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Proc:
    """A started program; stdout and stderr go to files in the log dir (waits poll them)."""

    def __init__(self, runner, name, argv, stdin=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.out_path = os.path.join(runner.logdir, f"{name}.out")
        self.err_path = os.path.join(runner.logdir, f"{name}.err")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.p = subprocess.Popen(self.argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                      stdout=out, stderr=err, start_new_session=True,
                                      preexec_fn=_child_setup, cwd=runner.work)
        self.pid = self.p.pid

    def text(self, which="out"):
        try:
            with open(self.out_path if which == "out" else self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for(self, pattern, timeout=15.0, which="out", count=1):
        """The count-th match of pattern in stdout (or stderr); BenchError at the deadline or exit."""
        rx = re.compile(pattern)
        deadline = now() + timeout
        while True:
            found = list(rx.finditer(self.text(which)))
            if len(found) >= count:
                return found[count - 1]
            if self.p.poll() is not None:
                found = list(rx.finditer(self.text(which)))
                if len(found) >= count:
                    return found[count - 1]
                raise BenchError(f"{self.name} exited ({self.p.returncode}) before printing /{pattern}/: "
                                 f"{self.tail()}")
            if now() > deadline:
                raise BenchError(f"{self.name}: no /{pattern}/ within {timeout} s: {self.tail()}")
            time.sleep(0.02)

    def tail(self, n=400):
        return (self.text("err")[-n:] + " " + self.text("out")[-n:]).strip().replace("\n", " | ")

    def running(self):
        return self.p.poll() is None

    def kill(self):
        """Ends the process group this program leads (ours alone: it was started in a new session)."""
        for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
            try:
                os.killpg(self.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.p.wait(wait)
                if sig == signal.SIGTERM:
                    # the leader is gone; its children (sshd sessions, socat forks) get the KILL
                    try:
                        os.killpg(self.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                    return
            except subprocess.TimeoutExpired:
                continue


class Runner:
    def __init__(self, work, logdir):
        self.work = work
        self.logdir = logdir
        self.procs = []
        self.lock = threading.Lock()
        self.names = {}

    def start(self, name, argv, stdin=None):
        with self.lock:
            n = self.names.get(name, 0) + 1
            self.names[name] = n
            unique = name if n == 1 else f"{name}-{n}"
        p = Proc(self, unique, argv, stdin=stdin)
        with self.lock:
            self.procs.append(p)
        return p

    def stop(self, p):
        p.kill()
        with self.lock:
            if p in self.procs:
                self.procs.remove(p)

    def stop_all(self):
        with self.lock:
            procs = list(reversed(self.procs))
            self.procs = []
        for p in procs:
            p.kill()


def run(argv, timeout, cwd=None, input=None):
    """Runs a program to its end (killed at timeout); returns (rc, stdout text, stderr text)."""
    p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, cwd=cwd)
    try:
        out, err = p.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        p.communicate()
        raise BenchError(f"{os.path.basename(str(argv[0]))} did not finish within {timeout} s") from None
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def free_ports(n):
    """n distinct ports nothing listens on now (for programs that cannot bind port 0 and say so)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listening_ports():
    """Local ports in LISTEN state on 127.0.0.1 or 0.0.0.0 (/proc/net/tcp): a check with no side effect."""
    ports = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == "0A":
                addr, port = fields[1].split(":")
                if addr in ("0100007F", "00000000"):
                    ports.add(int(port, 16))
    return ports


def wait_listening(ports, proc, timeout=15.0):
    deadline = now() + timeout
    while True:
        missing = set(ports) - listening_ports()
        if not missing:
            return
        if not proc.running():
            raise BenchError(f"{proc.name} exited ({proc.p.returncode}): {proc.tail()}")
        if now() > deadline:
            raise BenchError(f"{proc.name}: ports {sorted(missing)} not listening within {timeout} s: {proc.tail()}")
        time.sleep(0.05)


# ----------------------------------------------------------------------------- /proc readings

def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return data[data.rindex(")") + 2:].split()  # fields from 3 (state) on


def process_tree(root):
    """root and all its descendants (by ppid, from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(entry)[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo and len(out) < 100000:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(pids):
    """utime+stime (with reaped children's cutime+cstime) of every pid's process tree, in seconds."""
    total = 0
    for root in pids:
        for pid in process_tree(root):
            try:
                f = _stat_fields(pid)
                total += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
            except (OSError, ValueError, IndexError):
                pass
    return total / CLK_TCK


def cpu_ns(pid):
    """CPU time of every thread of process `pid` in nanoseconds (/proc/PID/task/*/schedstat, whose
    first field is exact, where /proc/PID/stat counts clock ticks): for short measurements."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def machine_cpu():
    """(busy, total) jiffies of all CPUs (/proc/stat), others' work included."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def pss_kib(pid):
    """The anonymous part of the PSS of process `pid` in KiB (Pss_Anon of /proc/PID/smaps_rollup;
    Pss on kernels without it). Connections live in anonymous memory; the file-backed part is
    mostly shared libraries, whose share moves whenever another process maps them (an rvhidden
    starting), which would blur a difference of two readings."""
    values = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in ("Pss", "Pss_Anon"):
                values[name] = int(rest.split()[0])
    if "Pss_Anon" in values:
        return values["Pss_Anon"]
    if "Pss" in values:
        return values["Pss"]
    raise BenchError(f"no Pss in /proc/{pid}/smaps_rollup")


def nofile_hard():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


# ----------------------------------------------------------------------------- the bench

class Bench:
    def __init__(self, args):
        self.args = args
        self.cfg = dict(QUICK if args.quick else FULL)
        if args.reps:
            self.cfg["reps"] = args.reps
        self.out = os.path.abspath(args.out)
        self.work = os.path.join(self.out, "run")
        shutil.rmtree(self.work, ignore_errors=True)
        self.logdir = os.path.join(self.work, "logs")
        os.makedirs(self.logdir)
        self.runner = Runner(self.work, self.logdir)
        self.bins = {n: os.path.join(os.path.abspath(args.build_dir), n, n)
                     for n in ("rvserver", "rvhidden", "rvconnect")}
        self.samples = {}      # (figure, path, item) -> [values]
        self.notes = []        # free text for the results file
        self.failures = []     # what could not be measured
        self.paths = {}        # path -> dict(iperf=port, echo=port, relays={name: [pids]}, iperf8=[ports])
        self.help = {}
        self.meta = {}
        self.started = now()
        self.rv_procs = {}

    # -- helpers

    def add(self, figure, path, value, item=""):
        self.samples.setdefault((figure, path, item), []).append(value)

    def fail(self, what, err):
        msg = f"{what}: {err}"
        log(f"FAILED {msg}")
        self.failures.append(msg)

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def write(self, name, text, mode=0o600):
        p = self.path(name)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def has_option(self, prog, option):
        if prog not in self.help:
            rc, out, _ = run([self.bins[prog], "--help"], 10)
            self.help[prog] = out
        return re.search(re.escape(option) + r"(?![\w-])", self.help[prog]) is not None

    def generous_limits(self, n=100000):
        """rvserver options lifting its per-address and global caps (everything comes from
        127.0.0.1 here): those its --help lists."""
        args = []
        for option in ("--max-connections", "--max-connections-per-source", "--client-rate", "--client-burst"):
            if self.has_option("rvserver", option):
                args += [option, str(n)]
        return args

    # -- preparation

    def prepare(self):
        for name, b in self.bins.items():
            if not os.access(b, os.X_OK):
                raise BenchError(f"{b} not found (scripts/bench builds it)")
        for tool in ("iperf3", "socat", "stunnel4", "haproxy", "ssh", "ssh-keygen", "openssl", "cc"):
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} is not installed (scripts/bench installs it)")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        self.loadgen = os.path.join(self.out, "loadgen")
        src = os.path.join(HERE, "loadgen.c")
        if not os.path.exists(self.loadgen) or os.path.getmtime(self.loadgen) < os.path.getmtime(src):
            rc, out, err = run(["cc", "-O2", "-Wall", "-pthread", "-o", self.loadgen, src, "-lssl", "-lcrypto"], 120)
            if rc != 0:
                raise BenchError(f"cc loadgen.c failed: {err.strip()[-800:]}")
        self.pki()
        self.meta.update(self.machine_info())

    def pki(self):
        """A private CA and one server certificate (EC P-256, localhost/127.0.0.1) for every TLS
        server of every path, made now with the openssl CLI."""
        def ossl(*a):
            rc, out, err = run(["openssl", *a], 30, cwd=self.work)
            if rc != 0:
                raise BenchError(f"openssl {a[0]}: {err.strip()[-400:]}")
            return out
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=rendezvous bench CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        ossl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
        self.write("server.ext", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n", 0o644)
        ossl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "server.ext")
        with open(self.path("server.pem")) as c, open(self.path("server.key")) as k:
            self.write("server-combined.pem", c.read() + k.read())
        self.ca, self.cert, self.key = self.path("ca.pem"), self.path("server.pem"), self.path("server.key")
        self.combined = self.path("server-combined.pem")

    def machine_info(self):
        info = {"nproc": NCPU, "kernel": platform.release()}
        try:
            with open("/proc/cpuinfo") as f:
                m = re.search(r"model name\s*:\s*(.*)", f.read())
                info["cpu"] = m.group(1).strip() if m else "?"
        except OSError:
            info["cpu"] = "?"
        # the commit measured: that of the sources the build dir was configured from
        source = REPO
        try:
            with open(os.path.join(self.args.build_dir, "CMakeCache.txt")) as f:
                cache = f.read()
            m = re.search(r"^CMAKE_HOME_DIRECTORY:INTERNAL=(.*)$", cache, re.M)
            source = m.group(1).strip() if m else REPO
            m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache, re.M)
            info["build_type"] = m.group(1).strip() if m else "?"
        except OSError:
            pass
        info["source"] = source
        try:
            info["commit"] = subprocess.run(["git", "-C", source, "rev-parse", "--short", "HEAD"],
                                            capture_output=True, text=True, timeout=10).stdout.strip() or "?"
            dirty = subprocess.run(["git", "-C", source, "status", "--porcelain", "--", "lib", "rvserver",
                                    "rvhidden", "rvconnect", "CMakeLists.txt"],
                                   capture_output=True, text=True, timeout=10).stdout.split("\n")
            info["dirty"] = [l[3:] for l in dirty if l.strip()]
        except (OSError, subprocess.SubprocessError):
            info["commit"], info["dirty"] = "?", []
        versions = {}
        for name, argv, rx in (("rvserver", [self.bins["rvserver"], "--version"], r"(\d+\.\d+\S*)"),
                               ("haproxy", ["haproxy", "-v"], r"HAProxy version (\S+)"),
                               ("stunnel", ["stunnel4", "-version"], r"stunnel (\S+)"),
                               ("OpenSSH", ["ssh", "-V"], r"OpenSSH_([^,\s]+)"),
                               ("socat", ["socat", "-V"], r"socat version (\S+)"),
                               ("iperf3", ["iperf3", "--version"], r"iperf (\S+)"),
                               ("OpenSSL", ["openssl", "version"], r"OpenSSL (\S+)")):
            try:
                rc, out, err = run(argv, 10)
                m = re.search(rx, out + err)
                versions[name] = m.group(1).strip() if m else "?"
            except (OSError, BenchError):
                versions[name] = "?"
        info["versions"] = versions
        info["loadavg_start"] = os.getloadavg()
        return info

    # -- services

    def start_services(self):
        self.echo = self.runner.start("echo", [self.loadgen, "echo"])
        self.echo_port = int(self.echo.wait_for(r"listening 127\.0\.0\.1:(\d+)").group(1))
        self.iperf_servers = []
        ports = free_ports(SSH_TUNNELS)
        for i, port in enumerate(ports):
            self.iperf_servers.append(self.start_iperf_server(port))
        self.iperf_ports = ports

    def start_iperf_server(self, port):
        p = self.runner.start("iperf3-server", ["iperf3", "-s", "-B", "127.0.0.1", "-p", port, "--forceflush"])
        p.wait_for(r"Server listening on", 15)
        return p

    def restart_iperf_server(self, i):
        self.runner.stop(self.iperf_servers[i])
        self.iperf_servers[i] = self.start_iperf_server(self.iperf_ports[i])

    # -- paths

    def setup_direct(self):
        return dict(iperf=self.iperf_ports[0], echo=self.echo_port, relays={})

    def setup_rendezvous(self):
        u_iperf, u_echo = str(uuidlib.uuid4()), str(uuidlib.uuid4())
        secrets = self.secrets_file("rv-secrets", [u_iperf, u_echo])
        server, metrics = self.start_rvserver("rvserver", secrets, max_parked=max(64, POOL))
        svc = [(u_iperf, self.iperf_ports[0]), (u_echo, self.echo_port)]
        hidden = self.start_rvhidden("rvhidden", server, secrets, svc, POOL)
        if metrics:
            self.wait_parked(metrics, len(svc) * POOL, 60)
        conns = {}
        for u, what in ((u_iperf, "iperf"), (u_echo, "echo")):
            p = self.runner.start(f"rvconnect-listen-{what}",
                                  [self.bins["rvconnect"], "--server", server, "--ca-file", self.ca,
                                   "--listen", "127.0.0.1:0", u])
            conns[what] = (p, int(p.wait_for(r"listening 127\.0\.0\.1:(\d+)").group(1)))
        self.rv = dict(server=server, u_echo=u_echo, metrics=metrics)
        return dict(iperf=conns["iperf"][1], echo=conns["echo"][1],
                    relays={"rvconnect": [conns["iperf"][0].pid, conns["echo"][0].pid],
                            "rvserver": [self.rv_procs["rvserver"].pid],
                            "rvhidden": [p.pid for p in hidden]})

    def secrets_file(self, name, uuids):
        lines = "".join(f"{u} {base64.b32encode(os.urandom(20)).decode().rstrip('=')}\n" for u in uuids)
        return self.write(name, "# UUID BASE32SECRET\n" + lines)

    def start_rvserver(self, name, secrets, max_parked, log_level=None):
        argv = [self.bins["rvserver"], "--listen", "127.0.0.1:0", "--cert", self.cert, "--key", self.key,
                "--secrets", secrets, "--max-parked", max_parked, *self.generous_limits()]
        if log_level:
            argv += ["--log-level", log_level]
        metrics_wanted = self.has_option("rvserver", "--metrics")
        if metrics_wanted:
            argv += ["--metrics", "127.0.0.1:0"]
        p = self.runner.start(name, argv)
        self.rv_procs[name] = p
        server = p.wait_for(r"listening (127\.0\.0\.1:\d+)").group(1)
        metrics = p.wait_for(r"metrics (127\.0\.0\.1:\d+)").group(1) if metrics_wanted else None
        return server, metrics

    def start_rvhidden(self, name, server, secrets, services, pool, log_level=None):
        """One rvhidden serving every (uuid, port) of services (--service), or one per service
        when this rvhidden has no --service."""
        common = ["--server", server, "--ca-file", self.ca, "--secrets", secrets, "--pool", pool]
        if log_level:
            common += ["--log-level", log_level]
        if self.has_option("rvhidden", "--service"):
            argv = [self.bins["rvhidden"], *common]
            for u, port in services:
                argv += ["--service", f"{u} 127.0.0.1:{port}"]
            return [self.runner.start(name, argv)]
        return [self.runner.start(name, [self.bins["rvhidden"], *common, "--uuid", u,
                                         "--forward", f"127.0.0.1:{port}"]) for u, port in services]

    def scrape(self, metrics):
        with urllib.request.urlopen(f"http://{metrics}/metrics", timeout=10) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    values[name] = float(value)
                except ValueError:
                    pass
        return values

    def parked(self, metrics, uuids=None):
        v = self.scrape(metrics)
        if uuids is None:
            return int(v.get("rv_parked_connections_total", 0))
        return sum(int(v.get(f'rv_parked_connections{{uuid="{u}"}}', 0)) for u in uuids)

    def wait_parked(self, metrics, target, timeout):
        """Waits (bounded) until rvserver has `target` parked connections; returns the count reached."""
        deadline = now() + timeout
        n = 0
        while now() < deadline:
            n = self.parked(metrics)
            if n >= target:
                return n
            time.sleep(0.25)
        return n

    def setup_chain(self):
        a_iperf, a_echo, h_iperf, h_echo, s_iperf, s_echo = free_ports(6)
        # syslog = no: with no syslog daemon, glibc's syslog() writes every line to /dev/console,
        # which costs milliseconds per line (and litters the console); the log goes to stderr only.
        stunnel_server = self.write("stunnel-server.conf", f"""foreground = yes
syslog = no
pid =
[iperf]
accept = 127.0.0.1:{s_iperf}
connect = 127.0.0.1:{self.iperf_ports[0]}
cert = {self.cert}
key = {self.key}
[echo]
accept = 127.0.0.1:{s_echo}
connect = 127.0.0.1:{self.echo_port}
cert = {self.cert}
key = {self.key}
""")
        haproxy = self.write("haproxy-chain.cfg", self.haproxy_relay_config(
            4000, [("iperf", h_iperf, s_iperf), ("echo", h_echo, s_echo)]))
        stunnel_client = self.write("stunnel-client.conf", f"""foreground = yes
syslog = no
pid =
[iperf]
client = yes
accept = 127.0.0.1:{a_iperf}
connect = 127.0.0.1:{h_iperf}
CAfile = {self.ca}
verifyChain = yes
checkHost = localhost
sni = localhost
[echo]
client = yes
accept = 127.0.0.1:{a_echo}
connect = 127.0.0.1:{h_echo}
CAfile = {self.ca}
verifyChain = yes
checkHost = localhost
sni = localhost
""")
        ss = self.runner.start("stunnel-server", ["stunnel4", stunnel_server])
        wait_listening([s_iperf, s_echo], ss)
        hp = self.start_haproxy("haproxy", haproxy, [h_iperf, h_echo])
        sc = self.runner.start("stunnel-client", ["stunnel4", stunnel_client])
        wait_listening([a_iperf, a_echo], sc)
        self.chain_tls = dict(haproxy=h_echo, stunnel_server=s_echo)
        return dict(iperf=a_iperf, echo=a_echo,
                    relays={"stunnel client": [sc.pid], "haproxy": [hp.pid], "stunnel server": [ss.pid]})

    def haproxy_relay_config(self, maxconn, routes, next_tls=True):
        """HAProxy as a TLS-terminating TCP relay: each (name, listen port, next port) route takes
        TLS in and, with next_tls, re-encrypts to the next hop (verifying its certificate)."""
        text = f"""global
    maxconn {maxconn}
    ssl-server-verify required
defaults
    mode tcp
    maxconn {maxconn}
    timeout connect 10s
    timeout client 1h
    timeout server 1h
"""
        for name, listen, nxt in routes:
            tls = f" ssl ca-file {self.ca} verifyhost localhost sni str(localhost)" if next_tls else ""
            text += f"""frontend fe_{name}
    bind 127.0.0.1:{listen} ssl crt {self.combined}
    default_backend be_{name}
backend be_{name}
    server next 127.0.0.1:{nxt}{tls}
"""
        return text

    def start_haproxy(self, name, config, ports):
        rc, out, err = run(["haproxy", "-c", "-f", config], 30)
        if rc != 0:
            raise BenchError(f"haproxy -c {os.path.basename(config)}: {(out + err).strip()[-600:]}")
        p = self.runner.start(name, ["haproxy", "-db", "-f", config])
        wait_listening(ports, p)
        return p

    def setup_ssh(self):
        if not os.access(SSHD, os.X_OK):
            raise BenchError(f"{SSHD} not installed")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        d = self.path("sshd")
        os.makedirs(d, exist_ok=True)
        for name in ("host_key", "client_key"):
            for old in (f"{d}/{name}", f"{d}/{name}.pub"):  # a second try makes them anew
                if os.path.exists(old):
                    os.remove(old)
            rc, out, err = run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{d}/{name}"], 30)
            if rc != 0:
                raise BenchError(f"ssh-keygen: {err}")
        with open(f"{d}/client_key.pub") as f:
            self.write("sshd/authorized_keys", f.read())
        sshd = None
        for attempt in range(5):  # sshd cannot bind port 0 and say so: a free port, again if taken
            port = free_ports(1)[0]
            config = self.write("sshd/sshd_config",
                                harness.sshd_config(d, port, "AllowTcpForwarding yes\nLogLevel ERROR\n"))
            sshd = self.runner.start("sshd", [SSHD, "-D", "-e", "-f", config])
            try:
                wait_listening([port], sshd, 10)
                break
            except BenchError:
                self.runner.stop(sshd)
                sshd = None
        if sshd is None:
            raise BenchError("sshd did not start")
        opts = ["-N", "-T", "-p", port, "-i", f"{d}/client_key", "-c", "aes256-gcm@openssh.com",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                "-o", "IdentitiesOnly=yes", "-o", "ExitOnForwardFailure=yes", "-o", "ConnectTimeout=20",
                "-o", "LogLevel=INFO", "-F", "/dev/null"]
        dest = f"{getpass.getuser()}@127.0.0.1"
        reverse, local, lports = [], [], free_ports(SSH_TUNNELS + 1)
        echo_local = None
        for i in range(SSH_TUNNELS):
            targets = [self.iperf_ports[i]] + ([self.echo_port] if i == 0 else [])
            argv = ["ssh", *opts]
            for t in targets:
                argv += ["-R", f"127.0.0.1:0:127.0.0.1:{t}"]
            r = self.runner.start("ssh-R", argv + [dest])
            jump = {}
            for k in range(len(targets)):
                m = r.wait_for(r"Allocated port (\d+) for remote forward to 127\.0\.0\.1:(\d+)", 30, "err", k + 1)
                jump[int(m.group(2))] = int(m.group(1))
            reverse.append(r)
            argv = ["ssh", *opts, "-L", f"127.0.0.1:{lports[i]}:127.0.0.1:{jump[self.iperf_ports[i]]}"]
            wanted = [lports[i]]
            if i == 0:
                echo_local = lports[SSH_TUNNELS]
                argv += ["-L", f"127.0.0.1:{echo_local}:127.0.0.1:{jump[self.echo_port]}"]
                wanted.append(echo_local)
            l = self.runner.start("ssh-L", argv + [dest])
            wait_listening(wanted, l, 30)
            local.append(l)
        return dict(iperf=lports[0], echo=echo_local, iperf8=lports[:SSH_TUNNELS],
                    relays={"ssh -L": [p.pid for p in local], "sshd": [sshd.pid],
                            "ssh -R": [p.pid for p in reverse]})

    def setup_socat(self):
        p_iperf, p_echo = free_ports(2)
        procs = []
        for port, target, what in ((p_iperf, self.iperf_ports[0], "iperf"), (p_echo, self.echo_port, "echo")):
            p = self.runner.start(f"socat-{what}", [
                "socat", "-b", SOCAT_BUFFER,
                f"TCP4-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay,backlog=1024",
                f"TCP4:127.0.0.1:{target},nodelay"])
            wait_listening([port], p)
            procs.append(p)
        return dict(iperf=p_iperf, echo=p_echo, relays={"socat": [p.pid for p in procs]})

    def setup_paths(self):
        for name in [p for p in PATHS if p in self.args.paths]:
            for attempt in (1, 2):  # a second try: a free port may be taken by others meanwhile
                t0 = now()
                before = set(self.runner.procs)
                try:
                    spec = getattr(self, f"setup_{name}")()
                    # a working path echoes; the iperf leg is checked by a short warm-up run
                    r = self.loadgen_json(["open", spec["echo"], 3], 60)
                    if r["errors"] or r["n"] < 3:
                        raise BenchError(f"echo through the path failed: {r}")
                    self.paths[name] = spec
                    log(f"path {LABEL[name]} is up ({now() - t0:.1f} s)")
                    break
                except (BenchError, OSError) as e:
                    for p in [p for p in self.runner.procs if p not in before]:
                        self.runner.stop(p)
                    if attempt == 2:
                        self.fail(f"setting up path {LABEL[name]}", e)
                    else:
                        log(f"setting up path {LABEL[name]} failed ({e}); once more")
        for name in list(self.paths):
            try:
                self.iperf(name, 1, 1)
            except BenchError as e:
                self.fail(f"warm-up iperf3 through {LABEL[name]}", e)
                del self.paths[name]

    def thread_info(self):
        """Threads of each relay process once the paths are up (HAProxy picks one per CPU)."""
        info = {}
        for name, spec in self.paths.items():
            for proc, pids in spec["relays"].items():
                try:
                    with open(f"/proc/{pids[0]}/status") as f:
                        m = re.search(r"^Threads:\s*(\d+)", f.read(), re.M)
                    info[proc] = int(m.group(1)) if m else None
                except OSError:
                    pass
        self.meta["threads"] = info

    def tls_info(self):
        """What each TLS hop negotiated (openssl s_client -brief against every TLS listener)."""
        targets = []
        if "rendezvous" in self.paths:
            targets.append(("rvserver", self.rv["server"].split(":")[1]))
        if "chain" in self.paths:
            targets += [("HAProxy", self.chain_tls["haproxy"]), ("stunnel server", self.chain_tls["stunnel_server"])]
        info = {}
        for name, port in targets:
            try:
                rc, out, err = run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief",
                                    "-servername", "localhost", "-CAfile", self.ca], 15, input=b"")
                text = out + err
                proto = re.search(r"Protocol version: (\S+)", text)
                suite = re.search(r"Ciphersuite: (\S+)", text)
                info[name] = f"{proto.group(1) if proto else '?'} {suite.group(1) if suite else '?'}"
            except BenchError as e:
                info[name] = f"? ({e})"
        if "rendezvous" in self.paths:
            # s_client offers OpenSSL's order; our own legs offer AES-128-GCM first (lib/rv/tls.cpp)
            info["rvserver"] += " (openssl s_client)"
            try:
                rc, out, err = run([self.bins["rvconnect"], "--server", self.rv["server"], "--ca-file", self.ca,
                                    "--log-level", "debug", self.rv["u_echo"]], 15, input=b"")
                m = re.search(r"TLS established with \S+ \(([^)]*)\)", err)
                info["rvconnect -> rvserver"] = m.group(1) if m else f"? (rvconnect exit {rc})"
            except BenchError as e:
                info["rvconnect -> rvserver"] = f"? ({e})"
        self.meta["tls"] = info

    # -- load generators

    def loadgen_json(self, args, timeout):
        rc, out, err = run([self.loadgen, *args], timeout)
        lines = [l for l in out.splitlines() if l.startswith("{")]
        try:
            if rc == 0 and lines:
                return json.loads(lines[-1])
        except ValueError:
            pass
        raise BenchError(f"loadgen {' '.join(map(str, args))}: exit {rc}: {err.strip()[-400:]}")

    def iperf_once(self, port, seconds, parallel):
        rc, out, err = run(["iperf3", "-c", "127.0.0.1", "-p", port, "-t", seconds, "-P", parallel, "-J",
                            "--connect-timeout", "10000"], seconds + 40)
        try:
            j = json.loads(out)
        except ValueError:
            raise BenchError(f"iperf3 (port {port}): exit {rc}, no JSON: {err.strip()[-300:]}") from None
        if "error" in j:
            raise BenchError(f"iperf3 (port {port}): {j['error']}")
        try:
            s = j["end"]["sum_received"]
            return s["bits_per_second"], s["bytes"]
        except (KeyError, TypeError):
            raise BenchError(f"iperf3 (port {port}): no end.sum_received in its JSON") from None

    def iperf(self, name, seconds, parallel):
        """Throughput through path `name`: (Gbit/s, bytes, wall s, {relay: cpu s}, machine busy %).
        Retries once (restarting the iperf3 servers) when iperf3 fails."""
        spec = self.paths[name]
        for attempt in range(2):
            relays = spec["relays"]
            cpu0 = {k: cpu_seconds(v) for k, v in relays.items()}
            m0 = machine_cpu()
            t0 = now()
            try:
                if parallel > 1 and spec.get("iperf8"):
                    results, errors = [None] * len(spec["iperf8"]), []

                    def one(i, port):
                        try:
                            results[i] = self.iperf_once(port, seconds, 1)
                        except BenchError as e:
                            errors.append(str(e))
                    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(spec["iperf8"])]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join(seconds + 60)
                    if errors or any(r is None for r in results):
                        raise BenchError("; ".join(errors) or "an iperf3 client did not finish")
                    bps, nbytes = sum(r[0] for r in results), sum(r[1] for r in results)
                else:
                    bps, nbytes = self.iperf_once(spec["iperf"], seconds, parallel)
            except BenchError as e:
                if attempt == 1:
                    raise
                log(f"iperf3 through {LABEL[name]} failed ({e}); restarting the iperf3 servers, once")
                for i in range(len(self.iperf_servers)):
                    self.restart_iperf_server(i)
                continue
            wall = now() - t0
            m1 = machine_cpu()
            cpu = {k: cpu_seconds(v) - cpu0[k] for k, v in relays.items()}
            busy = 100.0 * NCPU * (m1[0] - m0[0]) / max(1, m1[1] - m0[1])
            return bps / 1e9, nbytes, wall, cpu, busy
        raise BenchError("unreachable")

    # -- figures

    def measure_throughput(self, rep):
        c = self.cfg
        for figure, parallel in (("tput1", 1), ("tput8", 8)):
            for name in self.ordered(rep):
                try:
                    gbps, nbytes, wall, cpu, busy = self.iperf(name, c["iperf_s"], parallel)
                except BenchError as e:
                    self.fail(f"{figure} rep {rep + 1} through {LABEL[name]}", e)
                    continue
                self.add(figure, name, gbps)
                self.add(f"busy_{figure}", name, busy)
                total = 0.0
                for proc, secs in cpu.items():
                    self.add(f"cpu_pct_{figure}", name, 100.0 * secs / wall, proc)
                    self.add(f"cpu_gib_{figure}", name, secs / (nbytes / GIB), proc)
                    total += secs
                if cpu:
                    self.add(f"cpu_gib_{figure}", name, total / (nbytes / GIB), "all relays")
                    self.add(f"cpu_pct_{figure}", name, 100.0 * total / wall, "all relays")
                log(f"rep {rep + 1}: {figure} {LABEL[name]}: {gbps:.2f} Gbit/s "
                    + " ".join(f"{k}={100 * v / wall:.0f}%" for k, v in cpu.items()))

    def measure_rtt(self, rep):
        c = self.cfg
        for name in self.ordered(rep):
            try:
                r = self.loadgen_json(["rtt", self.paths[name]["echo"], c["rtt_count"], 64], 300)
            except BenchError as e:
                self.fail(f"RTT rep {rep + 1} through {LABEL[name]}", e)
                continue
            self.add("rtt_med", name, r["median"])
            self.add("rtt_p99", name, r["p99"])
            log(f"rep {rep + 1}: RTT {LABEL[name]}: median {r['median']:.1f} us, p99 {r['p99']:.1f} us")

    def measure_open(self, rep):
        c = self.cfg
        for name in self.ordered(rep):
            try:
                r = self.loadgen_json(["open", self.paths[name]["echo"], c["open_count"]], 300)
                if r["n"] == 0:
                    raise BenchError(f"every open failed ({r['errors']})")
                if r["errors"]:
                    self.notes.append(f"open rep {rep + 1} through {LABEL[name]}: {r['errors']} of "
                                      f"{c['open_count']} opens failed")
            except BenchError as e:
                self.fail(f"open rep {rep + 1} through {LABEL[name]}", e)
                continue
            self.add("open_med", name, r["median"])
            log(f"rep {rep + 1}: open {LABEL[name]}: median {r['median']:.2f} ms")

    def measure_rate(self, rep):
        c = self.cfg
        for name in self.ordered(rep):
            try:
                r = self.loadgen_json(["rate", self.paths[name]["echo"], c["rate_clients"], c["rate_s"], 200000],
                                      c["rate_s"] + 120)
                if r["ok"] == 0:
                    raise BenchError(f"every open failed ({r['errors']})")
                if r["errors"]:
                    self.notes.append(f"opens/s rep {rep + 1} through {LABEL[name]}: {r['errors']} failed "
                                      f"opens (of {r['ok'] + r['errors']})")
            except BenchError as e:
                self.fail(f"opens/s rep {rep + 1} through {LABEL[name]}", e)
                continue
            self.add("open_rate", name, r["per_s"])
            log(f"rep {rep + 1}: opens/s {LABEL[name]}: {r['per_s']:.0f}")
            time.sleep(0.5)  # let the pools refill between paths

    def ordered(self, rep):
        """The paths up, in an order that rotates with the repetition."""
        names = [p for p in PATHS if p in self.paths]
        k = rep % max(1, len(names))
        return names[k:] + names[:k]

    def measure_speed(self):
        c = self.cfg
        for cipher, figure in (("aes-128-gcm", "aes128"), ("aes-256-gcm", "aes256")):
            for rep in range(c["reps"]):
                try:
                    rc, out, err = run(["openssl", "speed", "-evp", cipher, "-seconds", c["speed_s"],
                                        "-bytes", 16384, "-mr"], 60 + c["speed_s"])
                    m = re.search(r"\+F:\d+:[^:]+:([\d.]+)", out)
                    if rc != 0 or not m:
                        raise BenchError(f"openssl speed {cipher}: exit {rc}: {err.strip()[-300:]}")
                    self.add(figure, "crypto", float(m.group(1)) * 8 / 1e9)
                except BenchError as e:
                    self.fail(f"openssl speed {cipher}", e)

    def measure_stdio(self):
        """rvconnect in stdio mode: process start to the first echoed byte (rendezvous only), and
        the same for `cat` as the floor of starting a process from this driver."""
        if "rendezvous" not in self.paths:
            return
        c = self.cfg
        cases = (("stdio_start", "rendezvous", [self.bins["rvconnect"], "--server", self.rv["server"],
                                               "--ca-file", self.ca, self.rv["u_echo"]]),
                 ("stdio_start", "floor", ["cat"]))
        for rep in range(c["reps"]):
            for figure, item, argv in cases:
                times = []
                for i in range(c["stdio_count"]):
                    try:
                        times.append(self.first_byte(argv))
                    except BenchError as e:
                        self.notes.append(f"{item} stdio start: {e}")
                if times:
                    self.add(figure, "rendezvous", statistics.median(times), item)
                else:
                    self.fail(f"stdio start ({item})", "every attempt failed")

    def first_byte(self, argv):
        err = open(os.path.join(self.logdir, "stdio-start.err"), "ab")
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                             start_new_session=True)
        try:
            p.stdin.write(b"x")
            p.stdin.flush()
            r, _, _ = select.select([p.stdout], [], [], 15)
            got = os.read(p.stdout.fileno(), 1) if r else b""
            t = time.perf_counter() - t0
            if got != b"x":
                raise BenchError(f"{os.path.basename(argv[0])}: no echoed byte (exit {p.poll()})")
            p.stdin.close()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                raise BenchError(f"{os.path.basename(argv[0])} did not exit after its stdin ended") from None
            return t * 1e3
        finally:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                p.wait(5)
            for f in (p.stdin, p.stdout):
                try:
                    f.close()
                except (OSError, BrokenPipeError):
                    pass
            err.close()

    # -- memory

    def settled_pss(self, procs, what):
        """PSS (KiB) of each Proc once steady: sampled every second until, over the last
        SETTLE_WINDOW seconds, none moved by more than 1% (at least 64 KiB); at most SETTLE_LIMIT s.
        (A process may hand freed memory back some seconds after a burst: rvserver and rvhidden
        call malloc_trim once a period passes with no new connection.)"""
        t0 = now()
        samples = []
        while True:
            t = now()
            cur = [pss_kib(p.pid) for p in procs]
            samples.append((t, cur))
            window = [v for ts, v in samples if t - ts <= SETTLE_WINDOW]
            if t - samples[0][0] >= SETTLE_WINDOW and all(
                    max(v[i] for v in window) - min(v[i] for v in window) <= max(64, cur[i] // 100)
                    for i in range(len(procs))):
                return cur
            if t - t0 >= SETTLE_LIMIT:
                self.notes.append(f"memory ({what}): PSS still moving after {SETTLE_LIMIT} s; the last sample is used")
                return cur
            time.sleep(1)

    def measure_memory_rendezvous(self):
        c = self.cfg
        n_parked = c["parked"]
        pool = min(MAX_POOL, n_parked)
        n_services = -(-n_parked // pool)
        per_hidden = min(SERVICES_PER_HIDDEN, n_services)
        n_hidden = -(-n_services // per_hidden)
        uuids = [str(uuidlib.uuid4()) for _ in range(n_services + 1)]
        secrets = self.secrets_file("mem-secrets", uuids)
        metrics_ok = self.has_option("rvserver", "--metrics")
        if not metrics_ok:
            raise BenchError("rvserver has no --metrics: cannot count parked connections")
        server, metrics = self.start_rvserver("rvserver-mem", secrets, max_parked=pool + 6, log_level="warn")
        rvserver = self.rv_procs["rvserver-mem"]
        groups, base = [], None
        try:
            base = self.start_rvhidden("rvhidden-mem-base", server, secrets, [(uuids[0], self.echo_port)], 1)[0]
            if self.wait_parked(metrics, 1, 30) < 1:
                raise BenchError("the baseline rvhidden did not park")
            pss_server0, pss_hidden0 = self.settled_pss([rvserver, base], "1 parked")
            for h in range(n_hidden):
                svc_uuids = uuids[1 + h * per_hidden: 1 + (h + 1) * per_hidden]
                procs = self.start_rvhidden(f"rvhidden-mem", server, secrets,
                                            [(u, self.echo_port) for u in svc_uuids], pool, log_level="error")
                groups.append((procs, svc_uuids))
            target = 1 + n_services * pool
            t0 = now()
            reached = self.wait_parked(metrics, target, 240 if not self.args.quick else 90)
            log(f"memory: {reached - 1} of {n_services * pool} parked in {now() - t0:.1f} s "
                f"({n_hidden} rvhidden x {per_hidden} services x --pool {pool})")
            if reached < target:
                self.notes.append(f"memory: only {reached - 1} of {n_services * pool} connections parked in time; "
                                  "per-parked figures use the count reached")
            hiddens = [g[0][0] for g in groups if len(g[0]) == 1]
            pss = self.settled_pss([rvserver, *hiddens], f"{reached - 1} parked")
            pss_server1 = pss[0]
            reached = self.parked(metrics)
            n = reached - 1
            if n <= 0:
                raise BenchError("nothing parked")
            self.add("mem_parked", "rendezvous", (pss_server1 - pss_server0) / n, "rvserver")
            self.meta["parked"] = n
            for (procs, svc_uuids), pss_hidden in zip([g for g in groups if len(g[0]) == 1], pss[1:]):
                k = self.parked(metrics, svc_uuids)
                if k > 1:
                    self.add("mem_parked", "rendezvous", (pss_hidden - pss_hidden0) / (k - 1), "rvhidden")
            log(f"memory: rvserver PSS {pss_server0} -> {pss_server1} KiB with {n} parked")
        finally:
            for p in [rvserver, base] + [p for g, _ in groups for p in g]:
                if p is not None:
                    self.runner.stop(p)

    def measure_memory_tunnels(self):
        """PSS per live idle tunnel: a fresh rvserver (a heap that 10,000 parked connections left
        behind would hide the tunnels' own memory), rvhidden --pool POOL, rvconnect --listen, and
        live_tunnels connections that each echo one byte and then stay open and idle; rvhidden
        re-parks what they take, so the parked count is the same before and after."""
        c = self.cfg
        u = str(uuidlib.uuid4())
        secrets = self.secrets_file("tun-secrets", [u])
        server, metrics = self.start_rvserver("rvserver-tun", secrets, max_parked=max(64, POOL), log_level="warn")
        rvserver = self.rv_procs["rvserver-tun"]
        hidden = self.start_rvhidden("rvhidden-tun", server, secrets, [(u, self.echo_port)], POOL, log_level="error")
        conn = self.runner.start("rvconnect-tun", [self.bins["rvconnect"], "--server", server, "--ca-file", self.ca,
                                                   "--listen", "127.0.0.1:0", u])
        hold = None
        try:
            if len(hidden) != 1:
                raise BenchError("expected one rvhidden")
            port = int(conn.wait_for(r"listening 127\.0\.0\.1:(\d+)").group(1))
            if self.wait_parked(metrics, POOL, 60) < POOL:
                raise BenchError(f"rvhidden did not park {POOL} connections")
            self.loadgen_json(["open", port, 20], 120)  # warm: tunnels opened and closed
            self.wait_parked(metrics, POOL, 30)
            procs = {"rvserver": rvserver, "rvhidden": hidden[0], "rvconnect": conn}
            before = dict(zip(procs, self.settled_pss(list(procs.values()), "before the tunnels")))
            m = c["live_tunnels"]
            hold = self.runner.start("loadgen-hold-rv", [self.loadgen, "hold", port, m, 8, "tcp"],
                                     stdin=subprocess.PIPE)
            r = json.loads(hold.wait_for(r"\{.*\}", 300).group(0))
            held = r["held"]
            if held == 0:
                raise BenchError(f"no tunnel held: {r}")
            if r["errors"]:
                self.notes.append(f"memory: {r['errors']} of {m} idle tunnels failed to open")
            refilled = self.wait_parked(metrics, POOL, 60)
            after = dict(zip(procs, self.settled_pss(list(procs.values()), f"{held} tunnels")))
            for k in before:
                self.add("mem_tunnel", "rendezvous", (after[k] - before[k]) / held, k)
            self.meta["live_tunnels"] = held
            log(f"memory: {held} live idle tunnels ({refilled} parked): rvserver PSS "
                f"{before['rvserver']} -> {after['rvserver']} KiB")
        finally:
            if hold is not None:
                try:
                    hold.p.stdin.close()
                except OSError:
                    pass
                self.runner.stop(hold)
            for p in [conn, *hidden, rvserver]:
                self.runner.stop(p)

    def measure_memory_haproxy(self):
        """HAProxy per idle connection: N idle TLS connections (the load generator's TLS clients)
        relayed by an HAProxy configured as in the chain (TLS in, TLS out to the next hop). The
        next hop is a second HAProxy terminating TLS in front of the echo service (stunnel, a thread
        per connection, is not made for 10,000)."""
        c = self.cfg
        hard = nofile_hard()
        n = min(c["haproxy_idle"], (hard - 400) // 2)  # the relay holds 2 descriptors per connection
        if n < c["haproxy_idle"]:
            self.notes.append(f"memory: HAProxy relays 2 descriptors per connection; with RLIMIT_NOFILE "
                              f"{hard}, {n} idle connections (not {c['haproxy_idle']})")
        relay_port, sink_port = free_ports(2)
        maxconn = n + 20
        sink = self.write("haproxy-sink.cfg", self.haproxy_relay_config(
            maxconn, [("sink", sink_port, self.echo_port)], next_tls=False))
        relay = self.write("haproxy-mem.cfg", self.haproxy_relay_config(maxconn, [("relay", relay_port, sink_port)]))
        sp = self.start_haproxy("haproxy-sink", sink, [sink_port])
        rp = self.start_haproxy("haproxy-mem", relay, [relay_port])
        try:
            warm = self.runner.start("loadgen-hold-warm", [self.loadgen, "hold", relay_port, 5, 1, "tls"],
                                     stdin=subprocess.PIPE)
            warm.wait_for(r"\{.*\}", 60)
            warm.p.stdin.close()
            self.runner.stop(warm)
            pss0 = self.settled_pss([rp], "HAProxy, before")[0]
            hold = self.runner.start("loadgen-hold-haproxy", [self.loadgen, "hold", relay_port, n, 8, "tls"],
                                     stdin=subprocess.PIPE)
            try:
                r = json.loads(hold.wait_for(r"\{.*\}", 300).group(0))
                if r["held"] == 0:
                    raise BenchError(f"no connection held: {r}")
                if r["errors"]:
                    self.notes.append(f"memory: {r['errors']} of {n} idle connections through HAProxy failed")
                pss1 = self.settled_pss([rp], f"HAProxy, {r['held']} connections")[0]
                self.add("mem_idle", "chain", (pss1 - pss0) / r["held"], "haproxy")
                self.meta["haproxy_idle"] = r["held"]
                log(f"memory: HAProxy PSS {pss0} -> {pss1} KiB with {r['held']} idle connections")
            finally:
                try:
                    hold.p.stdin.close()
                except OSError:
                    pass
                self.runner.stop(hold)
        finally:
            self.runner.stop(rp)
            self.runner.stop(sp)

    # -- cluster (issue 12): several rvserver nodes sharing one Redis

    def measure_cluster(self):
        """The cluster group: --redis's overhead on one node, 1-3 nodes under 8 tunnels, a node
        killed and restarted under load, and a Redis outage under load. Its own services (the
        path phase's were stopped), its own certificate (127.0.0.1-3), one Redis on a unix socket."""
        if shutil.which("redis-server") is None:
            raise BenchError("redis-server is not installed (scripts/bench installs it)")
        for prog, option in (("rvserver", "--redis"), ("rvserver", "--pool-credential-key-file"),
                             ("rvhidden", "--service"), ("rvserver", "--metrics")):
            if not self.has_option(prog, option):
                raise BenchError(f"{prog} has no {option}")
        self.start_services()
        self.cluster_prepare()
        self.cluster_redis_start()
        steps = (("cluster: --redis overhead on one node", self.cluster_overhead),
                 ("cluster: 1-3 nodes", self.cluster_scale_and_faults))
        for what, fn in steps:
            before = set(self.runner.procs)
            try:
                fn()
            except (BenchError, OSError, ValueError, KeyError) as e:
                self.fail(what, e)
            finally:
                for p in [p for p in self.runner.procs if p not in before]:
                    self.runner.stop(p)

    def cl_add(self, figure, item, value):
        self.add(figure, "cluster", value, item)

    def cluster_prepare(self):
        """A certificate naming the three node addresses, the shared pool credential key file, and
        a secrets file whose keys we keep (registrations are measured from here with real codes)."""
        ips = [f"127.0.0.{i + 1}" for i in range(CLUSTER_NODES)]
        self.write("cluster.ext", "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,"
                   + ",".join(f"IP:{ip}" for ip in ips) + "\n", 0o644)
        for argv in (["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                      "-keyout", "cluster.key", "-out", "cluster.csr", "-subj", "/CN=localhost"],
                     ["x509", "-req", "-in", "cluster.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                      "-out", "cluster.pem", "-days", "2", "-extfile", "cluster.ext"]):
            rc, out, err = run(["openssl", *argv], 30, cwd=self.work)
            if rc != 0:
                raise BenchError(f"openssl {argv[0]} (cluster certificate): {err.strip()[-400:]}")
        self.cl_ips = ips
        self.cl_cert, self.cl_key = self.path("cluster.pem"), self.path("cluster.key")
        self.cl_keyfile = self.write("credential.keys", os.urandom(32).hex() + "\n")
        names = ["echo", "reg"] + [f"iperf{j}" for j in range(CLUSTER_NODES)]
        self.cl_uuid = {n: str(uuidlib.uuid4()) for n in names}
        self.cl_totp_key = {n: os.urandom(20) for n in names}
        self.cl_secrets = self.write("cluster-secrets", "# UUID BASE32SECRET\n" + "".join(
            f"{self.cl_uuid[n]} {base64.b32encode(self.cl_totp_key[n]).decode().rstrip('=')}\n" for n in names))
        self.cl_tls = ssl.create_default_context(cafile=self.ca)  # checks the node's IP address too
        self.cl_notes = {}  # (figure, item) -> the table's note for that row

    def cluster_redis_start(self):
        d = self.path("redis")
        os.makedirs(d, exist_ok=True)
        sock = os.path.join(d, "redis.sock")
        if os.path.exists(sock):
            os.unlink(sock)
        p = self.runner.start("redis-server", [
            "redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", d])
        p.wait_for(r"[Rr]eady to accept connections", 15)
        self.cl_redis, self.cl_redis_url = p, "unix://" + sock
        rc, out, err = run(["redis-server", "--version"], 10)
        m = re.search(r"v=(\S+)", out)
        self.meta.setdefault("versions", {})["Redis"] = m.group(1) if m else "?"

    def cluster_node(self, name, ip, port=0, redis=True):
        """An rvserver node on ip (port 0: any) with the cluster's shared files; .addr and .metrics."""
        argv = [self.bins["rvserver"], "--listen", f"{ip}:{port}", "--cert", self.cl_cert, "--key", self.cl_key,
                "--secrets", self.cl_secrets, "--max-parked", max(64, CLUSTER_POOL), *self.generous_limits(),
                "--pool-credential-key-file", self.cl_keyfile, "--metrics", "127.0.0.1:0"]
        if redis:
            argv += ["--redis", self.cl_redis_url]
        if self.has_option("rvserver", "--node-id"):
            argv += ["--node-id", name]
        p = self.runner.start(name, argv)
        p.addr = p.wait_for(r"listening (" + re.escape(ip) + r":\d+)").group(1)
        p.metrics = p.wait_for(r"metrics (127\.0\.0\.1:\d+)").group(1)
        return p

    def cluster_hidden(self, name, addrs, services, pool):
        """rvhidden parking `pool` per service at every address: one rvhidden with every --server
        once it parks at each (its --help names --server-addresses), else one rvhidden per node."""
        common = ["--ca-file", self.ca, "--secrets", self.cl_secrets, "--pool", pool]
        for u, port in services:
            common += ["--service", f"{u} 127.0.0.1:{port}"]
        self.meta["cluster_hidden_all"] = self.has_option("rvhidden", "--server-addresses")
        if self.meta["cluster_hidden_all"]:
            servers = [a for addr in addrs for a in ("--server", addr)]
            return [self.runner.start(name, [self.bins["rvhidden"], *servers, *common])]
        return [self.runner.start(name, [self.bins["rvhidden"], "--server", addr, *common]) for addr in addrs]

    def cluster_wait_parked(self, nodes, uuids, per_node, timeout):
        deadline = now() + timeout
        while True:
            counts = [self.parked(n.metrics, uuids) for n in nodes]
            if all(k >= per_node for k in counts):
                return
            if now() > deadline:
                raise BenchError(f"parked {counts} at the nodes, not {per_node} each, within {timeout} s")
            time.sleep(0.2)

    def cluster_listen(self, name, addrs, uuid):
        """rvconnect --listen with every node as --server, in the given order; its local port."""
        servers = [a for addr in addrs for a in ("--server", addr)]
        p = self.runner.start(name, [self.bins["rvconnect"], *servers, "--ca-file", self.ca,
                                     "--listen", "127.0.0.1:0", uuid])
        return int(p.wait_for(r"listening 127\.0\.0\.1:(\d+)").group(1))

    def register(self, addr, name, code=True, credential=None, pool=False, timeout=10.0):
        """One registration for the UUID `name` at `addr` from 127.0.0.1 over TLS (as rvhidden
        would send it, docs/PROTOCOL.md §4): (status, fields, ms from the request's first byte
        to the whole answer head; the TLS handshake before it is not counted). The connection
        is closed after the head, so a parked one ends at once."""
        host, port = addr.rsplit(":", 1)
        uuid = self.cl_uuid[name]
        raw = socket.create_connection((host, int(port)), timeout=timeout, source_address=("127.0.0.1", 0))
        with self.cl_tls.wrap_socket(raw, server_hostname=host) as s:
            target = f"uuid:{uuid}" + (f"?response={totp(self.cl_totp_key[name])}" if code and not credential else "")
            head = f"CONNECT {target} HTTP/1.1\r\nHost: {addr}\r\n"
            if credential:
                head += f"Rendezvous-Pool-Credential: {credential}\r\n"
            if pool:
                head += "Rendezvous-Pool: 1\r\n"
            data = b""
            t0 = time.perf_counter()
            s.sendall((head + "\r\n").encode())
            deadline = now() + timeout
            while b"\r\n\r\n" not in data and len(data) < 65536 and now() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            ms = (time.perf_counter() - t0) * 1e3
        if b"\r\n\r\n" not in data:
            raise BenchError(f"registration at {addr}: no answer head ({data[:200]!r})")
        lines = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        fields = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        return int(lines[0].split(" ")[1]), fields, ms

    def credential(self, addr, name):
        status, fields, _ = self.register(addr, name, pool=True)
        cred = fields.get("rendezvous-pool-credential")
        if status != 200 or not cred:
            raise BenchError(f"a code registration asking for a pool credential at {addr}: {status} {fields}")
        return cred

    def cluster_overhead(self):
        """One node without --redis and one with (same Redis as the cluster), each with its own
        rvhidden --pool POOL and rvconnect --listen, measured in turns: 1 tunnel, RTT, open, and
        registration by code and by pool credential."""
        c = self.cfg
        u_echo, u_iperf = self.cl_uuid["echo"], self.cl_uuid["iperf0"]
        ports = {}
        for key, redis in (("plain", False), ("redis", True)):
            node = self.cluster_node(f"solo-{key}", self.cl_ips[0], redis=redis)
            self.cluster_hidden(f"rvhidden-solo-{key}", [node.addr],
                                [(u_echo, self.echo_port), (u_iperf, self.iperf_ports[0])], POOL)
            self.cluster_wait_parked([node], [u_echo, u_iperf], 2 * POOL, 60)
            ports[key] = dict(addr=node.addr, pid=node.pid,
                              echo=self.cluster_listen(f"rvconnect-solo-{key}-echo", [node.addr], u_echo),
                              iperf=self.cluster_listen(f"rvconnect-solo-{key}-iperf", [node.addr], u_iperf))
            r = self.loadgen_json(["open", ports[key]["echo"], 3], 60)
            if r["errors"] or r["n"] < 3:
                raise BenchError(f"echo through the node {key} failed: {r}")
            ports[key]["credential"] = self.credential(node.addr, "reg")
        log("cluster: one node with --redis and one without are up")
        keys = ["plain", "redis"]
        for rep in range(c["reps"]):
            for key in keys[rep % 2:] + keys[:rep % 2]:
                p = ports[key]
                steps = (("cl_tput1", lambda: self.iperf_once(p["iperf"], c["iperf_s"], 1)[0] / 1e9),
                         ("cl_rtt", lambda: self.loadgen_json(["rtt", p["echo"], c["rtt_count"], 64], 300)["median"]),
                         ("cl_open", lambda: self.open_with_cpu(key, p)),
                         ("cl_reg_code", lambda: self.registration_median(p["addr"], None)),
                         ("cl_reg_cred", lambda: self.registration_median(p["addr"], p["credential"])))
                for figure, fn in steps:
                    try:
                        v = fn()
                    except BenchError as e:
                        self.fail(f"cluster {figure} rep {rep + 1} ({key})", e)
                        continue
                    self.cl_add(figure, key, v)
                log(f"rep {rep + 1}: cluster, one node {'with' if key == 'redis' else 'without'} --redis: "
                    + ", ".join(f"{f} {_fmt(self.samples[(f, 'cluster', key)][-1])}" for f, _ in steps
                                if (f, "cluster", key) in self.samples))

    def open_with_cpu(self, key, p):
        """The open figure through one node, and the CPU that node's rvserver (and Redis) spent
        per open meanwhile: rvhidden re-parks each connection a client took, with its pool
        credential, and with --redis the node then records the address as trusted in Redis."""
        pids = {key: [p["pid"]]}
        if key == "redis":
            pids["redis-server"] = [self.cl_redis.pid]
        cpu0 = {k: sum(cpu_ns(pid) for pid in v) for k, v in pids.items()}
        calls0 = self.redis_calls() if key == "redis" else None
        r = self.loadgen_json(["open", p["echo"], self.cfg["open_count"]], 300)
        for k, v in pids.items():
            self.cl_add("cl_open_cpu", k, (sum(cpu_ns(pid) for pid in v) - cpu0[k]) / 1e3 / max(1, r["n"]))
        if calls0 is not None:
            calls1 = self.redis_calls()
            per = {c: (calls1.get(c, 0) - calls0.get(c, 0)) / max(1, r["n"]) for c in calls1}
            used = ", ".join(f"{c} {v:.2f}" for c, v in sorted(per.items()) if v > 0 and c != "info")
            # Pairing never touches Redis; rvhidden's refills are credential registrations, whose
            # address a node trusts in Redis once an hour per UUID and address.
            self.cl_notes[("cl_open_cpu", "redis-server")] = (
                "Redis commands per open: " + used if used else "no Redis command per open")
        return r["median"]

    def redis_calls(self):
        """{command: calls} from the cluster's Redis (INFO commandstats), over its unix socket."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.cl_redis_url[len("unix://"):])
            s.sendall(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n")
            data = b""
            deadline = now() + 5
            while now() < deadline and len(data) < 1 << 20:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                m = re.match(rb"\$(\d+)\r\n", data)
                if m and len(data) >= m.end() + int(m.group(1)):
                    break
        return {m.group(1).decode(): int(m.group(2))
                for m in re.finditer(rb"cmdstat_([\w|]+):calls=(\d+)", data)}

    def registration_median(self, addr, credential):
        """Median ms of cl_registrations sequential registrations (a fresh code for each, or the
        credential); every one must be taken."""
        times = []
        for _ in range(self.cfg["cl_registrations"]):
            status, fields, ms = self.register(addr, "reg", credential=credential)
            if status != 200:
                raise BenchError(f"registration by {'credential' if credential else 'code'} at {addr}: "
                                 f"{status} {fields}")
            times.append(ms)
        return statistics.median(times)

    def cluster_scale_and_faults(self):
        """Three nodes on 127.0.0.1-3 sharing the Redis: 8 tunnels over 1, 2 and 3 of them; then a
        node killed and restarted under load; then a Redis outage under load."""
        nodes = [self.cluster_node(f"node{i + 1}", ip) for i, ip in enumerate(self.cl_ips)]
        addrs = [n.addr for n in nodes]
        iperf_uuids = [self.cl_uuid[f"iperf{j}"] for j in range(CLUSTER_NODES)]
        self.cluster_hidden("rvhidden-echo", addrs, [(self.cl_uuid["echo"], self.echo_port)], CLUSTER_POOL)
        # one rvhidden (or one per node) for each iperf3 service: however many nodes carry the
        # 8 tunnels, the same three rvhidden processes (and three rvconnect, three iperf3) do
        for j, u in enumerate(iperf_uuids):
            self.cluster_hidden(f"rvhidden-iperf{j}", addrs, [(u, self.iperf_ports[j])], CLUSTER_IPERF_POOL)
        self.cluster_wait_parked(nodes, [self.cl_uuid["echo"]], CLUSTER_POOL, 60)
        self.cluster_wait_parked(nodes, iperf_uuids, CLUSTER_NODES * CLUSTER_IPERF_POOL, 60)
        log(f"cluster: {CLUSTER_NODES} nodes up, {CLUSTER_POOL} echo connections parked at each")
        # rvconnect --listen for iperf3 service j that tries node `first` first: its tunnels go
        # through that node while it is up. With n nodes, service j's tunnels go to node j mod n.
        listen = {}
        for n in range(1, CLUSTER_NODES + 1):
            for j in range(CLUSTER_NODES):
                first = j % n
                if (j, first) not in listen:
                    listen[(j, first)] = self.cluster_listen(f"rvconnect-iperf{j}-node{first + 1}",
                                                             addrs[first:] + addrs[:first], iperf_uuids[j])
        for name, fn in (("1-3 nodes, 8 tunnels", lambda: self.cluster_scale(nodes, listen)),
                         ("node kill", lambda: self.cluster_kill(nodes)),
                         ("Redis outage", lambda: self.cluster_outage(nodes))):
            try:
                fn()
            except (BenchError, OSError, ValueError, KeyError) as e:
                self.fail(f"cluster: {name}", e)

    def cluster_scale(self, nodes, listen):
        """8 tunnels over n = 1..3 nodes: three iperf3 clients (-P 3, 3, 2), one per iperf3
        service, client j through node j mod n; the total, and each node's rvserver CPU over
        the bytes it relayed."""
        c = self.cfg
        split = [8 // CLUSTER_NODES + (1 if j < 8 % CLUSTER_NODES else 0) for j in range(CLUSTER_NODES)]
        counts = list(range(1, CLUSTER_NODES + 1))
        for rep in range(c["reps"]):
            for n in counts[rep % len(counts):] + counts[:rep % len(counts)]:
                results, errors = [None] * CLUSTER_NODES, []

                def one(j):
                    try:
                        results[j] = self.iperf_once(listen[(j, j % n)], c["iperf_s"], split[j])
                    except BenchError as e:
                        errors.append(str(e))
                cpu0 = [cpu_seconds([nodes[k].pid]) for k in range(n)]
                m0, t0 = machine_cpu(), now()
                threads = [threading.Thread(target=one, args=(j,)) for j in range(CLUSTER_NODES)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(c["iperf_s"] + 60)
                wall, m1 = now() - t0, machine_cpu()
                cpu = [cpu_seconds([nodes[k].pid]) - cpu0[k] for k in range(n)]
                if errors or any(r is None for r in results):
                    self.fail(f"cluster: 8 tunnels over {n} nodes, rep {rep + 1}",
                              "; ".join(errors) or "an iperf3 client did not finish")
                    continue
                item = str(n)
                self.cl_add("cl_scale_tput", item, sum(r[0] for r in results) / 1e9)
                for k in range(n):
                    nbytes = sum(results[j][1] for j in range(CLUSTER_NODES) if j % n == k)
                    self.cl_add("cl_scale_cpu_gib", item, cpu[k] / (nbytes / GIB))
                    self.cl_add("cl_scale_cpu_pct", item, 100.0 * cpu[k] / wall)
                self.cl_add("cl_scale_busy", item, 100.0 * NCPU * (m1[0] - m0[0]) / max(1, m1[1] - m0[1]))
                log(f"rep {rep + 1}: cluster, 8 tunnels over {n} node(s): "
                    f"{sum(r[0] for r in results) / 1e9:.2f} Gbit/s; rvserver "
                    + " ".join(f"{100 * x / wall:.0f}%" for x in cpu))

    def client_argv(self, addrs, first):
        """rvconnect in stdio mode for the echo service with every node as --server, node `first`
        first (so that clients spread over the nodes)."""
        order = addrs[first:] + addrs[:first]
        return [self.bins["rvconnect"], *[a for addr in order for a in ("--server", addr)],
                "--ca-file", self.ca, "--log-level", "info", self.cl_uuid["echo"]]

    def open_loop(self, addrs, clients, t0, t_end, record):
        """`clients` threads, each opening short tunnels back to back until t_end (rvconnect with
        every node, client i trying node i mod N first; 64 bytes echoed, then stdin closed); each
        open is recorded as (start s, end s, ok, moved on, why) relative to t0."""
        def client(i):
            argv = self.client_argv(addrs, i % len(addrs))
            for _ in range(1000000):
                ts = now()
                if ts >= t_end:
                    return
                payload = os.urandom(32).hex().encode()
                p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
                try:
                    out, err = p.communicate(payload, timeout=20)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                    out, err = p.communicate()
                    err += b"\n(no exit within 20 s)"
                ok = p.returncode == 0 and out == payload
                text = err.decode("utf-8", "replace").strip()
                why = "" if ok else (text.splitlines()[-1] if text else f"exit {p.returncode}, echoed {out[:80]!r}")
                why = re.sub(r"^\S*\d\d:\d\d:\S*\s+", "", why)  # the log line's timestamp
                record.append((ts - t0, now() - t0, ok, "moving on" in text, why))
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        return threads

    class LongTunnel:
        """rvconnect in stdio mode carrying a steady stream of random bytes to the echo service and
        back, SHA-256 of each direction kept; intact if every byte came back, in order."""

        def __init__(self, bench, argv, name, block):
            self.name = name
            self.err_path = os.path.join(bench.logdir, f"{name}.err")
            with open(self.err_path, "wb") as err:
                self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                          start_new_session=True)
            self.block = block
            self.sent = self.received = 0
            self.h_sent, self.h_received = hashlib.sha256(), hashlib.sha256()
            self.stop = threading.Event()
            self.write_error = None
            self.ended = None  # when its output ended (monotonic)
            self.writer = threading.Thread(target=self.write, daemon=True)
            self.reader = threading.Thread(target=self.read, daemon=True)
            self.writer.start()
            self.reader.start()

        def write(self):
            k = 0
            try:
                while not self.stop.is_set():
                    off = (k * 7919) % (len(self.block) - LONG_CHUNK)
                    chunk = self.block[off:off + LONG_CHUNK]
                    self.p.stdin.write(chunk)
                    self.p.stdin.flush()
                    self.h_sent.update(chunk)
                    self.sent += len(chunk)
                    k += 1
                    self.stop.wait(LONG_CHUNK / LONG_RATE)
            except (BrokenPipeError, OSError, ValueError) as e:
                self.write_error = repr(e)
            finally:
                try:
                    self.p.stdin.close()
                except (BrokenPipeError, OSError):
                    pass

        def read(self):
            fd = self.p.stdout.fileno()
            while True:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                self.h_received.update(data)
                self.received += len(data)
            self.ended = now()

        def finish(self, timeout):
            """Ends the input, waits (bounded) for the rest of the echo and the exit; the verdict."""
            self.stop.set()
            self.writer.join(timeout)
            self.reader.join(timeout)
            try:
                rc = self.p.wait(max(1.0, timeout))
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                rc = self.p.wait(5)
            intact = (rc == 0 and self.write_error is None and self.sent > 0 and self.sent == self.received
                      and self.h_sent.digest() == self.h_received.digest())
            return intact, rc

        def kill(self):
            if self.p.poll() is None:
                try:
                    os.killpg(self.p.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                self.p.wait(5)

    def cluster_kill(self, nodes):
        """32 clients open short tunnels with every node as --server while long tunnels carry
        data; one node is SIGKILLed, then restarted on the same port."""
        c = self.cfg
        addrs = [n.addr for n in nodes]
        victim = CLUSTER_VICTIM
        block = os.urandom(1 << 20)
        longs = []
        try:
            for i in range(CLUSTER_LONG):
                longs.append(self.LongTunnel(self, self.client_argv(addrs, i % len(addrs)), f"long-tunnel-{i}",
                                             block))
            deadline = now() + 20
            while any(t.received == 0 for t in longs):
                if now() > deadline:
                    raise BenchError("long tunnels: no echo within 20 s: "
                                     + ", ".join(f"{t.name} rc={t.p.poll()}" for t in longs if t.received == 0))
                time.sleep(0.05)
            record, parked = [], []
            t0 = now()
            t_end = t0 + c["cl_kill_end"]
            threads = self.open_loop(addrs, c["cl_clients"], t0, t_end, record)
            u_echo = self.cl_uuid["echo"]
            while now() < t0 + c["cl_kill_at"]:  # the victim's pool under this load, for comparison
                parked.append((now() - t0, self.parked(nodes[victim].metrics, [u_echo])))
                time.sleep(min(0.1, max(0.0, t0 + c["cl_kill_at"] - now())))
            loaded = [k for t, k in parked if t >= 1.0] or [k for t, k in parked]
            old = nodes[victim]
            t_kill = now() - t0
            os.killpg(old.pid, signal.SIGKILL)
            old.p.wait(5)
            self.runner.stop(old)
            log(f"cluster: killed node{victim + 1} ({old.addr}) at {t_kill:.1f} s")
            time.sleep(max(0.0, t0 + c["cl_kill_restart"] - now()))
            port = int(old.addr.rsplit(":", 1)[1])
            nodes[victim] = self.cluster_node(f"node{victim + 1}", self.cl_ips[victim], port=port)
            t_restart = now() - t0
            log(f"cluster: node{victim + 1} restarted at {t_restart:.1f} s")
            refill = None
            while now() < t_end or refill is None and now() < t_end + 30:
                try:
                    k = self.parked(nodes[victim].metrics, [u_echo])
                except OSError:
                    k = -1
                parked.append((now() - t0, k))
                if refill is None and k >= CLUSTER_POOL:
                    refill = now() - t0 - t_restart
                time.sleep(0.1)
            for t in threads:
                t.join(max(1.0, t_end + 25 - now()))
            stuck = sum(1 for t in threads if t.is_alive())
            verdicts = [(t, *t.finish(15)) for t in longs]
        finally:
            for t in longs:
                t.kill()
        if stuck:
            raise BenchError(f"{stuck} client threads still running 25 s after the end")
        # the long tunnels: which went through the victim (tried it first and never moved on)
        lost = survived = intact_survivors = 0
        on_victim = 0
        for i, (t, intact, rc) in enumerate(verdicts):
            with open(t.err_path, "rb") as f:
                moved = b"moving on" in f.read()
            through_victim = i % len(addrs) == victim and not moved
            if through_victim:
                on_victim += 1
                lost += 0 if intact else 1
            else:
                survived += 1
                intact_survivors += 1 if intact else 0
        # A short tunnel that was open at the node when it died is cut, as a long one is: its
        # open did not fail (rvconnect says "the tunnel was aborted" only after the 200).
        cut = [r for r in record if not r[2] and "the tunnel was aborted" in r[4]]
        failures = [r for r in record if not r[2] and "the tunnel was aborted" not in r[4]]
        total = len(record)
        self.cl_add("cl_kill_opens", "", total)
        self.cl_add("cl_kill_failed", "", len(failures))
        self.cl_add("cl_kill_cut", "", len(cut))
        self.cl_notes[("cl_kill_cut", "")] = (
            f"opened before the kill at the killed node, then aborted with it: at "
            f"{', '.join(str(round(r[1] - t_kill, 2)) for r in sorted(cut, key=lambda r: r[1])[:12])} s after the kill"
            if cut else "none was open at the killed node when it died")
        last = max((r[1] for r in failures), default=None)
        self.cl_add("cl_kill_last_failure", "", (last - t_kill) if last is not None else 0.0)
        self.cl_add("cl_kill_intact", "", intact_survivors)
        self.cl_add("cl_kill_lost", "", lost)
        if refill is not None:
            self.cl_add("cl_kill_refill", "", refill)
        for item, (a, b) in (("before", (0.0, t_kill)), ("during", (t_kill, t_restart)),
                             ("after", (t_restart, c["cl_kill_end"]))):
            ok = sum(1 for r in record if r[2] and a <= r[1] < b)
            self.cl_add("cl_kill_rate", item, ok / max(0.001, b - a))
        moved_on = sum(1 for r in record if r[2] and r[3])
        reasons = {}
        for r in failures:
            reasons[r[4][:160]] = reasons.get(r[4][:160], 0) + 1
        when = sorted(round(r[1] - t_kill, 2) for r in failures)
        self.cl_notes[("cl_kill_failed", "")] = (
            f"of {total} opens; {moved_on} opens succeeded after moving on from a failed node"
            + (f"; failures at {', '.join(map(str, when[:12]))}{' ...' if len(when) > 12 else ''} s after "
               f"the kill: " + "; ".join(f"{n} × {w}" for w, n in sorted(reasons.items(), key=lambda x: -x[1])[:3])
               if failures else ""))
        self.cl_notes[("cl_kill_last_failure", "")] = "no open failed" if not failures else \
            f"the last failed open ended {last:.1f} s into the run (kill at {t_kill:.1f} s, restart at {t_restart:.1f} s)"
        self.cl_notes[("cl_kill_intact", "")] = f"of {survived} long tunnels through the surviving nodes"
        self.cl_notes[("cl_kill_lost", "")] = f"of {on_victim} long tunnels through the killed node"
        after = [(t - t_restart, k) for t, k in parked if t >= t_restart]
        first = next((t for t, k in after if k >= 1), None)
        half = next((t for t, k in after if k >= CLUSTER_POOL // 2), None)
        self.cl_notes[("cl_kill_refill", "")] = (
            (f"first connection parked again {first:.1f} s after the restart, {CLUSTER_POOL // 2} after "
             f"{half:.1f} s; " if first is not None and half is not None else "")
            + (f"{CLUSTER_POOL} parked at the restarted node" if refill is not None
             else f"not back to {CLUSTER_POOL} within {c['cl_kill_end'] - t_restart + 30:.0f} s "
                  f"(last reading {parked[-1][1] if parked else '?'})")
            + f", while clients take from it; before the kill, under the same load, it held "
              f"{min(loaded)}-{max(loaded)} ({'one rvhidden parking at every node' if self.meta.get('cluster_hidden_all') else 'its own rvhidden'}, "
              "reconnecting with backoff)")
        self.meta["cluster_kill"] = dict(t_kill=t_kill, t_restart=t_restart, opens=total, failed=len(failures),
                                         failure_reasons=reasons, failure_times=when, parked=parked[::5])
        log(f"cluster: node kill: {len(failures)} of {total} opens failed; long tunnels: {intact_survivors} of "
            f"{survived} survivors intact, {lost} of {on_victim} lost on the killed node; refill "
            f"{'%.1f s' % refill if refill is not None else 'not reached'}")

    def cluster_outage(self, nodes):
        """Redis silent (SIGSTOP) for cl_outage_s while clients open tunnels and registrations run:
        a code and a credential registration every 0.25 s, at the nodes in turn."""
        c = self.cfg
        addrs = [n.addr for n in nodes]
        cred = self.credential(addrs[0], "reg")
        before, outage, after = 2.0, c["cl_outage_s"], 4.0
        record, regs = [], []
        t0 = now()
        t_end = t0 + before + outage + after
        threads = self.open_loop(addrs, c["cl_clients"], t0, t_end, record)
        stop = threading.Event()

        def registrations():
            for k in range(100000):
                if stop.is_set() or now() >= t_end:
                    return
                addr = addrs[k % len(addrs)]
                for kind in ("code", "credential"):
                    ts = now() - t0
                    try:
                        status, fields, ms = self.register(addr, "reg", credential=cred if kind == "credential" else None)
                        regs.append((ts, kind, status, "retry-after" in fields, ms))
                    except (BenchError, OSError) as e:
                        regs.append((ts, kind, 0, False, 0.0))
                        self.notes.append(f"cluster: Redis outage: a {kind} registration at {addr}: {e}")
                stop.wait(0.25)
        reg_thread = threading.Thread(target=registrations, daemon=True)
        reg_thread.start()
        redis_pid = self.cl_redis.pid
        try:
            time.sleep(max(0.0, t0 + before - now()))
            os.kill(redis_pid, signal.SIGSTOP)
            t_stop = now() - t0
            log(f"cluster: Redis stopped (SIGSTOP) at {t_stop:.1f} s for {outage:.0f} s")
            time.sleep(max(0.0, t0 + before + outage - now()))
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        t_cont = now() - t0
        for t in threads:
            t.join(max(1.0, t_end + 25 - now()))
        stop.set()
        reg_thread.join(15)
        during = [r for r in regs if t_stop <= r[0] < t_cont]
        code = [r for r in during if r[1] == "code"]
        creds = [r for r in during if r[1] == "credential"]
        code_503 = sum(1 for r in code if r[2] == 503 and r[3])
        cred_ok = sum(1 for r in creds if r[2] == 200)
        failed = [r for r in record if not r[2]]
        back = min((r[0] for r in regs if r[1] == "code" and r[0] >= t_cont and r[2] == 200), default=None)
        self.cl_add("cl_outage_failed", "", len(failed))
        self.cl_add("cl_outage_cred", "", cred_ok)
        self.cl_add("cl_outage_code503", "", code_503)
        if back is not None:
            self.cl_add("cl_outage_back", "", back - t_cont)
        self.cl_add("cl_outage_rate", "", sum(1 for r in record if r[2] and t_stop <= r[1] < t_cont) / max(0.001, t_cont - t_stop))
        other = sorted({r[2] for r in code if not (r[2] == 503 and r[3])})
        self.cl_notes[("cl_outage_failed", "")] = f"of {len(record)} opens over the {t_end - t0:.0f} s"
        self.cl_notes[("cl_outage_cred", "")] = f"of {len(creds)} during the outage answered 200"
        self.cl_notes[("cl_outage_code503", "")] = (
            f"of {len(code)} during the outage answered 503 with Retry-After"
            + (f" (others: {', '.join(map(str, other))})" if other else "")
            + (f"; the slowest answer took {max(r[4] for r in code):.0f} ms" if code else ""))
        self.cl_notes[("cl_outage_back", "")] = ("from SIGCONT to the first code registration taken"
                                                 if back is not None else "no code registration taken after SIGCONT")
        self.meta["cluster_outage"] = dict(t_stop=t_stop, t_cont=t_cont, opens=len(record), failed=len(failed),
                                           registrations=regs)
        log(f"cluster: Redis outage: {len(failed)} of {len(record)} opens failed; during it {cred_ok}/{len(creds)} "
            f"credential registrations taken, {code_503}/{len(code)} code registrations 503 with Retry-After")

    # -- the whole run

    def run(self):
        c = self.cfg
        mode = "quick" if self.args.quick else "full"
        log(f"{mode} run: {c['reps']} x iperf3 {c['iperf_s']} s, {c['rtt_count']} round trips, "
            f"{c['open_count']} opens, {c['parked']} parked; results in {self.out}")
        only = self.args.only
        self.prepare()
        self.start_services()
        if "speed" in only:
            self.measure_speed()
        if set(only) & set(PATH_GROUPS):  # `--only cluster` (or memory, speed) needs no path
            self.setup_paths()
            self.tls_info()
            self.thread_info()
        for rep in range(c["reps"]):
            for what in ("throughput", "rtt", "open", "rate"):
                if what in only:
                    getattr(self, f"measure_{what}")(rep)
        if "stdio" in only and "rendezvous" in self.paths:
            self.measure_stdio()
        # memory: the measured paths are stopped first (their descriptors and CPU are not in the way)
        self.runner.stop_all()
        if "cluster" in only:
            try:
                self.measure_cluster()
            except (BenchError, OSError) as e:
                self.fail("cluster", e)
            self.runner.stop_all()
        if "memory" in only:
            self.measure_memory()
        self.runner.stop_all()
        self.meta["loadavg_end"] = os.getloadavg()
        self.meta["elapsed_s"] = now() - self.started
        self.meta["mode"] = mode
        self.meta["config"] = c

    def measure_memory(self):
        self.echo = self.runner.start("echo-mem", [self.loadgen, "echo"])
        self.echo_port = int(self.echo.wait_for(r"listening 127\.0\.0\.1:(\d+)").group(1))
        # The three memory phases run at once: each has its own processes, and most of each is
        # waiting for memory to settle. (Processes started from a phase's thread die with it:
        # PR_SET_PDEATHSIG; each phase stops its own before it ends.)
        threads = []
        for what, fn in (("rvserver/rvhidden memory per parked connection", self.measure_memory_rendezvous),
                         ("rendezvous memory per live tunnel", self.measure_memory_tunnels),
                         ("HAProxy memory", self.measure_memory_haproxy)):
            def phase(what=what, fn=fn):
                try:
                    fn()
                except (BenchError, OSError, ValueError, KeyError) as e:
                    self.fail(what, e)
                except Exception as e:  # noqa: BLE001 - a bug in a phase is a failure of that phase
                    self.fail(what, repr(e))
            t = threading.Thread(target=phase, name=what, daemon=True)
            t.start()
            threads.append(t)
        deadline = now() + 600
        for t in threads:
            t.join(max(1.0, deadline - now()))
            if t.is_alive():
                self.fail(t.name, "did not finish within 600 s")


# ----------------------------------------------------------------------------- the report

# (figure, item, title, unit, better, target) in table order; item "" is the path's own figure.
# target: ("ratio", op, x) compares the rendezvous median to the HAProxy chain's; ("abs", op, x) its value.
ROWS = [
    ("tput1", "", "Throughput, 1 tunnel (iperf3 {iperf_s} s, median of {reps})", "Gbit/s", "higher", ("ratio", ">=", 1.5)),
    ("tput8", "", "Throughput, 8 tunnels at once (iperf3 -P 8)", "Gbit/s", "higher", ("ratio", ">=", 1.5)),
    ("aes128", "", "AES-128-GCM, openssl speed -evp, 16 KiB, 1 core", "Gbit/s", "higher", None),
    ("aes256", "", "AES-256-GCM, openssl speed -evp, 16 KiB, 1 core", "Gbit/s", "higher", None),
    ("rtt_med", "", "RTT median, 64 B ping-pong ({rtt_count} round trips)", "µs", "lower", ("ratio", "<=", 0.7)),
    ("rtt_p99", "", "RTT p99, 64 B ping-pong", "µs", "lower", ("ratio", "<=", 0.8)),
    ("open_med", "", "Open: connect to first echoed byte (median of {open_count})", "ms", "lower", ("ratio", "<=", 0.7)),
    ("open_rate", "", "Tunnels opened per second, {rate_clients} clients at once", "1/s", "higher", None),
    ("stdio_start", "rendezvous", "rvconnect stdio: process start to first echoed byte", "ms", "lower", None),
    ("stdio_start", "floor", "(floor: `cat` started the same way)", "ms", "lower", None),
    ("mem_parked", "rvserver", "PSS per parked connection, rvserver ({parked} parked)", "KiB", "lower", ("abs", "<=", 16)),
    ("mem_idle", "haproxy", "PSS per idle connection, HAProxy ({haproxy_idle} idle, TLS in and out)", "KiB", "lower", None),
    ("mem_parked", "rvhidden", "PSS per parked connection, rvhidden", "KiB", "lower", ("abs", "<=", 16)),
    ("mem_tunnel", "rvserver", "PSS per live idle tunnel, rvserver ({live_tunnels} tunnels)", "KiB", "lower", ("abs", "<=", 40)),
    ("mem_tunnel", "rvhidden", "PSS per live idle tunnel, rvhidden", "KiB", "lower", None),
    ("mem_tunnel", "rvconnect", "PSS per live idle tunnel, rvconnect --listen", "KiB", "lower", None),
]
RELAYS = {"rendezvous": ["rvconnect", "rvserver", "rvhidden"],
          "chain": ["stunnel client", "haproxy", "stunnel server"],
          "ssh": ["ssh -L", "sshd", "ssh -R"], "socat": ["socat"]}
# the relay whose figure is compared with HAProxy's
PEER = {"rvserver": "haproxy", "all relays": "all relays"}

# The cluster section's table: (figure, item, title, case, unit, the item the ratio divides by).
# Items: "plain"/"redis" one node without/with --redis; "1".."3" nodes; "" a single reading.
CLUSTER_ROWS = [
    ("cl_tput1", "plain", "--redis on one node: throughput, 1 tunnel (iperf3 {iperf_s} s)", "without --redis", "Gbit/s", "plain"),
    ("cl_tput1", "redis", "--redis on one node: throughput, 1 tunnel (iperf3 {iperf_s} s)", "with --redis", "Gbit/s", "plain"),
    ("cl_rtt", "plain", "--redis on one node: RTT median, 64 B ping-pong ({rtt_count} round trips)", "without --redis", "µs", "plain"),
    ("cl_rtt", "redis", "--redis on one node: RTT median, 64 B ping-pong ({rtt_count} round trips)", "with --redis", "µs", "plain"),
    ("cl_open", "plain", "--redis on one node: open, connect to first echoed byte (median of {open_count})", "without --redis", "ms", "plain"),
    ("cl_open", "redis", "--redis on one node: open, connect to first echoed byte (median of {open_count})", "with --redis", "ms", "plain"),
    ("cl_open_cpu", "plain", "--redis on one node: rvserver CPU per open, during the open figure", "without --redis", "µs", "plain"),
    ("cl_open_cpu", "redis", "--redis on one node: rvserver CPU per open, during the open figure", "with --redis", "µs", "plain"),
    ("cl_open_cpu", "redis-server", "--redis on one node: redis-server CPU per open, during the open figure", "with --redis", "µs", None),
    ("cl_reg_code", "plain", "Registration by TOTP code: request to answer head (median of {cl_registrations})", "without --redis", "ms", "plain"),
    ("cl_reg_code", "redis", "Registration by TOTP code: request to answer head (median of {cl_registrations})", "with --redis", "ms", "plain"),
    ("cl_reg_cred", "plain", "Registration by pool credential: request to answer head (median of {cl_registrations})", "without --redis", "ms", "plain"),
    ("cl_reg_cred", "redis", "Registration by pool credential: request to answer head (median of {cl_registrations})", "with --redis", "ms", "plain"),
    ("cl_scale_tput", "1", "8 tunnels spread over the nodes: total throughput", "1 node", "Gbit/s", "1"),
    ("cl_scale_tput", "2", "8 tunnels spread over the nodes: total throughput", "2 nodes", "Gbit/s", "1"),
    ("cl_scale_tput", "3", "8 tunnels spread over the nodes: total throughput", "3 nodes", "Gbit/s", "1"),
    ("cl_scale_cpu_gib", "1", "rvserver CPU seconds per GiB it relayed, each node (over nodes and reps)", "1 node", "s/GiB", "1"),
    ("cl_scale_cpu_gib", "2", "rvserver CPU seconds per GiB it relayed, each node (over nodes and reps)", "2 nodes", "s/GiB", "1"),
    ("cl_scale_cpu_gib", "3", "rvserver CPU seconds per GiB it relayed, each node (over nodes and reps)", "3 nodes", "s/GiB", "1"),
    ("cl_scale_cpu_pct", "1", "rvserver CPU use, each node (100 = one core)", "1 node", "%", None),
    ("cl_scale_cpu_pct", "2", "rvserver CPU use, each node (100 = one core)", "2 nodes", "%", None),
    ("cl_scale_cpu_pct", "3", "rvserver CPU use, each node (100 = one core)", "3 nodes", "%", None),
    ("cl_scale_busy", "1", "Machine CPU busy (all {ncpu} cores, others' work included)", "1 node", "%", None),
    ("cl_scale_busy", "2", "Machine CPU busy (all {ncpu} cores, others' work included)", "2 nodes", "%", None),
    ("cl_scale_busy", "3", "Machine CPU busy (all {ncpu} cores, others' work included)", "3 nodes", "%", None),
    ("cl_kill_failed", "", "Node kill: failed opens ({cl_clients} clients, rvconnect with 3 --server)", "{kill_case}", "opens", None),
    ("cl_kill_cut", "", "Node kill: short tunnels cut (open at the killed node)", "{kill_case}", "tunnels", None),
    ("cl_kill_last_failure", "", "Node kill: from the kill to the end of the last failed open", "{kill_case}", "s", None),
    ("cl_kill_intact", "", "Node kill: long tunnels on the surviving nodes intact (bytes and SHA-256)", "{kill_case}", "tunnels", None),
    ("cl_kill_lost", "", "Node kill: long tunnels lost on the killed node", "{kill_case}", "tunnels", None),
    ("cl_kill_refill", "", "Node kill: restart to the killed node's pool refilled (rv_parked_connections)", "{kill_case}", "s", None),
    ("cl_kill_rate", "before", "Node kill: tunnels opened per second", "before the kill", "1/s", "before"),
    ("cl_kill_rate", "during", "Node kill: tunnels opened per second", "node down", "1/s", "before"),
    ("cl_kill_rate", "after", "Node kill: tunnels opened per second", "after the restart", "1/s", "before"),
    ("cl_outage_failed", "", "Redis silent (SIGSTOP) {cl_outage_s} s: failed opens ({cl_clients} clients)", "3 nodes", "opens", None),
    ("cl_outage_rate", "", "Redis silent: tunnels opened per second during it", "3 nodes", "1/s", None),
    ("cl_outage_cred", "", "Redis silent: registrations by pool credential taken", "3 nodes", "registrations", None),
    ("cl_outage_code503", "", "Redis silent: registrations by code answered 503 with Retry-After", "3 nodes", "registrations", None),
    ("cl_outage_back", "", "Redis back: SIGCONT to the first registration by code taken", "3 nodes", "s", None),
]
CLUSTER_OPTIONAL = {"cl_kill_refill", "cl_outage_back"}  # a missing one is a finding, told in its note
COUNT_UNITS = {"opens", "tunnels", "registrations"}


def _fmt(v):
    if v is None:
        return "—"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


class Report:
    def __init__(self, bench):
        self.b = bench
        self.rows = []

    def stats(self, figure, path, item=""):
        v = self.b.samples.get((figure, path, item))
        if not v:
            return None
        return min(v), statistics.median(v), max(v), len(v)

    def row(self, title, path, unit, st, ratio, target, item=""):
        self.rows.append(dict(figure=title, path=path, item=item, unit=unit,
                              min=st[0] if st else None, median=st[1] if st else None,
                              max=st[2] if st else None, n=st[3] if st else 0, ratio=ratio, target=target))

    def build(self):
        cfg = dict(self.b.cfg)
        cfg.setdefault("parked", "?")
        cfg["parked"] = f"{self.b.meta.get('parked', cfg['parked']):,}"
        cfg["haproxy_idle"] = f"{self.b.meta.get('haproxy_idle', cfg['haproxy_idle']):,}"
        cfg["live_tunnels"] = f"{self.b.meta.get('live_tunnels', cfg['live_tunnels']):,}"
        cfg["rtt_count"] = f"{cfg['rtt_count']:,}"
        for figure, item, title, unit, better, target in ROWS:
            title = title.format(**cfg)
            if figure in ("aes128", "aes256"):
                self.row(title, LABEL["crypto"], unit, self.stats(figure, "crypto"), None, None)
                continue
            if figure in ("stdio_start",):
                self.row(title, LABEL["rendezvous"], unit, self.stats(figure, "rendezvous", item), None, None)
                continue
            if figure.startswith("mem_"):
                path = "chain" if item == "haproxy" else "rendezvous"
                st = self.stats(figure, path, item)
                peer = self.stats("mem_idle", "chain", "haproxy")
                ratio = st[1] / peer[1] if st and peer and peer[1] > 0 and item != "haproxy" else None
                if item == "haproxy" and st:
                    ratio = 1.0
                self.row(title, LABEL[path], unit, st, ratio, self.target(target, st, ratio), item)
                continue
            bar = self.stats(figure, "chain")
            for path in PATHS:
                st = self.stats(figure, path)
                ratio = st[1] / bar[1] if st and bar and bar[1] > 0 else None
                self.row(title, LABEL[path], unit, st, ratio,
                         self.target(target, st, ratio) if path == "rendezvous" else None)
        for figure, title, unit in (("cpu_gib_tput1", "CPU seconds per GiB relayed, 1 tunnel", "s/GiB"),
                                    ("cpu_gib_tput8", "CPU seconds per GiB relayed, 8 tunnels", "s/GiB"),
                                    ("cpu_pct_tput8", "CPU use during the 8-tunnel run (100 = one core)", "%")):
            for path, procs in RELAYS.items():
                items = procs + ["all relays"]
                for proc in items:
                    st = self.stats(figure, path, proc)
                    ratio = None
                    peer = PEER.get(proc)
                    if peer and figure.startswith("cpu_gib"):
                        bar = self.stats(figure, "chain", peer)
                        ratio = st[1] / bar[1] if st and bar and bar[1] > 0 else None
                    self.row(f"{title}: {proc}", LABEL[path], unit, st, ratio, None, proc)
            if figure == "cpu_pct_tput8":
                for path in PATHS:
                    st = self.stats("busy_tput8", path)
                    self.row(f"Machine CPU busy during the 8-tunnel run (all {NCPU} cores, others' work included)",
                             LABEL[path], "%", st, None, None)

    @staticmethod
    def target(target, st, ratio):
        if not target:
            return None
        kind, op, x = target
        value = ratio if kind == "ratio" else (st[1] if st else None)
        text = f"{op.replace('>=', '≥').replace('<=', '≤')} {x}{'×' if kind == 'ratio' else ' KiB'}"
        if value is None:
            return f"{text}: —"
        ok = value >= x if op == ">=" else value <= x
        return f"{text}: {'met' if ok else 'NOT met'}"

    def markdown(self):
        lines = ["| figure | path | unit | min | median | max | × HAProxy chain | target |",
                 "|---|---|---|---:|---:|---:|---:|---|"]
        for r in self.rows:
            ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "—"
            lines.append(f"| {r['figure']} | {r['path']} | {r['unit']} | {_fmt(r['min'])} | {_fmt(r['median'])} | "
                         f"{_fmt(r['max'])} | {ratio} | {r['target'] or ''} |")
        return "\n".join(lines)

    def header(self):
        m = self.b.meta
        v = m.get("versions", {})
        dirty = m.get("dirty") or []
        commit = m.get("commit", "?") + (f" (with uncommitted changes in {', '.join(dirty[:6])}"
                                          f"{' ...' if len(dirty) > 6 else ''})" if dirty else "")
        la0, la1 = m.get("loadavg_start", (0, 0, 0)), m.get("loadavg_end", (0, 0, 0))
        out = [f"# scripts/bench results ({m.get('mode', '?')} run)", "",
               f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}; "
               f"commit {commit}; {m.get('build_type', '?')} build"
               + (f" of {m['source']}" if m.get("source") and os.path.realpath(m["source"]) != os.path.realpath(REPO)
                  else ""),
               f"- machine: {m.get('nproc')} CPUs ({m.get('cpu')}), Linux {m.get('kernel')}; "
               f"load average {la0[0]:.2f} at the start, {la1[0]:.2f} at the end; "
               f"{m.get('elapsed_s', 0):.0f} s in all",
               "- tools: " + ", ".join(f"{k} {x}" for k, x in v.items()),
               f"- rendezvous path: rvhidden --pool {POOL}; rvserver with its connection and rate caps "
               "lifted (everything comes from 127.0.0.1)",
               f"- ssh: cipher aes256-gcm@openssh.com; its 8-tunnel figure uses {SSH_TUNNELS} separate ssh -R/-L "
               "pairs with one iperf3 client each (ssh multiplexes every forwarded connection over one session)",
               f"- socat: one relay process, `-b {SOCAT_BUFFER}`, a child process per connection"]
        if m.get("threads"):
            out.append("- threads per relay process (idle, after setup): "
                       + ", ".join(f"{k} {x}" for k, x in m["threads"].items()))
        if m.get("tls"):
            out.append("- TLS negotiated: " + "; ".join(f"{k}: {x}" for k, x in m["tls"].items()))
        return "\n".join(out)

    def build_cluster(self):
        """The cluster section's rows (CLUSTER_ROWS), when the cluster group ran."""
        self.cluster_rows = []
        if "cluster" not in self.b.args.only:
            return
        cfg = dict(self.b.cfg, ncpu=NCPU, rtt_count=f"{self.b.cfg['rtt_count']:,}")
        k = self.b.meta.get("cluster_kill", {})
        cfg["kill_case"] = (f"3 nodes, node{CLUSTER_VICTIM + 1} killed at {k.get('t_kill', 0):.0f} s, "
                            f"back at {k.get('t_restart', 0):.0f} s, end at {self.b.cfg['cl_kill_end']} s")
        notes = getattr(self.b, "cl_notes", {})
        for figure, item, title, case, unit, base in CLUSTER_ROWS:
            st = self.stats(figure, "cluster", item)
            bar = self.stats(figure, "cluster", base) if base is not None else None
            ratio = st[1] / bar[1] if st and bar and bar[1] > 0 else None
            self.cluster_rows.append(dict(figure=title.format(**cfg), case=case.format(**cfg), unit=unit,
                                          min=st[0] if st else None, median=st[1] if st else None,
                                          max=st[2] if st else None, n=st[3] if st else 0, ratio=ratio,
                                          note=notes.get((figure, item), ""), optional=figure in CLUSTER_OPTIONAL))

    def cluster_markdown(self):
        lines = ["| figure | case | unit | min | median | max | ratio | note |",
                 "|---|---|---|---:|---:|---:|---:|---|"]
        for r in self.cluster_rows:
            fmt = (lambda v: "—" if v is None else f"{v:,.0f}") if r["unit"] in COUNT_UNITS else _fmt
            ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "—"
            lines.append(f"| {r['figure']} | {r['case']} | {r['unit']} | {fmt(r['min'])} | {fmt(r['median'])} | "
                         f"{fmt(r['max'])} | {ratio} | {r['note']} |")
        return "\n".join(lines)

    def text(self):
        main = set(self.b.args.only) - {"cluster"}
        parts = [self.header()] + (["", self.markdown()] if main else [])
        if self.cluster_rows:
            m = self.b.meta
            hidden = ("one rvhidden parking at every --server" if m.get("cluster_hidden_all")
                      else "one rvhidden per node")
            parts += ["", "## Cluster", "",
                      f"Nodes: rvserver on 127.0.0.1-{CLUSTER_NODES} sharing the secrets, certificate, "
                      f"--pool-credential-key-file and one Redis {m.get('versions', {}).get('Redis', '')} "
                      f"(unix socket); {hidden}, --pool {CLUSTER_POOL} for the echo service at each node. "
                      "Ratios: with --redis over without (same run, in turns); n nodes over 1 node; "
                      "opens per second over those before the kill. The node-kill and Redis rows are one run each.",
                      "", self.cluster_markdown()]
        notes = list(dict.fromkeys(self.b.notes))
        if notes or self.b.failures:
            parts += ["", "Notes:"] + [f"- {n}" for n in notes] + [f"- FAILED: {f}" for f in self.b.failures]
        return "\n".join(parts) + "\n"

    def json(self):
        return {"meta": self.b.meta, "rows": self.rows, "cluster_rows": getattr(self, "cluster_rows", []),
                "samples": [{"figure": f, "path": p, "item": i, "values": v} for (f, p, i), v in self.b.samples.items()],
                "notes": self.b.notes, "failures": self.b.failures}

    def plot(self, out_dir):
        """bench.svg: throughput (1 and 8 tunnels) and RTT (median, p99) by path, with min-max bars."""
        if shutil.which("gnuplot") is None:
            self.b.notes.append("gnuplot is not installed: no plot")
            return None
        dat = os.path.join(out_dir, "bench.dat")
        with open(dat, "w") as f:
            f.write("# path tput1(med min max) tput8(med min max) rtt_med(med min max) rtt_p99(med min max)\n")
            for path in PATHS:
                cols = [f'"{LABEL[path]}"']
                for figure in ("tput1", "tput8", "rtt_med", "rtt_p99"):
                    st = self.stats(figure, path)
                    cols += [f"{st[1]:.4f} {st[0]:.4f} {st[2]:.4f}" if st else "? ? ?"]
                f.write(" ".join(cols) + "\n")
        svg = os.path.join(out_dir, "bench.svg")
        m = self.b.meta
        script = f"""set terminal svg size 1100,480 dynamic font "sans,11"
set output "{svg}"
set datafile missing "?"
set style data histograms
set style histogram errorbars gap 1.5 lw 1
set style fill solid 0.7 border -1
set boxwidth 0.9
set grid ytics
set key top left
set xtics nomirror rotate by -20
set multiplot layout 1,2 title "rendezvous bench ({m.get('mode', '?')} run, commit {m.get('commit', '?')}): median, bars min-max"
set title "Throughput by path"
set ylabel "Gbit/s"
set yrange [0:*]
plot "{dat}" using 2:3:4:xtic(1) title "1 tunnel", "" using 5:6:7 title "8 tunnels"
set title "RTT, 64-byte ping-pong (log scale)"
set ylabel "microseconds"
set logscale y
set yrange [10:*]
plot "{dat}" using 8:9:10:xtic(1) title "median", "" using 11:12:13 title "p99"
unset multiplot
"""
        gp = os.path.join(out_dir, "bench.gp")
        with open(gp, "w") as f:
            f.write(script)
        try:
            rc, out, err = run(["gnuplot", gp], 60)
        except BenchError as e:
            self.b.notes.append(f"gnuplot: {e}")
            return None
        if rc != 0:
            self.b.notes.append(f"gnuplot failed: {err.strip()[-300:]}")
            return None
        return svg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a short run for a developer's loop (and CI's smoke test)")
    ap.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"), help="where rvserver etc. were built")
    ap.add_argument("--out", default=None, help="results dir (default BUILD_DIR/bench)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions of each figure (default 3, --quick 1)")
    ap.add_argument("--keep", action="store_true", help="keep the run dir (certificates, configs, logs)")
    ap.add_argument("--paths", default=",".join(PATHS),
                    help="for a developer's loop: measure only these paths (comma-separated; default all: "
                    + ",".join(PATHS) + ")")
    ap.add_argument("--only", default=",".join(FIGURE_GROUPS),
                    help="for a developer's loop: only these figures (comma-separated; default all: "
                    + ",".join(FIGURE_GROUPS) + ")")
    args = ap.parse_args()
    args.paths = [p for p in args.paths.split(",") if p]
    args.only = [f for f in args.only.split(",") if f]
    for p in args.paths:
        if p not in PATHS:
            ap.error(f"--paths: unknown path '{p}' (known: {', '.join(PATHS)})")
    for f in args.only:
        if f not in FIGURE_GROUPS:
            ap.error(f"--only: unknown figure group '{f}' (known: {', '.join(FIGURE_GROUPS)})")
    args.out = args.out or os.path.join(args.build_dir, "bench")
    os.makedirs(args.out, exist_ok=True)
    bench = Bench(args)

    done = threading.Event()

    def watchdog():
        if done.wait(bench.cfg["watchdog_s"]):
            return
        log(f"FAILED: still running after {bench.cfg['watchdog_s']} s (watchdog); stopping everything")
        bench.runner.stop_all()
        os._exit(1)
    threading.Thread(target=watchdog, daemon=True).start()

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    rc = 1
    try:
        bench.run()
        report = Report(bench)
        report.build()
        report.build_cluster()
        svg = report.plot(bench.out) if set(args.only) & set(PATH_GROUPS) else None
        missing = [r for r in report.rows if r["n"] == 0 and not r["figure"].startswith(("CPU", "Machine"))]
        partial = set(args.paths) != set(PATHS) or set(args.only) != set(FIGURE_GROUPS)
        if missing and not partial:
            bench.failures.append("not measured: " + "; ".join(f"{r['figure']} / {r['path']}" for r in missing))
        missing = [r for r in report.cluster_rows if r["n"] == 0 and not r["optional"]]
        if missing:
            bench.failures.append("not measured (cluster): " + "; ".join(f"{r['figure']} / {r['case']}" for r in missing))
        text = report.text()
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write(text)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump(report.json(), f, indent=1, default=str)
        print(text, flush=True)
        log(f"results: {os.path.join(args.out, 'results.md')}, results.json"
            + (f", {os.path.basename(svg)}" if svg else "") + f"; {now() - bench.started:.0f} s")
        rc = 0 if not bench.failures else 1
        if bench.failures:
            log("FAILED: " + " | ".join(bench.failures))
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); cleaned up")
        rc = 130
    except BenchError as e:
        log(f"FAILED: {e}")
    finally:
        done.set()
        bench.runner.stop_all()
        if not args.keep and rc == 0:
            shutil.rmtree(bench.work, ignore_errors=True)
        elif os.path.isdir(bench.work):
            log(f"run dir kept: {bench.work}")
    sys.exit(rc)


if __name__ == "__main__":
    main()
