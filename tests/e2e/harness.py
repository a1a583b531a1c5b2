"""Shared fixtures for the end-to-end tests: the real rvserver, rvhidden and rvconnect on 127.0.0.1.

A test script is `def main(t): ...` plus `harness.run(main)`. `t` (a Test) owns a temp dir,
certificates made with the openssl CLI, secrets files, the programs it started (always killed at
the end, stderr kept in files and shown on failure) and the Python services it runs.
Exit codes: 0 pass, 1 fail (with the reason), 77 skip.

No fixed ports (everything binds port 0 and reads the printed address) and no sleep-and-hope:
waits are on lines a program prints, each with a deadline; every loop is bounded.
"""
import argparse
import atexit
import base64
import getpass
import hashlib
import http.server
import os
import pwd
import re
import resource
import secrets as pysecrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request
import uuid as uuidlib

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROGRAMS = ("rvserver", "rvhidden", "rvconnect")
SSHD = "/usr/sbin/sshd"


class Failure(Exception):
    """The test failed; the message says why."""


class Skipped(Exception):
    """The test cannot run here (a tool is missing); exit 77."""


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def new_key(ascii_only=False):
    """A random 160-bit TOTP key. ascii_only: every byte < 0x80, as a seed server needs."""
    key = pysecrets.token_bytes(20)
    if ascii_only:
        key = bytes(b & 0x7F for b in key)
    return key


def b32(key):
    return base64.b32encode(key).decode().rstrip("=")


def free_port():
    """A port nothing listens on (for 'service down'; for sshd, which cannot print its port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- resources

def nofile_limit(soft=None, hard=None):
    """A Popen preexec_fn: the child's RLIMIT_NOFILE soft limit becomes `soft` (None: the hard
    limit), and its hard limit `hard` when given (the programs raise their soft limit to the hard
    one, so only a hard limit keeps them low). It only calls setrlimit, so it is safe in a child
    forked from a threaded parent."""
    def apply():
        _, old_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        new_hard = old_hard if hard is None else hard
        new = new_hard if soft is None or (new_hard != resource.RLIM_INFINITY and soft > new_hard) else soft
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, new_hard))
    return apply


def sshd_config(d, port, extra=""):
    """sshd_config text for a private sshd on 127.0.0.1:`port` whose keys live in `d` (host_key,
    authorized_keys): public keys only, no PAM; `extra` lines are appended."""
    return f"""Port {port}
ListenAddress 127.0.0.1
HostKey {d}/host_key
PidFile {d}/sshd.pid
UsePAM no
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 64
MaxSessions 64
{extra}"""


def fd_count(pid):
    """Open descriptors of process `pid` (entries of /proc/PID/fd)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid):
    """VmRSS of process `pid` in KiB (/proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise Failure(f"no VmRSS in /proc/{pid}/status")


def scrape_metrics(addr, timeout=10.0):
    """GET http://ADDR/metrics (rvserver --metrics) -> {'name{labels}': value}, comments skipped."""
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=timeout) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


# ----------------------------------------------------------------------------- processes

def signal_group(p, sig):
    """Sends `sig` to the process group that Popen `p` leads (gone already: fine), then waits
    up to 3 s for p to end."""
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        p.wait(3)
    except subprocess.TimeoutExpired:
        pass


class Proc:
    """A started program. stdout and stderr are read by threads into buffers (and stderr into a
    file), so tests can wait for a line with a deadline."""

    def __init__(self, test, name, argv, stdin=None, capture_stdout=True, env=None, preexec_fn=None):
        self.test = test
        self.name = name
        self.argv = [str(a) for a in argv]
        self.stderr_path = os.path.join(test.dir, f"{name}.stderr")
        self.cond = threading.Condition()
        self.out = bytearray()
        self.err = bytearray()
        self._err_file = open(self.stderr_path, "wb")
        self.p = subprocess.Popen(
            self.argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture_stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE, start_new_session=True, env=env, preexec_fn=preexec_fn)
        self.pid = self.p.pid
        self._readers = []
        if capture_stdout:
            self._readers.append(threading.Thread(target=self._read, args=(self.p.stdout, self.out, None),
                                                  daemon=True))
        self._readers.append(threading.Thread(target=self._read, args=(self.p.stderr, self.err, self._err_file),
                                              daemon=True))
        for r in self._readers:
            r.start()

    def _read(self, pipe, buf, copy):
        fd = pipe.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self.cond:
                if data:
                    buf += data
                    if copy is not None:
                        copy.write(data)
                        copy.flush()
                self.cond.notify_all()
            if not data:
                return

    def stdout_text(self):
        with self.cond:
            return self.out.decode("utf-8", "replace")

    def stderr_text(self):
        with self.cond:
            return self.err.decode("utf-8", "replace")

    def _wait(self, which, pattern, timeout, count):
        rx = re.compile(pattern)
        buf = self.out if which == "stdout" else self.err
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = list(rx.finditer(buf.decode("utf-8", "replace")))
                if len(found) >= count:
                    return found[count - 1]
                exited = self.p.poll() is not None and all(not r.is_alive() for r in self._readers)
                left = deadline - time.monotonic()
                if exited or left <= 0:
                    why = f"exited with {self.p.returncode}" if exited else f"not within {timeout} s"
                    raise Failure(f"{self.name}: waited for {count} x /{pattern}/ on {which}: {why} "
                                  f"(found {len(found)})")
                self.cond.wait(min(left, 0.5))

    def wait_stdout(self, pattern, timeout=10.0, count=1):
        return self._wait("stdout", pattern, timeout, count)

    def wait_stderr(self, pattern, timeout=10.0, count=1):
        return self._wait("stderr", pattern, timeout, count)

    def count_stderr(self, pattern):
        return len(re.findall(pattern, self.stderr_text()))

    def wait_exit(self, timeout=10.0):
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name}: still running after {timeout} s") from None
        for r in self._readers:
            r.join(5)
        return rc

    def running(self):
        return self.p.poll() is None

    def kill(self):
        """Ends the process group we started (programs like sshd have children), by its id."""
        if self.p.poll() is None:
            signal_group(self.p, signal.SIGTERM)
        signal_group(self.p, signal.SIGKILL)  # children left in the group, if any
        for r in self._readers:
            r.join(2)
        try:
            self._err_file.close()
        except OSError:
            pass


class Result:
    def __init__(self, name, argv, rc, out, err, elapsed):
        self.name, self.argv, self.rc, self.out, self.err, self.elapsed = name, argv, rc, out, err, elapsed

    @property
    def err_text(self):
        return self.err.decode("utf-8", "replace")

    def __repr__(self):
        return (f"{self.name}: exit {self.rc} after {self.elapsed:.2f} s, {len(self.out)} bytes out; "
                f"stderr: {self.err_text.strip()[-600:]!r}")


# ----------------------------------------------------------------------------- Python services

class TcpService:
    """A local TCP service on 127.0.0.1:0; `handler(sock)` runs in a thread per connection."""

    def __init__(self, handler, name="service"):
        self.handler = handler
        self.name = name
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.accepted = 0
        self.errors = []
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.conns = []
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    def _loop(self):
        import select
        while not self.stop_event.is_set():
            r, _, _ = select.select([self.listener], [], [], 0.2)
            if not r:
                continue
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            conn.settimeout(30)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.lock:
                self.accepted += 1
                self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn):
        try:
            self.handler(conn)
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))
        finally:
            conn.close()

    def stop(self):
        self.stop_event.set()
        self.thread.join(3)
        self.listener.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


def recv_until_eof(conn, limit=64 << 20):
    buf = bytearray()
    while True:
        data = conn.recv(65536)
        if not data:
            return bytes(buf)
        buf += data
        if len(buf) > limit:
            raise ValueError("too much")


def echo_handler(conn):
    """Echoes until end of stream, then ends its own side."""
    while True:
        data = conn.recv(65536)
        if not data:
            break
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def sha_handler(conn):
    """Reads until end of stream, then answers the SHA-256 (hex) of what it read."""
    data = recv_until_eof(conn)
    conn.sendall((sha256(data) + "\n").encode())
    conn.shutdown(socket.SHUT_WR)


def banner_handler(banner):
    def handler(conn):
        conn.sendall(banner)
        echo_handler(conn)
    return handler


class HttpService:
    """http.server in a thread: GET /hello -> "hello world"; GET /ws with Upgrade -> 101, then it
    echoes the upgraded stream. Records (request line, headers) of every request."""

    def __init__(self):
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append((self.requestline, dict(self.headers.items())))
                if self.path == "/hello":
                    body = b"hello world"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif self.path.startswith("/ws") and "upgrade" in self.headers.get("Connection", "").lower():
                    self.protocol_version = "HTTP/1.1"
                    self.send_response(101, "Switching Protocols")
                    self.send_header("Upgrade", "websocket")
                    self.send_header("Connection", "Upgrade")
                    self.send_header("X-Request-Line", self.requestline)
                    self.end_headers()
                    self.wfile.flush()
                    self.connection.settimeout(20)
                    while True:
                        data = self.connection.recv(65536)
                        if not data:
                            break
                        self.connection.sendall(data)
                    self.close_connection = True
                else:
                    self.send_error(404)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.2,), daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------------------- certificates

class Pki:
    """Certificates made at test time with the openssl CLI (EC P-256: quick to make)."""

    def __init__(self, test):
        self.test = test
        d = os.path.join(test.dir, "pki")
        os.makedirs(d, exist_ok=True)
        self.dir = d
        self.ca, self.ca_key = self.make_ca("ca", "rendezvous e2e test CA")
        self.cert, self.key = self.make_leaf("server", self.ca, self.ca_key)
        self._self_signed = None
        self._other_ca = None

    def openssl(self, *args, input=None):
        r = subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=30)
        if r.returncode != 0:
            raise Failure(f"openssl {' '.join(args)}: {r.stderr.decode(errors='replace')}")
        return r.stdout

    def path(self, name):
        return os.path.join(self.dir, name)

    def make_ca(self, name, cn):
        crt, key = self.path(f"{name}.crt"), self.path(f"{name}.key")
        self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={cn}",
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return crt, key

    def make_leaf(self, name, ca, ca_key, san="DNS:localhost,IP:127.0.0.1"):
        crt, key, csr, ext = (self.path(f"{name}.{x}") for x in ("crt", "key", "csr", "ext"))
        self.openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                     "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=serverAuth\n"
                    f"subjectAltName={san}\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n")
        self.openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-out", crt,
                     "-days", "2", "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                     "-extfile", ext)
        return crt, key

    def self_signed(self):
        """(cert, key) of a self-signed server certificate for localhost / 127.0.0.1."""
        if self._self_signed is None:
            crt, key = self.path("selfsigned.crt"), self.path("selfsigned.key")
            self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                         "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=localhost",
                         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                         "-addext", "basicConstraints=critical,CA:FALSE",
                         "-addext", "extendedKeyUsage=serverAuth")
            self._self_signed = (crt, key)
        return self._self_signed

    def other_ca(self):
        """A second CA that signed nothing we serve: trusting it must fail."""
        if self._other_ca is None:
            self._other_ca = self.make_ca("other-ca", "some other CA")
        return self._other_ca[0]

    def pin(self, cert):
        """sha256//BASE64: base64 of SHA-256 of the DER SubjectPublicKeyInfo (curl --pinnedpubkey)."""
        pem = self.openssl("x509", "-in", cert, "-pubkey", "-noout").decode()
        body = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
        return "sha256//" + base64.b64encode(hashlib.sha256(base64.b64decode(body)).digest()).decode()


# ----------------------------------------------------------------------------- the test

class Test:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="rv-e2e-")
        self.procs = []
        self.results = []
        self.services = []
        self.cleanups = []
        self._pki = None
        self._help = {}
        self._asan = {}
        self.bins = {name: self._locate(name) for name in PROGRAMS}
        # rvhidden and rvconnect read defaults from RV_* variables and ~/.config/rendezvous: the
        # programs a test starts see none of the user's (a test that wants some sets its own).
        for var in [v for v in os.environ if v.startswith("RV_")]:
            del os.environ[var]
        os.environ["XDG_CONFIG_HOME"] = os.path.join(self.dir, "no-user-config")

    # -- setup

    def _locate(self, name):
        explicit = getattr(self.args, name)
        if explicit:  # given (by ctest): that one or none, never a stale binary from elsewhere
            return os.path.abspath(explicit) if os.access(explicit, os.X_OK) else None
        candidates = []
        if self.args.build_dir:
            candidates.append(os.path.join(self.args.build_dir, name, name))
        if self.args.bin_dir:
            candidates += [os.path.join(self.args.bin_dir, name),
                           os.path.join(self.args.bin_dir, os.pardir, name, name)]
        candidates.append(os.path.join(REPO, "build", name, name))
        for c in candidates:
            if c and os.path.isfile(c) and os.access(c, os.X_OK):
                return os.path.abspath(c)
        return None

    def bin(self, name):
        path = self.bins[name]
        if path is None:
            raise Failure(f"{name} not found (build first, or pass --build-dir / --{name})")
        return path

    def require(self, *tools):
        """Skips the test (77) unless every tool (a name on PATH, or a path) can be run."""
        for tool in tools:
            ok = os.access(tool, os.X_OK) if os.sep in tool else shutil.which(tool) is not None
            if not ok:
                raise Skipped(f"{tool} not available")

    def require_root_and_user(self, name="nobody"):
        """Skips the test (77) unless it runs as root and the user `name` exists; returns its
        passwd entry (for tests of what root does to another user's files, or as another user)."""
        if os.geteuid() != 0:
            raise Skipped("needs root")
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise Skipped(f"no user '{name}'") from None

    def root_only_secrets(self, comment=""):
        """A valid secrets file only root may read (mode 0600, in a 0700 directory of root's), as
        a target for tests of what an edit run by root may leak: (uuid, base32 secret as bytes,
        path). `comment` (a line) goes before its one UUID line."""
        uuid, key = self.identity()
        secret = b32(key).encode()
        private = self.path("private")
        os.mkdir(private, 0o700)
        path = os.path.join(private, "root-secrets")
        with open(path, "wb") as f:
            f.write(comment.encode() + f"{uuid} ".encode() + secret + b"\n")
        os.chmod(path, 0o600)
        return uuid, secret, path

    @property
    def pki(self):
        if self._pki is None:
            self.require("openssl")
            self._pki = Pki(self)
        return self._pki

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_file(self, name, data, mode=0o600):
        path = self.path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(path, mode)  # whatever the umask
        return path

    def identity(self, ascii_only=False):
        """(UUID, key bytes) for a hidden server."""
        return str(uuidlib.uuid4()), new_key(ascii_only)

    def secrets_file(self, entries, name=None, mode=0o600):
        """entries: [(uuid, key bytes)] -> path of a secrets file `UUID BASE32` per line."""
        name = name or f"secrets-{len(os.listdir(self.dir))}.txt"
        text = "# rendezvous e2e secrets\n" + "".join(f"{u} {b32(k)}\n" for u, k in entries)
        return self.write_file(name, text, mode)

    def service(self, handler, name="service"):
        s = TcpService(handler, name)
        self.services.append(s)
        return s

    def http_service(self):
        s = HttpService()
        self.services.append(s)
        return s

    def on_cleanup(self, fn):
        self.cleanups.append(fn)
        return fn

    # -- programs

    def spawn(self, name, argv, **kw):
        unique = name
        n = 1
        while any(p.name == unique for p in self.procs):
            n += 1
            unique = f"{name}-{n}"
        p = Proc(self, unique, argv, **kw)
        self.procs.append(p)
        return p

    def run(self, name, argv, input=None, stdin_path=None, timeout=30.0, env=None):
        """Runs a program to its end (killed at `timeout`: a failure). Returns a Result."""
        argv = [str(a) for a in argv]
        stdin = open(stdin_path, "rb") if stdin_path else (subprocess.PIPE if input is not None
                                                           else subprocess.DEVNULL)
        start = time.monotonic()
        p = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, env=env)
        holder = _Holder(p)
        self.cleanups.append(holder.kill)
        try:
            out, err = p.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            holder.kill()
            out, err = p.communicate()
            r = Result(name, argv, None, out, err, time.monotonic() - start)
            self.results.append(r)
            raise Failure(f"{name} did not finish within {timeout} s: {r!r}") from None
        finally:
            if stdin_path:
                stdin.close()
        r = Result(name, argv, p.returncode, out, err, time.monotonic() - start)
        self.results.append(r)
        return r

    def rvserver(self, secrets, cert=None, key=None, grace=None, log_level="info", extra=(),
                 listen="127.0.0.1:0", preexec_fn=None):
        """Starts rvserver; waits for its `listening 127.0.0.1:PORT` line; .addr is that address.
        preexec_fn runs in the child before exec (e.g. nofile_limit(64))."""
        cert = cert or self.pki.cert
        key = key or self.pki.key
        argv = [self.bin("rvserver"), "--listen", listen, "--cert", cert, "--key", key,
                "--secrets", secrets, "--log-level", log_level, *extra]
        if grace is not None:
            argv += ["--grace", str(grace)]
        p = self.spawn("rvserver", argv, preexec_fn=preexec_fn)
        m = p.wait_stdout(r"listening (127\.0\.0\.1:(\d+))\r?\n", timeout=10)
        p.addr = m.group(1)
        return p

    def help_text(self, name):
        """`NAME --help` of the program under test (cached)."""
        if name not in self._help:
            r = subprocess.run([self.bin(name), "--help"], capture_output=True, timeout=10)
            self._help[name] = r.stdout.decode("utf-8", "replace")
        return self._help[name]

    def has_option(self, name, option):
        """Whether `NAME --help` lists `option` (e.g. "--max-connections", not matching
        "--max-connections-per-source")."""
        return re.search(re.escape(option) + r"(?![\w-])", self.help_text(name)) is not None

    def sanitized(self, name="rvserver"):
        """Whether the program was built with AddressSanitizer (scripts/test --sanitize): its
        quarantine holds freed memory back, so VmRSS bounds do not apply."""
        if name not in self._asan:
            found = False
            with open(self.bin(name), "rb") as f:
                tail = b""
                for _ in range(4096):  # bounded: 4 GiB in 1 MiB reads
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    if b"__asan_init" in tail + chunk or b"libasan.so" in tail + chunk:
                        found = True
                        break
                    tail = chunk[-32:]
            self._asan[name] = found
        return self._asan[name]

    def generous_limits(self, n=100_000):
        """rvserver options that lift its connection and client-rate limits far above what a test
        needs (every peer here comes from 127.0.0.1, so per-source limits would bite first); only
        those this rvserver's --help lists, so a test runs before and after they exist."""
        args = []
        for option in ("--max-connections", "--max-connections-per-source", "--client-rate",
                       "--client-burst"):
            if self.has_option("rvserver", option):
                args += [option, str(n)]
        return args

    def trust_args(self, ca=None, pin=None, server_name=None):
        args = []
        if ca is None and pin is None:
            ca = self.pki.ca
        if ca:
            args += ["--ca-file", ca]
        if pin:
            args += ["--pin", pin]
        if server_name:
            args += ["--server-name", server_name]
        return args

    def rvhidden(self, server, uuid, secrets, forward, pool=None, wait_parked=1, log_level="info",
                 ca=None, pin=None, server_name=None, extra=()):
        """Starts rvhidden; waits until `wait_parked` connections are parked (its info log)."""
        argv = [self.bin("rvhidden"), "--server", server, "--uuid", uuid, "--secrets", secrets,
                "--forward", forward, "--log-level", log_level,
                *self.trust_args(ca, pin, server_name), *extra]
        if pool is not None:
            argv += ["--pool", str(pool)]
        p = self.spawn("rvhidden", argv)
        if wait_parked:
            p.wait_stderr(r"parked uuid=" + re.escape(uuid), timeout=10, count=wait_parked)
        return p

    def rvconnect(self, server, uuid, input=None, stdin_path=None, ca=None, pin=None,
                  server_name=None, timeout=30.0, extra=()):
        """Runs `rvconnect UUID` (stdin/stdout netcat) to its end; returns a Result."""
        argv = [self.bin("rvconnect"), "--server", server, *self.trust_args(ca, pin, server_name),
                *extra, uuid]
        return self.run("rvconnect", argv, input=input, stdin_path=stdin_path, timeout=timeout)

    def sshd(self):
        """A private sshd (-D -e) on 127.0.0.1 with its own host key, config and one authorized
        client key; skips (77) without OpenSSH. Returns (port, client key path)."""
        self.require(SSHD, "ssh", "ssh-keygen")
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
        d = self.path("sshd")
        os.makedirs(d)
        for name in ("host_key", "client_key"):
            self.expect_rc(self.run("ssh-keygen", ["ssh-keygen", "-q", "-t", "ed25519", "-N", "",
                                                   "-f", f"{d}/{name}"]), 0)
        with open(f"{d}/client_key.pub") as f:
            self.write_file("sshd/authorized_keys", f.read(), 0o600)
        for attempt in range(5):  # sshd cannot print the port it got: pick a free one, retry if taken
            port = free_port()
            config = self.write_file("sshd/sshd_config", sshd_config(
                d, port, "Subsystem sftp internal-sftp\nLogLevel VERBOSE\n"), 0o600)
            sshd = self.spawn("sshd", [SSHD, "-D", "-e", "-f", config])
            try:
                sshd.wait_stderr(r"Server listening on 127\.0\.0\.1 port", timeout=10)
                return port, f"{d}/client_key"
            except Failure:
                if "Address already in use" not in sshd.stderr_text() or attempt == 4:
                    raise
                sshd.kill()
        raise Failure("sshd did not start")

    @staticmethod
    def ssh_options(client_key):
        """ssh options for the private sshd: no user config, no host key prompts, only this key."""
        return ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=20", "-i", client_key]

    @staticmethod
    def user():
        return getpass.getuser()

    # -- checks

    def check(self, cond, message):
        if not cond:
            raise Failure(message)

    def expect_rc(self, result, rc, what=""):
        if result.rc != rc:
            raise Failure(f"{what or result.name}: expected exit {rc}, got {result!r}")

    def log(self, message):
        print(f"  {message}", flush=True)

    # -- the end

    def dump(self):
        for p in self.procs:
            rc = p.p.poll()
            print(f"--- {p.name} (pid {p.pid}, {'running' if rc is None else f'exit {rc}'}): "
                  f"{' '.join(p.argv)}", file=sys.stderr)
            lines = p.stderr_text().splitlines()
            for line in lines[-80:]:
                print(f"    {line}", file=sys.stderr)
        for r in self.results[-12:]:
            print(f"--- {r!r}", file=sys.stderr)
        sys.stderr.flush()

    def cleanup(self):
        for fn in reversed(self.cleanups):
            try:
                fn()
            except Exception:  # noqa: BLE001
                pass
        self.cleanups = []
        for p in self.procs:
            p.kill()
        for s in self.services:
            try:
                s.stop()
            except Exception:  # noqa: BLE001
                pass
        self.services = []


class _Holder:
    def __init__(self, p):
        self.p = p

    def kill(self):
        if self.p.poll() is None:
            signal_group(self.p, signal.SIGKILL)


def parse_args(argv=None, add_args=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    if add_args:
        add_args(ap)
    ap.add_argument("--build-dir", help="the CMake build dir: binaries are BUILD/<name>/<name>")
    ap.add_argument("--bin-dir", help="the dir of rvserver (the others are found beside it)")
    for name in PROGRAMS:
        ap.add_argument(f"--{name}", help=f"path of {name}")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--timeout", type=float, default=None, help="whole-test deadline (s)")
    return ap.parse_args(argv)


def run(main, timeout=90.0, add_args=None):
    """Runs `main(test)`; exits 0 pass, 1 fail, 77 skip. Whatever happens, the programs it started
    are killed (finally, atexit, SIGTERM/SIGINT, and a watchdog at `timeout` seconds).
    add_args(parser) adds a script's own options (then in test.args); `timeout` may be a
    function of those args."""
    args = parse_args(add_args=add_args)
    timeout = args.timeout or (timeout(args) if callable(timeout) else timeout)
    name = os.path.basename(sys.argv[0])
    t = Test(args)
    done = threading.Event()
    atexit.register(t.cleanup)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)

    def watchdog():
        if done.wait(timeout):
            return
        print(f"FAIL {name}: still running after {timeout} s (watchdog)", file=sys.stderr)
        t.dump()
        t.cleanup()
        os._exit(1)
    threading.Thread(target=watchdog, daemon=True).start()

    start = time.monotonic()
    rc = 1
    try:
        main(t)
        rc = 0
        print(f"PASS {name} ({time.monotonic() - start:.1f} s)")
    except Skipped as e:
        rc = SKIP
        print(f"SKIP {name}: {e}")
    except Failure as e:
        print(f"FAIL {name}: {e}", file=sys.stderr)
        t.dump()
    except BaseException as e:  # noqa: BLE001 - an error in the test is a failure too
        print(f"FAIL {name}: {e!r}", file=sys.stderr)
        traceback.print_exc()
        t.dump()
    finally:
        done.set()
        t.cleanup()
        if rc != 1 and not args.keep:
            shutil.rmtree(t.dir, ignore_errors=True)
        else:
            print(f"  files kept in {t.dir}", file=sys.stderr if rc == 1 else sys.stdout)
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(rc)  # daemon threads may still sit in blocking calls; we are done
