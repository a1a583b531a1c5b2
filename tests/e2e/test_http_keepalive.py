#!/usr/bin/env python3
"""HTTP mode on a keep-alive connection: every request is checked, not only the first.

Two hidden web services, A and B (B takes only clients with its client key), behind one rvserver,
each a keep-alive HTTP/1.1 server that records what reaches it:
- curl -u A: URL --next -u B:KEY URL on one connection: A answers the first; the second, for
  another UUID, gets 421 Misdirected Request and never reaches A (before, it was spliced to A's
  service with B's Authorization and client key);
- two requests for A on one connection both reach A, neither with Authorization;
- B's second request with a wrong key gets 403 and does not reach B;
- pipelined by hand in one write: A's response first, then the 421, then the end of the stream;
- a chunked POST whose body looks like a request for B, then a GET: the body reaches A as it
  was sent, and the GET after it is a request of its own;
- an upgrade as the second request of a connection: 101, then the raw bytes are echoed.
Nothing that reached a service carries Authorization or Rendezvous-Client-Key."""
import base64
import http.server
import os
import socket
import threading
import time

import harness as h
import seed_peers as seed


class KeepAliveWeb:
    """An HTTP/1.1 service that keeps connections open: answers "NAME METHOD PATH BODY-SHA" to
    every request, 101 and an echo to an upgrade. Records (method, path, headers, body) and how
    many connections it accepted."""

    def __init__(self, name):
        self.name = name
        self.requests = []
        self.connections = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                outer.connections += 1

            def body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def handle_any(self):
                body = self.body()
                outer.requests.append((self.command, self.path, dict(self.headers.items()), body))
                if "upgrade" in self.headers.get("Connection", "").lower():
                    self.send_response(101, "Switching Protocols")
                    self.send_header("Upgrade", "echo")
                    self.send_header("Connection", "Upgrade")
                    self.end_headers()
                    self.wfile.flush()
                    self.connection.settimeout(20)
                    while True:
                        data = self.connection.recv(65536)
                        if not data:
                            break
                        self.connection.sendall(data)
                    self.close_connection = True
                    return
                answer = f"{outer.name} {self.command} {self.path} {h.sha256(body)[:8]}".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.addr = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.2,), daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def paths(self):
        return [p for _, p, _, _ in self.requests]


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def exchange(t, server, data, deadline_s=15):
    """Sends `data` in one write on one TLS connection, half-closes nothing, and reads until the
    server closes: returns everything it answered."""
    deadline = time.monotonic() + deadline_s
    stream = seed.dial(server.addr, seed.client_tls_context(t.pki.ca), server_hostname="localhost")
    try:
        stream.send_all(data, deadline)
        return stream.read_all(deadline, limit=1 << 20)
    finally:
        stream.close()


def check_clean(t, *services):
    for s in services:
        for method, path, headers, _ in s.requests:
            names = {k.lower() for k in headers}
            t.check(not names & {"authorization", "rendezvous-client-key"},
                    f"{s.name} got a credential with {method} {path}: {headers}")


def main(t):
    t.require("curl")
    uuid_a, key_a = t.identity()
    uuid_b, key_b = t.identity()
    client_key = base64.b64encode(os.urandom(24)).decode()
    keys = t.write_file("client-keys", f"{uuid_b} {client_key}\n")
    server = t.rvserver(t.secrets_file([(uuid_a, key_a), (uuid_b, key_b)]),
                        extra=(*t.generous_limits(), "--client-keys", keys))
    web_a, web_b = KeepAliveWeb("A"), KeepAliveWeb("B")
    t.on_cleanup(web_a.stop)
    t.on_cleanup(web_b.stop)
    t.rvhidden(server.addr, uuid_a, t.secrets_file([(uuid_a, key_a)]), web_a.addr, pool=2, wait_parked=2)
    t.rvhidden(server.addr, uuid_b, t.secrets_file([(uuid_b, key_b)]), web_b.addr, pool=2, wait_parked=2)
    base = f"https://{server.addr}"
    curl = ["curl", "-sS", "--max-time", "20", "--cacert", t.pki.ca, "--basic", "-w", " [%{http_code}]\n"]

    # The review's case: A, then B with B's key, on one connection.
    r = t.run("curl", [*curl, "-u", f"{uuid_a}:x", f"{base}/one", "--next", *curl[1:], "-u",
                       f"{uuid_b}:{client_key}", f"{base}/two"], timeout=30)
    t.expect_rc(r, 0, "curl A --next B")
    out = r.out.decode()
    t.log(f"A then B on one connection: {out.strip()!r}")
    t.check(out.startswith("A GET /one ") and "[200]" in out.splitlines()[0], f"first answer: {out!r}")
    t.check("/two" not in web_a.paths(), f"B's request reached A's service: {web_a.requests}")
    t.check(client_key not in repr(web_a.requests), "B's client key reached A's service")
    t.check("[421]" in out or "B GET /two" in out, f"the second answer: {out!r}")
    server.wait_stderr(r"status=421 for request 2 on the connection", timeout=5)

    # Two requests for A on one connection: both reach A, over one service connection.
    before = (len(web_a.requests), web_a.connections)
    r = t.run("curl", [*curl, "-u", f"{uuid_a}:x", f"{base}/three", "--next", *curl[1:], "-u", f"{uuid_a}:x",
                       f"{base}/four"], timeout=30)
    t.expect_rc(r, 0, "curl A --next A")
    out = r.out.decode()
    t.check("A GET /three" in out and "A GET /four" in out, f"both answered: {out!r}")
    t.check(web_a.paths()[before[0]:] == ["/three", "/four"], f"A saw {web_a.paths()}")
    t.check(web_a.connections == before[1] + 1, "the two requests came over two service connections: "
                                                 "this did not test keep-alive")

    # B's key is checked on every request.
    r = t.run("curl", [*curl, "-u", f"{uuid_b}:{client_key}", f"{base}/five", "--next", *curl[1:], "-u",
                       f"{uuid_b}:wrong", f"{base}/six"], timeout=30)
    out = r.out.decode()
    t.check("B GET /five" in out and "[403]" in out, f"B's second request with a wrong key: {out!r}")
    t.check("/six" not in web_b.paths(), f"a request with a wrong key reached B: {web_b.paths()}")

    # Pipelined in one write: A's answer, then the 421, then the end.
    auth_a, auth_b = basic(uuid_a, "x"), basic(uuid_b, client_key)
    answer = exchange(t, server, (f"GET /seven HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_a}\r\n\r\n"
                                  f"GET /eight HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_b}\r\n\r\n").encode())
    first = answer.find(b"A GET /seven")
    misdirected = answer.find(b"HTTP/1.1 421 Misdirected Request")
    t.check(0 <= first < misdirected, f"pipelined answers, in order: {answer[:600]!r}")
    t.check("/eight" not in web_a.paths() + web_b.paths(), "the pipelined request for B reached a service")

    # A chunked body that looks like a request for B is a body; the GET after it is a request.
    smuggled = f"GET /nine HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_b}\r\n\r\n".encode()
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(smuggled), smuggled)
    answer = exchange(t, server, (f"POST /ten HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_a}\r\n"
                                  f"Transfer-Encoding: chunked\r\n\r\n").encode() + chunked +
                      f"GET /eleven HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_a}\r\nConnection: close\r\n\r\n"
                      .encode())
    t.check(b"A POST /ten " + h.sha256(smuggled)[:8].encode() in answer, f"the POST's answer: {answer[:600]!r}")
    t.check(b"A GET /eleven" in answer, f"the GET after the body: {answer[:600]!r}")
    t.check("/nine" not in web_a.paths() + web_b.paths(), "a request inside a body was taken for a request")
    posted = [b for m, p, _, b in web_a.requests if p == "/ten"]
    t.check(posted == [smuggled], f"the body as A received it: {posted!r}")

    # An upgrade as the second request: the tunnel goes raw after it.
    deadline = time.monotonic() + 15
    stream = seed.dial(server.addr, seed.client_tls_context(t.pki.ca), server_hostname="localhost")
    try:
        stream.send_all(f"GET /twelve HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_a}\r\n\r\n"
                        f"GET /ws HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_a}\r\nConnection: Upgrade\r\n"
                        f"Upgrade: echo\r\n\r\n".encode(), deadline)
        seen = b""
        while b"101 Switching Protocols" not in seen or not seen.endswith(b"\r\n\r\n"):
            data = stream.recv_some(deadline)
            t.check(data, f"the stream ended before the upgrade: {seen!r}")
            seen += data
        t.check(b"A GET /twelve" in seen, f"the first answer: {seen!r}")
        raw = b"GET /not-a-request HTTP/1.1\r\n\r\n" + os.urandom(1000)
        stream.send_all(raw, deadline)
        echoed = b""
        while len(echoed) < len(raw):
            data = stream.recv_some(deadline)
            t.check(data, "the upgraded stream ended early")
            echoed += data
        t.check(echoed == raw, "the upgraded stream's bytes came back changed")
    finally:
        stream.close()

    # A later request whose body cannot be framed ends the connection with 400.
    answer = exchange(t, server, (f"GET /thirteen HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_a}\r\n\r\n"
                                  f"POST /fourteen HTTP/1.1\r\nHost: h\r\nAuthorization: {auth_a}\r\n"
                                  f"Transfer-Encoding: gzip\r\n\r\n").encode())
    t.check(b"A GET /thirteen" in answer and b"HTTP/1.1 400 Bad Request" in answer, f"answers: {answer[:600]!r}")
    t.check("/fourteen" not in web_a.paths(), "a request with a faulty framing reached A")
    check_clean(t, web_a, web_b)


if __name__ == "__main__":
    h.run(main)
