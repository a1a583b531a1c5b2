#!/usr/bin/env python3
"""SIGHUP and --metrics, as an operator uses them: two hidden machines, A and B. While a client's
tunnel to B is open, A's secret is rotated and rvserver gets SIGHUP: A's parked connections close
and its old secret is refused (401), B's open tunnel keeps working, and A with the new secret
parks again. Then B is removed: its parked connections close, its open tunnel still works. The
Prometheus endpoint, scraped with curl, shows each step."""
import os
import re
import signal
import time

import harness as h
import seed_peers as seed


def scrape(t, addr):
    r = t.run("curl", ["curl", "-sS", "--max-time", "10", f"http://{addr}/metrics"])
    t.expect_rc(r, 0, "curl /metrics")
    values = {}
    for line in r.out.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def replace_file(path, text):
    """Atomically, as an editor or `rvserver secrets` would."""
    tmp = path + ".new"
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    os.rename(tmp, path)


def line(uuid, key):
    return f"{uuid} {h.b32(key)}\n"


def main(t):
    t.require("curl")
    (a, key_a), (b, key_b) = t.identity(), t.identity()
    server_secrets = t.secrets_file([(a, key_a), (b, key_b)], name="server-secrets")
    secrets_a = t.secrets_file([(a, key_a)], name="a-secrets")
    secrets_b = t.secrets_file([(b, key_b)], name="b-secrets")
    echo = t.service(h.echo_handler, "echo")

    server = t.rvserver(server_secrets, extra=["--metrics", "127.0.0.1:0"])
    metrics = server.wait_stdout(r"metrics (127\.0\.0\.1:\d+)\r?\n").group(1)
    hidden_a = t.rvhidden(server.addr, a, secrets_a, echo.addr, pool=2, wait_parked=2)
    t.rvhidden(server.addr, b, secrets_b, echo.addr, pool=2, wait_parked=2)

    m = scrape(t, metrics)
    t.check(m.get(f'rv_parked_connections{{uuid="{a}"}}') == 2, f"A parked: {m}")
    t.check(m.get(f'rv_parked_connections{{uuid="{b}"}}') == 2, f"B parked: {m}")
    t.check(m["rv_tunnels_open"] == 0, f"tunnels open: {m['rv_tunnels_open']}")

    # A client's tunnel to B, held open across both reloads.
    status, _, tunnel = seed.open_client(server.addr, b, t.pki.ca)
    t.check(status == 200, f"CONNECT to B: {status}")
    deadline = time.monotonic() + 10
    tunnel.send_all(b"before\n", deadline)
    t.check(tunnel.recv_some(deadline) == b"before\n", "echo through B before the reload")
    m = scrape(t, metrics)
    t.check(m["rv_tunnels_open"] == 1 and m["rv_pairings_total"] == 1, f"one tunnel: {m}")
    t.check(m['rv_tunnel_bytes_total{direction="up"}'] >= 7, f"bytes up: {m}")

    # Rotate A.
    new_key_a = h.new_key()
    replace_file(server_secrets, line(a, new_key_a) + line(b, key_b))
    os.kill(server.pid, signal.SIGHUP)
    server.wait_stderr(r"uuid=" + re.escape(a) + r" rotated: closed 2 parked connections", timeout=5)
    hidden_a.wait_stderr(r"\(401\)", timeout=10)  # the old secret no longer registers
    tunnel.send_all(b"during\n", deadline)
    t.check(tunnel.recv_some(deadline) == b"during\n", "B's tunnel after A's rotation")

    new_secrets_a = t.secrets_file([(a, new_key_a)], name="a-secrets-new")
    t.rvhidden(server.addr, a, new_secrets_a, echo.addr, pool=1, wait_parked=1)
    r = t.rvconnect(server.addr, a, input=b"A again\n")
    t.expect_rc(r, 0, "rvconnect to A with its new secret")
    t.check(r.out == b"A again\n", f"echo through A: {r.out!r}")

    # Remove B: parked connections go, the open tunnel stays.
    replace_file(server_secrets, line(a, new_key_a))
    os.kill(server.pid, signal.SIGHUP)
    server.wait_stderr(r"uuid=" + re.escape(b) + r" removed: closed \d+ parked connections", timeout=5)
    deadline = time.monotonic() + 10
    tunnel.send_all(b"after\n", deadline)
    t.check(tunnel.recv_some(deadline) == b"after\n", "B's tunnel after B's removal")
    tunnel.close()

    m = scrape(t, metrics)
    t.check(f'rv_parked_connections{{uuid="{b}"}}' not in m, f"B still parked: {m}")
    t.check(m['rv_error_answers_total{status="401"}'] >= 1, f"401s: {m}")
    t.check(m["rv_pairings_total"] >= 2, f"pairings: {m}")
    t.check(m["rv_pairing_latency_seconds_count"] == m["rv_pairings_total"], f"latency count: {m}")

    # A broken secrets file is refused on reload; the server keeps serving.
    replace_file(server_secrets, "this is not a secrets line\n")
    os.kill(server.pid, signal.SIGHUP)
    server.wait_stderr(r"reload failed, still running with the previous configuration", timeout=5)
    r = t.rvconnect(server.addr, a, input=b"still here\n")
    t.expect_rc(r, 0, "rvconnect after a failed reload")


if __name__ == "__main__":
    h.run(main)
