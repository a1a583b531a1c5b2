#!/usr/bin/env python3
"""rvconnect fails over across the nodes of one service (issue 12). Three rvserver nodes on
127.0.0.1, 127.0.0.2 and 127.0.0.3 (one port), one rvhidden parked at each with the same UUID:
- all up: the first --server serves; node 1 silent (SIGSTOP): the tunnel opens at node 2 within
  about --try-timeout, not --connect-timeout; node 1 dead (SIGKILL): at once, and quietly;
- a 404 at node 1 stops there (exit 3) although node 2 has the UUID: it is about the hidden server;
- a 503 from a node moves on, a 429 stops (fake nodes that speak TLS);
- --listen: each local connection fails over, and the second no longer tries the dead node first;
- a name resolving to three addresses (nss_wrapper's hosts file; skipped without libnss_wrapper),
  checked against the name's certificate;
- every address down (refused, silent, closed mid-handshake): exit 1, one line naming each, and
  --connect-timeout bounding all attempts together."""
import glob
import json
import os
import re
import signal
import socket
import ssl
import time

import harness as h

TRY = 2            # --try-timeout for the runs that meet a silent node
CONNECT = 10       # --connect-timeout: what a silent node must not cost
GRACE = 0.5        # rvserver --grace: a 404 comes quickly
NAME = "rv-multi.test"
NODE_HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")
TUNNEL_OPEN = r" hidden=\S+ mode=\S+ tunnel open"


def nss_wrapper():
    """Path of libnss_wrapper.so (cwrap), which lets a process resolve names from a hosts file
    of ours (NSS_WRAPPER_HOSTS): how a test gets a name with several addresses. None if absent."""
    for pattern in ("/usr/lib/*/libnss_wrapper.so", "/usr/lib/libnss_wrapper.so", "/usr/lib64/libnss_wrapper.so",
                    "/usr/local/lib/libnss_wrapper.so"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def start_node(t, host, port, secrets, cert, key):
    argv = [t.bin("rvserver"), "--listen", f"{host}:{port}", "--cert", cert, "--key", key, "--secrets", secrets,
            "--log-level", "info", "--grace", str(GRACE), *t.generous_limits()]
    p = t.spawn(f"rvserver-{host}", argv)
    m = p.wait_stdout(r"listening (" + re.escape(host) + r":(\d+))\r?\n", timeout=10)
    p.addr = m.group(1)
    return p


def start_nodes(t, secrets, cert, key):
    """The three nodes on one port (a name's addresses share it): node 1 picks a free port on
    127.0.0.1, the others take it on their addresses; should one be taken there, all start anew."""
    for attempt in range(3):
        node1 = start_node(t, NODE_HOSTS[0], 0, secrets, cert, key)
        port = int(node1.addr.rsplit(":", 1)[1])
        nodes = [node1]
        try:
            for host in NODE_HOSTS[1:]:
                nodes.append(start_node(t, host, port, secrets, cert, key))
            return nodes
        except h.Failure:
            taken = any("in use" in p.stderr_text() for p in t.procs if p.name.startswith("rvserver"))
            if attempt == 2 or not taken:
                raise
            for n in nodes:
                n.kill()
    raise h.Failure("no port free on all three addresses")


def rvconnect(t, servers, uuid, what, extra=(), env=None, log_level="info", connect_timeout=CONNECT, timeout=25):
    """Runs rvconnect with every server of `servers` as a --server, echoing a payload."""
    argv = [t.bin("rvconnect")]
    for s in servers:
        argv += ["--server", s]
    argv += [*t.trust_args(), "--connect-timeout", str(connect_timeout), "--log-level", log_level, *extra, uuid]
    payload = os.urandom(8192)
    r = t.run(what, argv, input=payload, timeout=timeout, env=env)
    t.log(f"{what}: exit {r.rc} after {r.elapsed:.2f} s")
    return r, payload


def expect_tunnel(t, r, payload, what):
    t.expect_rc(r, 0, what)
    t.check(r.out == payload, f"{what}: sent {len(payload)} bytes, got {len(r.out)} back")


def tunnels(node, uuid):
    return node.count_stderr(r"uuid=" + re.escape(uuid) + TUNNEL_OPEN)


def served(t, node, uuid, before, what):
    """Checks that `node` opened exactly one more tunnel to `uuid` than `before`."""
    node.wait_stderr(r"uuid=" + re.escape(uuid) + TUNNEL_OPEN, timeout=5, count=before + 1)
    now = tunnels(node, uuid)
    t.check(now == before + 1, f"{what}: {node.name} opened {now - before} tunnels, expected one")


def fake_node(t, cert, key, status, diagnostic):
    """A TLS server that answers every request with `status` and an error body, as a node would."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    body = json.dumps({"error": {"permanent": False, "diagnostic": diagnostic}}).encode()
    answer = (f"HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body

    heads = []

    def handler(conn):
        with ctx.wrap_socket(conn, server_side=True) as tls:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 8192:
                data = tls.recv(4096)
                if not data:
                    return
                head += data
            heads.append(head.decode("latin-1"))
            tls.sendall(answer)
    service = t.service(handler, f"fake-{status}")
    service.heads = heads
    return service


def silent_listener(t):
    """Accepts TCP (the kernel does) and never speaks: a stopped node, as a client sees it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    t.on_cleanup(s.close)
    return f"127.0.0.1:{s.getsockname()[1]}"


def main(t):
    uuid, key = t.identity()
    uuid2, key2 = t.identity()  # parked at node 2 only: node 1 answers 404 for it
    secrets = t.secrets_file([(uuid, key), (uuid2, key2)])
    cert, cert_key = t.pki.make_leaf("nodes", t.pki.ca, t.pki.ca_key,
                                     san=f"DNS:localhost,DNS:{NAME}," + ",".join(f"IP:{a}" for a in NODE_HOSTS))
    echo = t.service(h.echo_handler, "echo")
    echo2 = t.service(h.echo_handler, "echo-uuid2")

    nodes = start_nodes(t, secrets, cert, cert_key)
    node1 = nodes[0]
    port = int(node1.addr.rsplit(":", 1)[1])
    servers = [n.addr for n in nodes]
    for n in nodes:
        t.rvhidden(n.addr, uuid, secrets, echo.addr, pool=2, wait_parked=2)
    t.rvhidden(nodes[1].addr, uuid2, secrets, echo2.addr, pool=1, wait_parked=1)

    # 1. All up: the first --server opens the tunnel, nothing skipped.
    r, payload = rvconnect(t, servers, uuid, "all nodes up")
    expect_tunnel(t, r, payload, "all nodes up")
    served(t, node1, uuid, 0, "all nodes up")
    t.check("no tunnel at" not in r.err_text, f"all nodes up: an address was skipped: {r.err_text!r}")

    # 2. Node 1 silent: TCP is accepted, no TLS handshake ever comes. Node 2 serves within about
    #    --try-timeout, far from --connect-timeout.
    before = tunnels(nodes[1], uuid)
    os.kill(node1.pid, signal.SIGSTOP)
    t.on_cleanup(lambda: os.kill(node1.pid, signal.SIGCONT) if node1.running() else None)
    try:
        r, payload = rvconnect(t, servers, uuid, "node 1 stopped", extra=("--try-timeout", str(TRY)))
    finally:
        os.kill(node1.pid, signal.SIGCONT)
    expect_tunnel(t, r, payload, "node 1 stopped")
    # The upper bound only has to tell --try-timeout from --connect-timeout: a loaded machine and
    # a sanitizer build may add seconds of start-up.
    t.check(TRY - 0.3 <= r.elapsed < CONNECT - 1,
            f"node 1 stopped: {r.elapsed:.2f} s to open and relay, expected about --try-timeout {TRY} s "
            f"(not --connect-timeout {CONNECT} s)")
    t.check(re.search(r"no tunnel at " + re.escape(servers[0]) + rf": no TLS (connection|handshake) within {TRY} s",
                      r.err_text), f"node 1 stopped: the skipped address is not logged: {r.err_text!r}")
    served(t, nodes[1], uuid, before, "node 1 stopped")

    # 3. A 404 at node 1 is about the hidden server: rvconnect stops there (exit 3) and does not
    #    ask node 2, where uuid2 is parked.
    r, _ = rvconnect(t, servers[:2], uuid2, "404 at node 1")
    t.expect_rc(r, 3, "404 at node 1")
    t.check("(404" in r.err_text and f"at {servers[0]}" in r.err_text, f"404 at node 1: message: {r.err_text!r}")
    t.check("no tunnel at" not in r.err_text, f"404 at node 1: went on after the 404: {r.err_text!r}")
    t.check(r.elapsed < GRACE + 6, f"404 at node 1: took {r.elapsed:.2f} s")
    t.check(echo2.accepted == 0 and nodes[1].count_stderr(r"uuid=" + re.escape(uuid2) + TUNNEL_OPEN) == 0,
            "404 at node 1: node 2 opened a tunnel to uuid2 all the same")

    # 4. A node that answers 503 (cannot serve now) is skipped; one that answers 429 is not.
    busy = fake_node(t, cert, cert_key, 503, "this node is draining")
    before = tunnels(nodes[1], uuid)
    # --server-name: the certificate is checked against it, and Host names it, not the address.
    r, payload = rvconnect(t, [busy.addr, servers[1]], uuid, "503 then node 2", extra=("--server-name", "localhost"))
    expect_tunnel(t, r, payload, "503 then node 2")
    busy_port = busy.addr.rsplit(":", 1)[1]
    t.check(len(busy.heads) == 1 and re.search(rf"\r\nHost: localhost:{busy_port}\r\n", busy.heads[0]),
            f"503 then node 2: the request's Host does not name the server: {busy.heads!r}")
    t.check(re.search(r"no tunnel at " + re.escape(busy.addr) + r": 503: this node is draining", r.err_text),
            f"503 then node 2: the 503 is not logged as skipped: {r.err_text!r}")
    served(t, nodes[1], uuid, before, "503 then node 2")
    slow_down = fake_node(t, cert, cert_key, 429, "too many tunnels from this address")
    r, _ = rvconnect(t, [slow_down.addr, servers[1]], uuid, "429 then node 2")
    t.expect_rc(r, 5, "429 then node 2")
    t.check("(429: too many tunnels" in r.err_text, f"429: message: {r.err_text!r}")
    t.check(tunnels(nodes[1], uuid) == before + 1, "429 then node 2: node 2 was asked after the 429")

    # 5. Node 1 dead: refused at once, so the tunnel opens quickly; quiet at the default level.
    node1.p.send_signal(signal.SIGKILL)
    node1.wait_exit(5)
    before = tunnels(nodes[1], uuid)
    # A long --try-timeout: a refused connection must cost none of it (had rvconnect waited it
    # out, the run would take longer than it, whatever the machine's load).
    r, payload = rvconnect(t, servers, uuid, "node 1 killed", extra=("--try-timeout", "8"), log_level="warn")
    expect_tunnel(t, r, payload, "node 1 killed")
    t.check(r.elapsed < 8, f"node 1 killed: {r.elapsed:.2f} s to open and relay a tunnel, --try-timeout is 8 s")
    t.check(r.err_text.strip() == "", f"node 1 killed: rvconnect is not quiet at its default level: {r.err_text!r}")
    served(t, nodes[1], uuid, before, "node 1 killed")

    # 6. --listen: each local connection fails over; the second tries the dead node last.
    argv = [t.bin("rvconnect"), "--listen", "127.0.0.1:0", *sum((["--server", s] for s in servers), []),
            *t.trust_args(), "--log-level", "info", uuid]
    listener = t.spawn("rvconnect-listen", argv)
    local_port = int(listener.wait_stdout(r"listening 127\.0\.0\.1:(\d+)\r?\n", timeout=10).group(1))
    for i in range(2):
        data = f"local connection {i}\n".encode()
        with socket.create_connection(("127.0.0.1", local_port), timeout=10) as c:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
            got = h.recv_until_eof(c)
        t.check(got == data, f"--listen connection {i}: echo {got!r}")
    listener.wait_stderr(r"tunnel to " + re.escape(uuid) + " open", count=2, timeout=5)
    skipped = listener.count_stderr(r"no tunnel at " + re.escape(servers[0]))
    t.check(skipped == 1, f"--listen: the dead node was tried {skipped} times in two connections, expected once "
                          f"(then held back): {listener.stderr_text()[-600:]!r}")

    # 7. One name, three addresses (the dead node's first): every address is tried in the
    #    resolver's order, each checked against the name. A name that does not resolve is skipped.
    library = nss_wrapper()
    if library is None:
        t.log("a name with several addresses: skipped (no libnss_wrapper; apt-get install libnss-wrapper)")
    else:
        hosts = t.write_file("hosts", "".join(f"{a} {NAME}\n" for a in NODE_HOSTS), 0o644)
        before = tunnels(nodes[1], uuid)
        # RTLD_DEEPBIND (nss_wrapper's default) and AddressSanitizer do not mix.
        env = dict(os.environ, LD_PRELOAD=library, NSS_WRAPPER_HOSTS=hosts, NSS_WRAPPER_DISABLE_DEEPBIND="1",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
        r, payload = rvconnect(t, [f"rv-nowhere.test:{port}", f"{NAME}:{port}"], uuid, "a name, three addresses",
                               env=env)
        expect_tunnel(t, r, payload, "a name, three addresses")
        t.check(re.search(r"no tunnel at rv-nowhere\.test:\d+: cannot resolve the name", r.err_text),
                f"a name that does not resolve: not logged: {r.err_text!r}")
        t.check(re.search(rf"no tunnel at {re.escape(NAME)}:{port} \(127\.0\.0\.1:{port}\): cannot connect",
                          r.err_text), f"a name, three addresses: the dead first address: {r.err_text!r}")
        served(t, nodes[1], uuid, before, "a name, three addresses")

    # 8. Every address down: refused, silent, closed during the handshake. Exit 1, one line
    #    naming each; and --connect-timeout bounds all attempts together.
    silent = silent_listener(t)
    closer = t.service(lambda conn: None, "closes at once")
    down = [silent, closer.addr, servers[0]]
    r, _ = rvconnect(t, down, uuid, "every address down", extra=("--try-timeout", "1"), log_level="warn")
    t.expect_rc(r, 1, "every address down")
    lines = r.err_text.strip().splitlines()
    t.check(len(lines) == 1, f"every address down: {len(lines)} lines, expected one: {r.err_text!r}")
    line = lines[0] if lines else ""
    for addr, why in ((silent, r"no TLS (connection|handshake) within 1 s"),
                      (closer.addr, r"(the peer closed the connection during the TLS handshake|TLS handshake: )"),
                      (servers[0], r"cannot connect: Connection refused")):
        t.check(re.search(re.escape(addr) + ": " + why, line), f"every address down: {addr} not named with "
                                                               f"/{why}/: {line!r}")
    # Far from the 10 s --connect-timeout a silent address would cost without --try-timeout.
    t.check(r.elapsed < CONNECT - 2, f"every address down: took {r.elapsed:.2f} s")

    r, _ = rvconnect(t, [silent, servers[0]], uuid, "--connect-timeout spent",
                     extra=("--try-timeout", "1"), connect_timeout=1, log_level="warn")
    t.expect_rc(r, 1, "--connect-timeout spent")
    t.check(re.search(r"not tried, --connect-timeout \(1 s\) ran out: " + re.escape(servers[0]), r.err_text),
            f"--connect-timeout spent: the untried address is not named: {r.err_text!r}")
    t.check(r.elapsed < CONNECT - 2, f"--connect-timeout spent: took {r.elapsed:.2f} s")


if __name__ == "__main__":
    h.run(main, timeout=60)
