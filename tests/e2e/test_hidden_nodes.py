#!/usr/bin/env python3
"""rvhidden parks at every node of a multi-node service (issue 12). Three rvservers on 127.0.0.1,
127.0.0.2 and 127.0.0.3 (one secrets file, independent: no Redis, each its own credential key) and
one rvhidden with --server for each and --pool 2:

- every node shows 2 parked (--metrics) and pairs a client itself; the credential node 1 issued is
  refused at the others, which each use a code once and then a credential of their own (the
  servers' "registration refused" lines stay few);
- node 2 killed: nodes 1 and 3 keep their 2 (sampled over 2 s); node 2 restarted on its address
  is filled again;
- node 3 stopped (SIGSTOP: TCP accepted, TLS never answered): a second rvhidden started then
  fills nodes 1 and 2, and tunnels at node 1 one after another each get through (refills);
- --server-addresses all with a name on 127.0.0.1 and ::1: two rvservers, one on each, both get
  a pool; one rvserver listening on both is one node (its node ID), parked at once only; an
  address that leaves the name is drained, and one that comes back is parked at again.
The name is localhost when it resolves to both families here, else a private /etc/hosts in a
mount namespace of rvhidden's own (unshare -m); that part skips when neither is possible."""
import os
import re
import signal
import socket
import subprocess
import time

import harness as h

POOL = 2


def start_node(t, secrets, listens, node_id, cert, key):
    """An rvserver listening on each of `listens` with --metrics and --node-id; .addrs are the
    addresses it printed, .metrics its metrics address."""
    argv = [t.bin("rvserver"), "--cert", cert, "--key", key, "--secrets", secrets, "--log-level", "info",
            "--metrics", "127.0.0.1:0", "--node-id", node_id, "--grace", "5", *t.generous_limits()]
    for address in listens:
        argv += ["--listen", address]
    p = t.spawn(f"rvserver-{node_id}", argv)
    p.addrs = [p.wait_stdout(r"listening (\S+)\r?\n", timeout=10, count=i + 1).group(1) for i in range(len(listens))]
    p.metrics = p.wait_stdout(r"metrics (\S+)\r?\n", timeout=10).group(1)
    return p


def parked(node, uuid):
    return int(h.scrape_metrics(node.metrics).get(f'rv_parked_connections{{uuid="{uuid}"}}', 0))


def wait_parked(t, node, uuid, want, timeout=10.0, what=""):
    deadline = time.monotonic() + timeout
    while True:
        n = parked(node, uuid)
        if n == want:
            return
        if time.monotonic() > deadline:
            raise h.Failure(f"{node.name}: {n} parked for {what or uuid}, not {want}, after {timeout} s")
        time.sleep(0.1)


def steady(t, nodes, uuid, want, seconds=2.0, samples=6, blips=False):
    """The parked count of each node is `want` at every sample over `seconds`. blips: a sample
    one over may be rvhidden checking a second address of the node again (it registers, sees
    the node ID, withdraws within milliseconds): read again 0.2 s later, it must be `want`."""
    for _ in range(samples):
        for node in nodes:
            n = parked(node, uuid)
            if blips and n == want + 1:
                time.sleep(0.2)
                n = parked(node, uuid)
            t.check(n == want, f"{node.name}: {n} parked for {uuid}, not {want} (it should not move)")
        time.sleep(seconds / samples)


def tunnel(t, server, uuid, text):
    r = t.rvconnect(server, uuid, input=text.encode(), timeout=20)
    t.expect_rc(r, 0, f"rvconnect at {server}")
    t.check(r.out == text.encode(), f"rvconnect at {server}: echoed {r.out!r}, not {text!r}")


def hidden(t, servers, uuid, secrets, forward, extra=(), prefix=()):
    argv = [*prefix, t.bin("rvhidden"), "--uuid", uuid, "--secrets", secrets, "--forward", forward,
            "--pool", str(POOL), "--log-level", "info", "--max-backoff", "1", "--connect-timeout", "2",
            *t.trust_args(), *extra]
    for s in servers:
        argv += ["--server", s]
    return t.spawn("rvhidden", argv)


def refused(nodes):
    return sum(n.count_stderr(r"registration refused") for n in nodes)


def three_nodes(t, uuid, uuid2, secrets, echo, cert, key):
    nodes = [start_node(t, secrets, [f"127.0.0.{i}:0"], f"n{i}", cert, key) for i in (1, 2, 3)]
    addrs = [n.addrs[0] for n in nodes]
    rvh = hidden(t, addrs, uuid, secrets, echo.addr)
    for n in nodes:
        wait_parked(t, n, uuid, POOL)
    for i, (n, a) in enumerate(zip(nodes, addrs)):
        tunnel(t, a, uuid, f"hello node {i + 1}\n")
    for n in nodes:
        wait_parked(t, n, uuid, POOL)
    # Node 1's credential is no good at the others (independent keys): each took a code once.
    t.check(rvh.count_stderr(r"refused the pool credential another node issued") >= 1,
            "no node refused another's credential: were the keys shared?")
    t.check(refused(nodes) <= 2 * len(nodes), f"{refused(nodes)} registrations refused: a 401 loop")
    t.log(f"3 nodes x {POOL} parked; {refused(nodes)} registration(s) refused on the way")

    # Node 2 dies: the others do not move; back on its address, it is filled again.
    os.kill(nodes[1].pid, signal.SIGKILL)
    nodes[1].wait_exit(5)
    steady(t, [nodes[0], nodes[2]], uuid, POOL)
    rvh.wait_stderr(r"cannot connect to " + re.escape(addrs[1]), timeout=5)
    nodes[1] = start_node(t, secrets, [addrs[1]], "n2", cert, key)
    wait_parked(t, nodes[1], uuid, POOL, timeout=10, what="after node 2's restart")
    t.check(refused(nodes) <= 2 * len(nodes), f"{refused(nodes)} registrations refused after the restart")

    # Node 3 goes silent. A second rvhidden started now dials it in vain, and fills the others.
    os.kill(nodes[2].pid, signal.SIGSTOP)
    t.on_cleanup(lambda: os.kill(nodes[2].pid, signal.SIGCONT))
    started = time.monotonic()
    rvh2 = hidden(t, addrs, uuid2, secrets, echo.addr)
    for n in nodes[:2]:
        wait_parked(t, n, uuid2, POOL, timeout=10, what="the second rvhidden while node 3 is stopped")
    t.log(f"second rvhidden parked at nodes 1 and 2 in {time.monotonic() - started:.1f} s, node 3 stopped")
    for u in (uuid, uuid2):
        for i in range(3):  # one after another: the third needs a refill
            tunnel(t, addrs[0], u, f"{u} tunnel {i} at node 1\n")
        wait_parked(t, nodes[0], u, POOL, timeout=10, what="refills at node 1")
    wait_parked(t, nodes[1], uuid2, POOL)
    rvh2.wait_stderr(r"TLS handshake with " + re.escape(addrs[2]) + " timed out", timeout=10)
    os.kill(nodes[2].pid, signal.SIGCONT)
    wait_parked(t, nodes[2], uuid2, POOL, timeout=15, what="the second rvhidden once node 3 is back")
    wait_parked(t, nodes[2], uuid, POOL)
    t.check(rvh.running() and rvh2.running(), "an rvhidden exited")
    for n in nodes:
        n.kill()
    rvh.kill()
    rvh2.kill()


def two_family_name(t):
    """(name, argv prefix for rvhidden) where the name resolves to 127.0.0.1 and ::1, with a hosts
    file the test may rewrite (None when the name is the system's), or skips."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        raise h.Skipped("no ::1 here") from None
    families = {a[0] for a in socket.getaddrinfo("localhost", 1, type=socket.SOCK_STREAM)}
    hosts = t.write_file("hosts", "127.0.0.1 localhost\n::1 localhost\n", 0o644)
    if os.geteuid() == 0 and h.shutil.which("unshare"):
        prefix = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts]
        r = subprocess.run([*prefix, "getent", "ahosts", "localhost"], capture_output=True, timeout=10)
        if r.returncode == 0 and b"::1" in r.stdout and b"127.0.0.1" in r.stdout:
            return hosts, prefix
    if families == {socket.AF_INET, socket.AF_INET6}:
        return None, []
    raise h.Skipped("localhost is not on both 127.0.0.1 and ::1, and no private hosts file (unshare -m)")


def two_families(t, uuid3, uuid4, secrets, echo, cert, key):
    hosts, prefix = two_family_name(t)
    # Two rvservers on one port, one per family: two nodes behind one name.
    for attempt in range(5):
        v4 = start_node(t, secrets, ["127.0.0.1:0"], "v4", cert, key)
        port = v4.addrs[0].rsplit(":", 1)[1]
        try:
            v6 = start_node(t, secrets, [f"[::1]:{port}"], "v6", cert, key)
            break
        except h.Failure:
            v4.kill()
            if attempt == 4:
                raise
    name = f"localhost:{port}"
    rvh = hidden(t, [name], uuid3, secrets, echo.addr, prefix=prefix,
                 extra=["--server-addresses", "all", "--resolve-interval", "1"])
    wait_parked(t, v4, uuid3, POOL)
    wait_parked(t, v6, uuid3, POOL)
    tunnel(t, f"[::1]:{port}", uuid3, "through ::1\n")
    tunnel(t, f"127.0.0.1:{port}", uuid3, "through 127.0.0.1\n")
    if hosts:
        # ::1 leaves the name: drained (its parked connections stay until used), and back.
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n")
        rvh.wait_stderr(r"\[::1\]:" + port + r" is no longer among the addresses", timeout=5)
        tunnel(t, f"[::1]:{port}", uuid3, "a drained node's parked connection\n")
        wait_parked(t, v4, uuid3, POOL)
        steady(t, [v6], uuid3, POOL - 1, seconds=1.5, samples=3)  # no refill at a drained address
        with open(hosts, "w") as f:
            f.write("127.0.0.1 localhost\n::1 localhost\n")
        rvh.wait_stderr(r"parking at \[::1\]:" + port, timeout=5, count=2)
        wait_parked(t, v6, uuid3, POOL, what="the address back in the name")
        steady(t, [v4, v6], uuid3, POOL, seconds=1.5, samples=3)
        t.log("an address that left the name was drained, and parked at again when it came back")
    rvh.kill()
    v4.kill()
    v6.kill()

    # One rvserver on both addresses: one node ID, one pool.
    for attempt in range(5):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        try:
            both = start_node(t, secrets, [f"127.0.0.1:{port}", f"[::1]:{port}"], "both", cert, key)
            break
        except h.Failure:
            if attempt == 4:
                raise
    rvh = hidden(t, [f"localhost:{port}"], uuid4, secrets, echo.addr, prefix=prefix,
                 extra=["--server-addresses", "all", "--resolve-interval", "1"])
    wait_parked(t, both, uuid4, POOL)
    rvh.wait_stderr(r"is node both, where this service parks already through", timeout=10)
    wait_parked(t, both, uuid4, POOL, what="once the second address withdrew")
    # Re-checked every second: the second address still adds nothing.
    steady(t, [both], uuid4, POOL, seconds=2.5, samples=6, blips=True)
    rechecks = both.count_stderr(r"uuid=" + re.escape(uuid4) + r" parked \(") - POOL
    t.check(rechecks >= 2, f"the second address was checked again {rechecks} times in 2.5 s, --resolve-interval 1")
    t.check(rvh.count_stderr(r"info: uuid=\S+ the server at \S+ is node both") == 1,
            "the second address of one node was reported more than once at info")
    tunnel(t, f"[::1]:{port}", uuid4, "one node, either address\n")
    tunnel(t, f"127.0.0.1:{port}", uuid4, "one node, the other address\n")
    t.log(f"one rvserver on two addresses: {POOL} parked, not {2 * POOL}")


def main(t):
    ids = [t.identity() for _ in range(4)]
    secrets = t.secrets_file(ids)
    (uuid, _), (uuid2, _), (uuid3, _), (uuid4, _) = ids
    echo = t.service(h.echo_handler, "echo")
    cert, key = t.pki.make_leaf("nodes", t.pki.ca, t.pki.ca_key,
                                san="DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3,IP:::1")
    three_nodes(t, uuid, uuid2, secrets, echo, cert, key)
    two_families(t, uuid3, uuid4, secrets, echo, cert, key)


if __name__ == "__main__":
    h.run(main, timeout=90)
