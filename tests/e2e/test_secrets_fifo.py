#!/usr/bin/env python3
"""Issue 10, B: a FIFO (or anything but a regular file) at a secrets path never hangs a program.
rvserver, serving, gets SIGHUP after its secrets file was replaced by a FIFO: it logs "reload
failed" (not a regular file) and goes on serving (a new rvhidden parks, rvconnect's tunnel
works), and a later SIGHUP with a good file reloads. At start, rvserver, rvhidden, rvconnect
(--client-keys) and `rvserver secrets list|add` refuse a FIFO with exit 2 at once."""
import os
import signal

import harness as h


def main(t):
    uuid, key = t.identity()
    server_secrets = t.secrets_file([(uuid, key)], name="server-secrets")
    hidden_secrets = t.secrets_file([(uuid, key)], name="hidden-secrets")
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(server_secrets)
    t.rvhidden(server.addr, uuid, hidden_secrets, echo.addr, pool=1)
    r = t.rvconnect(server.addr, uuid, input=b"before\n")
    t.expect_rc(r, 0, "rvconnect before the FIFO")
    t.check(r.out == b"before\n", f"before: {r.out!r}")

    # The secrets path becomes a FIFO that nobody writes to.
    os.unlink(server_secrets)
    os.mkfifo(server_secrets, 0o600)
    os.kill(server.pid, signal.SIGHUP)
    server.wait_stderr(r"reload failed, still running with the previous configuration[^\n]*"
                       r"not a regular file", timeout=10)

    # Still serving: a new hidden server registers (a secret check against the kept table) and
    # a client gets a tunnel.
    t.rvhidden(server.addr, uuid, hidden_secrets, echo.addr, pool=1)
    payload = b"after the FIFO\n" * 50
    r = t.rvconnect(server.addr, uuid, input=payload)
    t.expect_rc(r, 0, "rvconnect after a SIGHUP with a FIFO at the secrets path")
    t.check(r.out == payload, f"after: {len(r.out)} bytes back, not {len(payload)}")

    # A good file again: the next SIGHUP reloads.
    os.unlink(server_secrets)
    t.secrets_file([(uuid, key)], name="server-secrets")
    os.kill(server.pid, signal.SIGHUP)
    server.wait_stderr(r"reloaded " + r"[^\n]*server-secrets \(1 UUIDs\)", timeout=10)

    # At start: exit 2, without waiting for a writer.
    fifo = t.path("fifo")
    os.mkfifo(fifo, 0o600)
    runs = {
        "rvserver": [t.bin("rvserver"), "--listen", "127.0.0.1:0", "--cert", t.pki.cert, "--key",
                     t.pki.key, "--secrets", fifo],
        "rvserver --client-keys": [t.bin("rvserver"), "--listen", "127.0.0.1:0", "--cert", t.pki.cert,
                                   "--key", t.pki.key, "--secrets", hidden_secrets,
                                   "--client-keys", fifo],
        "rvhidden": [t.bin("rvhidden"), "--server", "127.0.0.1:9", "--uuid", uuid, "--secrets", fifo,
                     "--forward", "127.0.0.1:9", "--ca-file", t.pki.ca],
        "rvconnect --client-keys": [t.bin("rvconnect"), "--server", "127.0.0.1:9", "--ca-file", t.pki.ca,
                                    "--client-keys", fifo, uuid],
        "rvserver secrets list": [t.bin("rvserver"), "secrets", "list", "--secrets", fifo],
        "rvserver secrets add": [t.bin("rvserver"), "secrets", "add", "--secrets", fifo],
    }
    for name, argv in runs.items():
        r = t.run(name, argv, timeout=10)
        t.expect_rc(r, 2, f"{name} with a FIFO")
        t.check("not a regular file" in r.err_text, f"{name}: {r.err_text!r}")
        t.check(b"listening" not in r.out, f"{name} started with a FIFO")


if __name__ == "__main__":
    h.run(main)
