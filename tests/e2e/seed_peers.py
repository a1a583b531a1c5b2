"""An independent Python implementation of the seed-protocol peers (docs/PROTOCOL.md, no extensions).

- totp():                    RFC 6238 tokens (HMAC-SHA1, dynamic truncation), written here from the RFC.
- Stream:                    one TCP connection, optionally TLS, that can half-close (close_notify, FIN)
                             and go on reading, which ssl.SSLSocket cannot do; used by every peer here.
- pump():                    moves octets both ways until both sides have ended, passing each end of
                             stream on as a half-close and an abort as an abort.
- open_client():             a mobile client: `CONNECT uuid:ID HTTP/1.1`, by hand.
- SeedHiddenServer:          registers one connection at a time, no Rendezvous-Notify; on the first
                             client bytes connects to its local service and pipes; then re-registers.
- SeedRendezvousServer:      answers registrations `HTTP/1.1 200` (no reason, no headers), keeps only
                             the newest parked connection per UUID, pairs `CONNECT uuid:ID` clients.

Stdlib only. Every wait has a deadline and every loop a bound.
"""
import base64
import hashlib
import hmac
import json
import re
import select
import socket
import ssl
import struct
import threading
import time
import urllib.parse

HEAD_LIMIT = 16 * 1024
HIGH_WATER = 1 << 20  # stop reading one side while the other has this much unsent


# ----------------------------------------------------------------------------- TOTP (RFC 6238)

def b32decode_nopad(text):
    """Base32 (RFC 4648 alphabet) without '=' padding, case-insensitive."""
    text = text.strip().upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def hotp(key, counter, digits=6):
    """RFC 4226: HMAC-SHA1 over the 8-byte big-endian counter, dynamic truncation (section 5.3)."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(code % (10 ** digits)).zfill(digits)


def totp(key, now=None, step=30, digits=6):
    """RFC 6238 token for `key` (raw bytes) at unix time `now`."""
    now = time.time() if now is None else now
    return hotp(key, int(now // step), digits)


def seed_hmac_key(key):
    """The seed server's TOTP library feeds the decoded key to HMAC as UTF-8 text (docs/PROTOCOL.md §3.2):
    each byte >= 0x80 becomes two. Identical to `key` when every byte is below 0x80."""
    return key.decode("latin-1").encode("utf-8")


def totp_accepts(key, token, step=30, digits=6, now=None):
    """The check a rendezvous server makes: current step and one either side, constant time."""
    now = time.time() if now is None else now
    ok = False
    for skew in (-1, 0, 1):
        ok |= hmac.compare_digest(hotp(key, int(now // step) + skew, digits).encode(), token.encode())
    return ok


# ----------------------------------------------------------------------------- transport

class Stream:
    """A non-blocking TCP connection, TLS over memory BIOs when a context is given.

    Why memory BIOs: a half-close on TLS is close_notify then FIN while still reading what the
    peer sends. ssl.SSLSocket.unwrap() calls SSL_shutdown twice, and the second call reads (and may
    throw away) the peer's records; with ssl.SSLObject we decide exactly which bytes OpenSSL sees.
    """

    def __init__(self, sock, tls_context=None, server_side=False, server_hostname=None):
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.sock = sock
        self.tls = None
        if tls_context is not None:
            self._in = ssl.MemoryBIO()
            self._out = ssl.MemoryBIO()
            self.tls = tls_context.wrap_bio(self._in, self._out, server_side=server_side,
                                            server_hostname=server_hostname)
        self.wbuf = bytearray()    # bytes waiting for the socket
        self.stash = bytearray()   # plaintext already read, handed out before anything else
        self.peer_eof = False      # the peer's end of stream was seen
        self.ragged = False        # ... as a FIN without close_notify
        self.shut_pending = False  # send FIN once wbuf is empty
        self.write_shut = False
        self.closed = False

    def fileno(self):
        return self.sock.fileno()

    def peer(self):
        try:
            host, port = self.sock.getpeername()[:2]
            return f"{host}:{port}"
        except OSError:
            return "?"

    # -- non-blocking primitives

    def _pull_tls_out(self):
        if self.tls is not None and self._out.pending:
            self.wbuf += self._out.read()

    def flush(self):
        """Sends what the socket takes now; True when nothing is left. Raises OSError."""
        while self.wbuf:
            try:
                n = self.sock.send(self.wbuf)
            except (BlockingIOError, InterruptedError):
                return False
            del self.wbuf[:n]
        if self.shut_pending and not self.write_shut:
            self.sock.shutdown(socket.SHUT_WR)
            self.write_shut = True
        return True

    def _recv_raw(self):
        try:
            return self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return None

    def read_nb(self):
        """Plaintext now available: bytes; b'' at end of stream; None when nothing yet."""
        if self.stash:
            data = bytes(self.stash)
            self.stash.clear()
            return data
        if self.peer_eof:
            return b""
        if self.tls is None:
            data = self._recv_raw()
            if data == b"":
                self.peer_eof = True
            return data
        for _ in range(10000):  # each turn returns or feeds raw bytes to OpenSSL
            try:
                data = self.tls.read(65536)
                self._pull_tls_out()
                if data:
                    return data
                self.peer_eof = True
                return b""
            except ssl.SSLWantReadError:
                self._pull_tls_out()
                raw = self._recv_raw()
                if raw is None:
                    return None
                if raw == b"":
                    self._in.write_eof()
                else:
                    self._in.write(raw)
            except ssl.SSLZeroReturnError:  # close_notify
                self._pull_tls_out()
                self.peer_eof = True
                return b""
            except ssl.SSLEOFError:  # FIN without close_notify
                self.peer_eof = True
                self.ragged = True
                return b""
        raise RuntimeError("read_nb: no progress")

    def write(self, data):
        """Queues `data` (all of it) and sends what the socket takes now."""
        if self.write_shut or self.shut_pending:
            raise BrokenPipeError("write after shutdown_write")
        if self.tls is None:
            self.wbuf += data
        else:
            view = memoryview(data)
            while view:
                n = self.tls.write(view)
                view = view[n:]
            self._pull_tls_out()
        self.flush()

    def shutdown_write(self):
        """Half-close: close_notify (TLS) then FIN; reading goes on."""
        if self.shut_pending:
            return
        if self.tls is not None:
            # Hand every complete record to the stash first, so that SSL_shutdown's second call
            # (inside unwrap) finds no application data to trip over.
            for _ in range(10000):
                try:
                    data = self.tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                except ssl.SSLZeroReturnError:
                    self.peer_eof = True
                    break
                except ssl.SSLEOFError:
                    self.peer_eof = self.ragged = True
                    break
                if not data:
                    self.peer_eof = True
                    break
                self.stash += data
            try:
                self.tls.unwrap()
            except ssl.SSLWantReadError:
                pass  # our close_notify is out; the peer's comes later, through read_nb
            self._pull_tls_out()
        self.shut_pending = True
        self.flush()

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass

    def abort(self):
        """Close with a reset, so that the peer sees an abort, not an end of stream."""
        if not self.closed:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
            self.close()

    # -- blocking helpers, each with a deadline (time.monotonic() value)

    def _wait(self, deadline, write=False):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        r, w, _ = select.select([] if write else [self.sock], [self.sock] if write else [], [],
                                min(left, 1.0))
        return bool(r or w)

    def flush_blocking(self, deadline):
        for _ in range(1_000_000):
            if self.flush():
                return
            self._wait(deadline, write=True)

    def handshake(self, deadline):
        if self.tls is None:
            return
        for _ in range(10000):
            try:
                self.tls.do_handshake()
                self._pull_tls_out()
                self.flush_blocking(deadline)
                return
            except ssl.SSLWantReadError:
                self._pull_tls_out()
                self.flush_blocking(deadline)
                raw = None
                while raw is None:
                    self._wait(deadline)
                    raw = self._recv_raw()
                if raw == b"":
                    raise ConnectionError("end of stream during the TLS handshake")
                self._in.write(raw)
            except ssl.SSLError:
                self._pull_tls_out()  # send our alert, so the peer learns why
                try:
                    self.flush_blocking(min(deadline, time.monotonic() + 1))
                except OSError:
                    pass
                raise
        raise RuntimeError("handshake: no progress")

    def send_all(self, data, deadline):
        self.write(data)
        self.flush_blocking(deadline)

    def recv_some(self, deadline):
        """At least one byte, or b'' at end of stream."""
        for _ in range(1_000_000):
            data = self.read_nb()
            if data is not None:
                return data
            self._wait(deadline)
        raise RuntimeError("recv_some: no progress")

    def read_all(self, deadline, limit=64 << 20):
        out = bytearray()
        while True:
            data = self.recv_some(deadline)
            if not data:
                return bytes(out)
            out += data
            if len(out) > limit:
                raise ValueError("read_all: more than the limit")

    def read_head(self, deadline):
        """An HTTP head up to and with the empty line; bytes after it stay in the stash."""
        buf = bytearray()
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                self.stash[:0] = buf[end + 4:]
                return bytes(buf[:end + 4]).decode("latin-1")
            if len(buf) > HEAD_LIMIT:
                raise ValueError("head larger than 16 KiB")
            data = self.recv_some(deadline)
            if not data:
                raise ConnectionError(f"end of stream inside a head: {bytes(buf)!r}")
            buf += data


def parse_status(head):
    """'HTTP/1.1 200 OK\\r\\n...' -> 200 (the reason phrase may be missing)."""
    m = re.match(r"HTTP/1\.[01] (\d{3})(?: [^\r\n]*)?\r\n", head)
    if not m:
        raise ValueError(f"not a status line: {head[:80]!r}")
    return int(m.group(1))


def header_value(head, name):
    m = re.search(r"(?im)^" + re.escape(name) + r":[ \t]*([^\r\n]*)", head)
    return m.group(1).strip() if m else None


def pump(a, b, stop=None, on_error=None, idle_timeout=60.0):
    """Moves octets both ways until both sides ended (each EOF passed on as a half-close), then
    closes both. An error on either side, `idle_timeout` seconds in which nothing moved, or `stop`
    (a threading.Event) aborts both."""
    other = {a: b, b: a}
    reading = {a: True, b: True}
    last_progress = time.monotonic()
    try:
        while True:
            moved = False
            for s in (a, b):
                o = other[s]
                for _ in range(64):
                    if not reading[s] or len(o.wbuf) >= HIGH_WATER:
                        break
                    data = s.read_nb()
                    if data is None:
                        break
                    moved = True
                    if data == b"":
                        reading[s] = False
                        o.shutdown_write()
                        break
                    o.write(data)
            queued = len(a.wbuf) + len(b.wbuf)
            a.flush()
            b.flush()
            moved = moved or len(a.wbuf) + len(b.wbuf) < queued
            if not reading[a] and not reading[b] and not a.wbuf and not b.wbuf:
                return True
            if stop is not None and stop.is_set():
                raise ConnectionAbortedError("stopped")
            now = time.monotonic()
            if moved:
                last_progress = now
            elif now - last_progress > idle_timeout:
                raise TimeoutError(f"pump: nothing moved for {idle_timeout} s")
            rl = [s for s in (a, b) if reading[s] and len(other[s].wbuf) < HIGH_WATER]
            wl = [s for s in (a, b) if s.wbuf]
            select.select(rl, wl, [], 0.25)
    except (OSError, ssl.SSLError, ValueError, RuntimeError) as e:
        if on_error is not None:
            on_error(e)
        a.abort()
        b.abort()
        return False
    finally:
        a.close()
        b.close()


def client_tls_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def server_tls_context(certfile, keyfile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


def split_addr(addr):
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


def dial(addr, tls_context=None, server_hostname=None, timeout=10.0, source=None):
    """Connects (TCP, then TLS when a context is given) and returns a Stream. `source`: the local
    address to connect from (e.g. "127.0.0.2", any of 127/8 works on Linux loopback)."""
    deadline = time.monotonic() + timeout
    host, port = split_addr(addr)
    sock = socket.create_connection((host, port), timeout=timeout,
                                    source_address=(source, 0) if source else None)
    stream = Stream(sock, tls_context, server_side=False,
                    server_hostname=(server_hostname or host) if tls_context else None)
    try:
        stream.handshake(deadline)
    except BaseException:
        stream.close()
        raise
    return stream


def open_client(server_addr, uuid, cafile, timeout=10.0):
    """A seed-protocol mobile client: CONNECT uuid:ID, by hand. Returns (status, head, stream);
    on 200 the stream carries the tunnel."""
    deadline = time.monotonic() + timeout
    stream = dial(server_addr, client_tls_context(cafile), timeout=timeout)
    stream.send_all(f"CONNECT uuid:{uuid} HTTP/1.1\r\nHost: {server_addr}\r\n\r\n".encode(), deadline)
    head = stream.read_head(deadline)
    return parse_status(head), head, stream


def echo_through(stream, payload, timeout=20.0):
    """Sends `payload`, half-closes, reads until end of stream, closes."""
    deadline = time.monotonic() + timeout
    reply = bytearray()
    view = memoryview(payload)
    try:
        for _ in range(1_000_000):  # interleave writing and reading, so neither side stalls
            if view:
                n = min(len(view), 65536)
                stream.write(bytes(view[:n]))
                view = view[n:]
                if not view:
                    stream.shutdown_write()
            data = stream.read_nb()
            if data == b"":
                break
            if data:
                reply += data
            elif not view or len(stream.wbuf) > HIGH_WATER:
                stream.flush()
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("echo_through: deadline passed")
                select.select([stream.sock], [stream.sock] if stream.wbuf else [], [], min(left, 1))
        return bytes(reply)
    finally:
        stream.close()


# ----------------------------------------------------------------------------- seed hidden server

class SeedHiddenServer:
    """A seed-protocol hidden server in a thread (docs/PROTOCOL.md §4, §10.1: no extension headers).

    One registration at a time; on 200 it waits for the client's first bytes, then connects to
    `forward` and pipes both ways (in another thread), and registers again."""

    def __init__(self, server_addr, uuid, key, forward, cafile, step=30, digits=6,
                 server_hostname=None, max_registrations=500):
        self.server_addr = server_addr
        self.uuid = uuid
        self.key = key
        self.forward = forward
        self.tls = client_tls_context(cafile)
        self.step, self.digits = step, digits
        self.server_hostname = server_hostname
        self.max_registrations = max_registrations
        self.stop_event = threading.Event()
        self.cond = threading.Condition()
        self.parked = 0       # 200 answers received
        self.refused = []     # non-200 statuses
        self.tunnels = 0
        self.errors = []
        self._threads = []
        self._current = None
        self.thread = threading.Thread(target=self._run, name="seed-hidden", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def wait_parked(self, count=1, timeout=10.0):
        with self.cond:
            if not self.cond.wait_for(lambda: self.parked >= count, timeout):
                raise TimeoutError(f"seed hidden server: {self.parked} parked, wanted {count}; "
                                   f"refused {self.refused}, errors {self.errors[-3:]}")

    def stop(self):
        self.stop_event.set()
        cur = self._current
        if cur is not None:
            cur.close()
        self.thread.join(5)
        for t in self._threads:
            t.join(5)

    def _run(self):
        failures = 0
        for _ in range(self.max_registrations):
            if self.stop_event.is_set():
                return
            try:
                self._register_once()
                failures = 0
            except Exception as e:  # noqa: BLE001 - any failure: note it, back off, retry
                if self.stop_event.is_set():
                    return
                self.errors.append(repr(e))
                failures += 1
                if failures > 20:
                    return
                self.stop_event.wait(min(0.1 * 2 ** failures, 2.0))

    def _register_once(self):
        deadline = time.monotonic() + 10
        s = dial(self.server_addr, self.tls, self.server_hostname)
        self._current = s
        try:
            token = totp(self.key, step=self.step, digits=self.digits)
            s.send_all(f"CONNECT uuid:{self.uuid}?response={token} HTTP/1.1\r\n"
                       f"Host: {self.server_addr}\r\n\r\n".encode(), deadline)
            status = parse_status(s.read_head(deadline))
            if status != 200:
                with self.cond:
                    self.refused.append(status)
                raise ConnectionRefusedError(f"registration answered {status}")
            with self.cond:
                self.parked += 1
                self.cond.notify_all()
            first = None
            for _ in range(100000):  # parked: wait for the first client bytes, as long as it takes
                if self.stop_event.is_set():
                    raise ConnectionAbortedError("stopped")
                first = s.read_nb()
                if first is not None:
                    break
                select.select([s.sock], [], [], 0.25)
            if not first:
                raise ConnectionResetError("parked connection closed with no client")
        except BaseException:
            s.close()
            raise
        finally:
            self._current = None
        local = Stream(socket.create_connection(split_addr(self.forward), timeout=10))
        local.write(first)
        with self.cond:
            self.tunnels += 1
        t = threading.Thread(target=pump, args=(s, local, self.stop_event, self.errors.append),
                             name="seed-hidden-pipe", daemon=True)
        self._threads.append(t)
        t.start()


# ----------------------------------------------------------------------------- seed rendezvous server

class SeedRendezvousServer:
    """A seed-protocol rendezvous server in threads (docs/PROTOCOL.md §4, §5 and §10.1).

    `secrets` maps UUID -> (key bytes, step, digits). `grace` is how long a client waits for a
    parked connection before 404; node-rendezvous answers at once (grace 0), tests may give the
    hidden server time to re-register."""

    def __init__(self, certfile, keyfile, secrets, grace=0.0, host="127.0.0.1"):
        self.tls = server_tls_context(certfile, keyfile)
        self.secrets = secrets
        self.grace = grace
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.addr = f"{host}:{self.listener.getsockname()[1]}"
        self.cond = threading.Condition()
        self.parked = {}           # UUID -> Stream: only the newest
        self.events = []           # (monotonic time, what, uuid): register / refuse / evict / pair / 404
        self.errors = []
        self.stop_event = threading.Event()
        self._threads = []
        self._conns = set()
        self.thread = threading.Thread(target=self._accept_loop, name="seed-server", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def count(self, what, since=0.0):
        with self.cond:
            return sum(1 for (t, w, _) in self.events if w == what and t >= since)

    def wait_event(self, what, count=1, timeout=10.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: sum(1 for e in self.events if e[1] == what) >= count, timeout)
            if not ok:
                raise TimeoutError(f"seed server: wanted {count} x {what}; events {self.events[-10:]}")

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        self.listener.close()
        with self.cond:
            for s in list(self.parked.values()) + list(self._conns):
                s.close()
            self.parked.clear()
        for t in self._threads:
            t.join(5)

    def _note(self, what, uuid):
        with self.cond:
            self.events.append((time.monotonic(), what, uuid))
            self.cond.notify_all()

    def _accept_loop(self):
        while not self.stop_event.is_set():
            r, _, _ = select.select([self.listener], [], [], 0.2)
            if not r:
                continue
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            t = threading.Thread(target=self._serve, args=(sock,), name="seed-conn", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    @staticmethod
    def _error(status, reason, diagnostic):
        body = json.dumps({"error": {"permanent": False, "diagnostic": diagnostic}}).encode()
        return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body

    def _refuse(self, s, deadline, status, reason, diagnostic, uuid=""):
        self._note(f"refuse{status}", uuid)
        try:
            s.send_all(self._error(status, reason, diagnostic), deadline)
            s.shutdown_write()
            s.flush_blocking(deadline)
        except (OSError, ssl.SSLError, TimeoutError):
            pass
        s.close()

    def _serve(self, sock):
        deadline = time.monotonic() + 10
        s = Stream(sock, self.tls, server_side=True)
        with self.cond:
            self._conns.add(s)
        try:
            s.handshake(deadline)
            head = s.read_head(deadline)
        except Exception as e:  # noqa: BLE001
            self.errors.append(repr(e))
            s.close()
            return
        finally:
            with self.cond:
                self._conns.discard(s)
        line = head.split("\r\n", 1)[0]
        parts = line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return self._refuse(s, deadline, 400, "Bad Request", "malformed request line")
        method, target, _ = parts
        if method != "CONNECT":
            return self._refuse(s, deadline, 400, "Bad Request", "only CONNECT here")
        if not target.startswith("uuid:"):
            return self._refuse(s, deadline, 403, "Forbidden", "target scheme is not uuid:")
        uuid, _, query = target[5:].partition("?")
        params = urllib.parse.parse_qs(query)
        if query and "response" not in params:
            return self._refuse(s, deadline, 407, "Proxy Authentication Required", "response missing", uuid)
        if "response" in params:
            self._register(s, deadline, uuid, params["response"][0])
        else:
            self._pair(s, deadline, uuid)

    def _register(self, s, deadline, uuid, token):
        entry = self.secrets.get(uuid)
        if entry is None or not totp_accepts(seed_hmac_key(entry[0]), token, entry[1], entry[2]):
            return self._refuse(s, deadline, 401, "Unauthorized", "wrong token", uuid)
        try:
            s.send_all(b"HTTP/1.1 200\r\n\r\n", deadline)
        except (OSError, ssl.SSLError, TimeoutError):
            s.close()
            return
        with self.cond:
            old = self.parked.get(uuid)
            self.parked[uuid] = s
            self.events.append((time.monotonic(), "register", uuid))
            if old is not None:
                self.events.append((time.monotonic(), "evict", uuid))
            self.cond.notify_all()
        if old is not None:  # the seed keeps only the newest
            try:
                old.shutdown_write()
            except (OSError, ssl.SSLError):
                pass
            old.close()

    @staticmethod
    def _alive(p):
        """A parked connection the hidden side closed is dead; bytes it sent early are kept."""
        try:
            data = p.read_nb()
        except (OSError, ssl.SSLError):
            return False
        if data == b"":
            return False
        if data:
            p.stash[:0] = data
        return True

    def _pair(self, s, deadline, uuid):
        end = time.monotonic() + self.grace
        p = None
        with self.cond:
            for _ in range(1000):
                p = self.parked.pop(uuid, None)
                if p is not None and self._alive(p):
                    break
                if p is not None:
                    p.close()
                    p = None
                left = end - time.monotonic()
                if left <= 0 or self.stop_event.is_set():
                    break
                self.cond.wait(left)
        if p is None:
            return self._refuse(s, deadline, 404, "Not Found", "UUID not registered", uuid)
        self._note("pair", uuid)
        try:
            s.send_all(b"HTTP/1.1 200\r\n\r\n", deadline)
        except (OSError, ssl.SSLError, TimeoutError):
            s.close()
            p.close()
            return
        pump(s, p, self.stop_event, self.errors.append)


# ----------------------------------------------------------------------------- scripted rendezvous server

class ScriptedRendezvousServer:
    """A rendezvous server whose answers a test writes: for the n-th registration (0-based) it calls
    `answer(n, head, stream)` in the connection's thread, after the TLS handshake and the request
    head. The head is recorded first (`heads`, in order of arrival); whatever `answer` leaves open
    stays open (a stalled peer) until stop(). For hostile-server tests of rvhidden."""

    def __init__(self, certfile, keyfile, answer, host="127.0.0.1"):
        self.tls = server_tls_context(certfile, keyfile)
        self.answer = answer
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((host, 0))
        self.listener.listen(64)
        self.addr = f"{host}:{self.listener.getsockname()[1]}"
        self.cond = threading.Condition()
        self.heads = []   # (monotonic time, request head) of each registration
        self.errors = []
        self.stop_event = threading.Event()
        self._streams = []
        self.thread = threading.Thread(target=self._accept_loop, name="scripted-server", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def wait_heads(self, count, timeout=10.0):
        """Waits until `count` registrations have come; returns their heads. TimeoutError if not."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.heads) >= count, timeout):
                raise TimeoutError(f"scripted server: {len(self.heads)} registrations, wanted {count} "
                                   f"within {timeout} s; errors {self.errors[-3:]}")
            return [head for _, head in self.heads]

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        self.listener.close()
        with self.cond:
            for s in self._streams:
                s.close()

    def _accept_loop(self):
        while not self.stop_event.is_set():
            r, _, _ = select.select([self.listener], [], [], 0.2)
            if not r:
                continue
            try:
                sock, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(sock,), name="scripted-conn", daemon=True).start()

    def _serve(self, sock):
        deadline = time.monotonic() + 10
        s = Stream(sock, self.tls, server_side=True)
        with self.cond:
            self._streams.append(s)
        try:
            s.handshake(deadline)
            head = s.read_head(deadline)
            with self.cond:
                n = len(self.heads)
                self.heads.append((time.monotonic(), head))
                self.cond.notify_all()
            self.answer(n, head, s)
        except Exception as e:  # noqa: BLE001 - the test reads errors when it fails
            self.errors.append(repr(e))
            s.close()
