#!/usr/bin/env python3
"""rvhidden's tunnel cap and descriptor limit. Real rvserver (--metrics), real rvhidden, idle
tunnels held open by Python clients, and rvconnect.

1. --max-tunnels 3, started with its soft RLIMIT_NOFILE lowered to 64: rvhidden raises it to the
   hard limit (/proc/PID/limits). Three idle tunnels open; a fourth client is refused cleanly:
   rvconnect exits 4 (service_down) naming --max-tunnels, an HTTP client gets 503; the pool stays
   parked (rvserver's rv_parked_connections); once one tunnel closes a new client gets through.
2. No --max-tunnels, and a hard limit of 64 descriptors: 40 clients hold idle tunnels. The default
   cap (derived from the limit) refuses the excess before rvhidden runs out of descriptors: no
   EMFILE, the pool stays parked, and once the tunnels close clients are served again.
3. --max-tunnels-per-service 1 from a config file, two services: a second tunnel to one UUID is
   refused while the other UUID still gets its own."""
import base64
import os
import re
import time

import harness as h
import seed_peers as seed

LOW = 64
CLIENTS = 40


def nofile(pid):
    """(soft, hard) from /proc/PID/limits ('unlimited' stays a string)."""
    with open(f"/proc/{pid}/limits") as f:
        line = next(line for line in f if line.startswith("Max open files"))
    soft, hard = line.split()[3:5]
    return (int(soft) if soft.isdigit() else soft), (int(hard) if hard.isdigit() else hard)


def start_rvhidden(t, server, uuid, secrets, forward, pool, extra=(), preexec_fn=None):
    argv = [t.bin("rvhidden"), "--server", server.addr, "--uuid", uuid, "--secrets", secrets,
            "--forward", forward, "--pool", str(pool), "--log-level", "info", *t.trust_args(), *extra]
    p = t.spawn("rvhidden", argv, preexec_fn=preexec_fn)
    p.wait_stderr(r"parked uuid=" + re.escape(uuid), timeout=10, count=pool)
    return p


def wait_parked(t, metrics, uuid, want, timeout=10.0):
    """Waits until rvserver holds `want` parked connections for uuid (bounded by `timeout`)."""
    key = f'rv_parked_connections{{uuid="{uuid}"}}'
    deadline = time.monotonic() + timeout
    n = None
    while time.monotonic() < deadline:  # bounded by the deadline
        n = h.scrape_metrics(metrics).get(key, 0)
        if n == want:
            return
        time.sleep(0.1)
    raise h.Failure(f"rvserver holds {n} parked connections for {uuid}, wanted {want} within {timeout} s")


def open_tunnel(t, server, uuid):
    """A client's CONNECT through rvserver: (status, body or b'', stream)."""
    status, head, stream = seed.open_client(server.addr, uuid, t.pki.ca)
    body = b""
    if status != 200:
        body = stream.read_all(time.monotonic() + 5, limit=64 << 10)
        stream.close()
    return status, body, stream


def http_get(t, server, uuid):
    """GET / with Basic credentials naming uuid: (status, body)."""
    deadline = time.monotonic() + 10
    stream = seed.dial(server.addr, seed.client_tls_context(t.pki.ca))
    auth = base64.b64encode(f"{uuid}:x".encode()).decode()
    stream.send_all(f"GET / HTTP/1.1\r\nHost: {server.addr}\r\nAuthorization: Basic {auth}\r\n"
                    f"Connection: close\r\n\r\n".encode(), deadline)
    head = stream.read_head(deadline)
    body = stream.read_all(deadline, limit=64 << 10)
    stream.close()
    return seed.parse_status(head), body


def echo_works(t, server, uuid, what):
    payload = os.urandom(64 << 10)
    r = t.rvconnect(server.addr, uuid, input=payload, timeout=20)
    t.expect_rc(r, 0, what)
    t.check(r.out == payload, f"{what}: sent {len(payload)} bytes, got {len(r.out)}")


def main(t):
    (uuid, key), (uuid2, key2), (uuid3, key3), (uuid4, key4) = (t.identity() for _ in range(4))
    server_secrets = t.secrets_file([(uuid, key), (uuid2, key2), (uuid3, key3), (uuid4, key4)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(server_secrets, grace=5, extra=[*t.generous_limits(), "--metrics", "127.0.0.1:0"])
    metrics = server.wait_stdout(r"metrics (127\.0\.0\.1:\d+)\r?\n").group(1)

    # 1. --max-tunnels 3, with a soft limit of 64 that rvhidden must raise.
    hidden = start_rvhidden(t, server, uuid, t.secrets_file([(uuid, key)]), echo.addr, pool=2,
                            extra=["--max-tunnels", "3"], preexec_fn=h.nofile_limit(LOW))
    soft, hard = nofile(hidden.pid)
    t.log(f"rvhidden started with a soft limit of {LOW}: now soft {soft}, hard {hard}")
    t.check(soft == hard, f"rvhidden kept its soft descriptor limit {soft} below the hard limit {hard}")
    tunnels = []
    for i in range(3):
        status, body, stream = open_tunnel(t, server, uuid)
        t.check(status == 200, f"idle tunnel {i + 1} of 3: {status} {body!r}")
        tunnels.append(stream)
    r = t.rvconnect(server.addr, uuid, input=b"one too many\n", timeout=20)
    t.log(f"fourth client: exit {r.rc}, {r.err_text.strip()!r}")
    t.expect_rc(r, 4, "rvconnect past --max-tunnels (service_down)")
    t.check("--max-tunnels" in r.err_text, f"rvconnect's message does not name --max-tunnels: {r.err_text!r}")
    status, body = http_get(t, server, uuid)
    t.log(f"an HTTP client past --max-tunnels: {status} {body!r}")
    t.check(status == 503 and b"--max-tunnels" in body, f"HTTP client past --max-tunnels: {status} {body!r}")
    wait_parked(t, metrics, uuid, 2)
    tunnels.pop().close()
    hidden.wait_stderr(r"tunnel=\d+ closed", timeout=10)
    echo_works(t, server, uuid, "a client after one tunnel closed")
    for s in tunnels:
        s.close()

    # 2. A hard limit of 64 and the default cap.
    hidden2 = start_rvhidden(t, server, uuid2, t.secrets_file([(uuid2, key2)]), echo.addr, pool=2,
                             preexec_fn=h.nofile_limit(LOW, hard=LOW))
    t.check(nofile(hidden2.pid) == (LOW, LOW), f"rvhidden's limits: {nofile(hidden2.pid)}")
    statuses = {}
    held = []
    for i in range(CLIENTS):
        status, body, stream = open_tunnel(t, server, uuid2)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            held.append(stream)
        else:
            t.check(status == 502 and b"--max-tunnels" in body,
                    f"client {i + 1} of {CLIENTS}: {status} {body!r}, not a refusal naming --max-tunnels")
    fds = h.fd_count(hidden2.pid)
    t.log(f"{CLIENTS} clients against a limit of {LOW}: {statuses}; rvhidden holds {fds} descriptors")
    t.check(0 < statuses.get(200, 0) < CLIENTS, f"tunnels opened: {statuses}")
    t.check("Too many open files" not in hidden2.stderr_text(), "rvhidden ran out of descriptors (EMFILE)")
    wait_parked(t, metrics, uuid2, 2)
    for s in held:
        s.close()
    hidden2.wait_stderr(r"tunnel=\d+ closed", timeout=10, count=len(held))
    echo_works(t, server, uuid2, "a client after the tunnels closed")
    wait_parked(t, metrics, uuid2, 2)
    t.check("Too many open files" not in hidden2.stderr_text(), "rvhidden ran out of descriptors (EMFILE)")

    # 3. A cap per service, from a config file.
    conf = t.write_file("rvhidden.conf", f"max-tunnels-per-service = 1\nservice = {uuid3} {echo.addr}\n"
                                         f"service = {uuid4} {echo.addr}\n")
    hidden3 = t.spawn("rvhidden", [t.bin("rvhidden"), "--server", server.addr, "--config", conf, "--pool", "1",
                                   "--secrets", t.secrets_file([(uuid3, key3), (uuid4, key4)]),
                                   "--log-level", "info", *t.trust_args()])
    hidden3.wait_stderr(r"parked uuid=", timeout=10, count=2)
    status, body, first = open_tunnel(t, server, uuid3)
    t.check(status == 200, f"the first tunnel to {uuid3}: {status} {body!r}")
    status, body, _ = open_tunnel(t, server, uuid3)
    t.log(f"a second tunnel to the same UUID: {status} {body!r}")
    t.check(status == 502 and b"--max-tunnels-per-service" in body,
            f"a second tunnel to {uuid3} past --max-tunnels-per-service 1: {status} {body!r}")
    status, body, other = open_tunnel(t, server, uuid4)
    t.check(status == 200, f"the other UUID's tunnel: {status} {body!r}")
    first.close()
    other.close()
    t.check(hidden.running() and hidden2.running() and hidden3.running(), "rvhidden exited")


if __name__ == "__main__":
    h.run(main)
