#!/usr/bin/env python3
"""Secrets stay out of logs (README, Logs). With every program at --log-level debug, a tunnel, a
registration with the right secret and one with a wrong one: neither secret (base32) nor any
TOTP token of the steps around now appears in what rvserver, rvhidden or rvconnect wrote. Nor can
a crash write them to a core file: the programs holding secrets run with RLIMIT_CORE 0 (SECURITY.md)."""
import re
import time

import harness as h
import seed_peers as seed


def tokens_around_now(key):
    now = time.time()
    return {seed.totp(key, now + 30 * k) for k in range(-3, 4)}


def core_limit(pid):
    """The soft and hard 'Max core file size' of process `pid`, as /proc/PID/limits shows them."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max core file size"):
                return line.split()[4:6]
    raise h.Failure(f"no core limit in /proc/{pid}/limits")


def main(t):
    uuid, key = t.identity()
    _, wrong_key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    wrong_secrets = t.secrets_file([(uuid, wrong_key)], name="wrong-secrets")
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, log_level="debug")
    hidden = t.rvhidden(server.addr, uuid, secrets, echo.addr, log_level="debug")
    impostor = t.rvhidden(server.addr, uuid, wrong_secrets, echo.addr, log_level="debug", wait_parked=0)
    impostor.wait_stderr(r"\(401\)", timeout=10)
    server.wait_stderr(r"registration refused \(401\)", timeout=10)

    for name, p in (("rvserver", server), ("rvhidden", hidden)):
        t.check(core_limit(p.pid) == ["0", "0"], f"{name} may write a core file: {core_limit(p.pid)}")

    r = t.rvconnect(server.addr, uuid, input=b"secret-free\n", extra=["--log-level", "debug"])
    t.expect_rc(r, 0)
    t.check(r.out == b"secret-free\n", f"echo: {r.out!r}")

    logs = {"rvserver": server.stderr_text(), "rvhidden": hidden.stderr_text(),
            "rvhidden (wrong secret)": impostor.stderr_text(), "rvconnect": r.err_text}
    t.check(all(logs.values()), "a program logged nothing at debug level")
    secrets_b32 = [h.b32(key), h.b32(wrong_key)]
    tokens = tokens_around_now(key) | tokens_around_now(wrong_key)
    for name, text in logs.items():
        for s in secrets_b32:
            t.check(s not in text and s.lower() not in text, f"{name} logged a secret")
        for token in tokens:
            t.check(not re.search(r"(?<!\d)" + token + r"(?!\d)", text), f"{name} logged a TOTP token")


if __name__ == "__main__":
    h.run(main)
