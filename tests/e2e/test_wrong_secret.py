#!/usr/bin/env python3
"""Scenario 12: rvhidden with a wrong secret. The server answers 401, rvhidden logs it, and backs
off instead of spinning: a counting TCP relay between rvhidden and rvserver sees only a handful of
registration attempts over ~3 s."""
import socket
import threading
import time

import harness as h


class CountingRelay:
    """Plain TCP relay to `target` (TLS passes through untouched) that counts connections."""

    def __init__(self, t, target):
        self.target = target
        self.times = []
        self.service = t.service(self._relay, "relay")
        self.addr = self.service.addr

    def _relay(self, conn):
        self.times.append(time.monotonic())
        host, port = self.target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as up:
            def copy(src, dst):
                try:
                    while True:
                        data = src.recv(65536)
                        if not data:
                            break
                        dst.sendall(data)
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            th = threading.Thread(target=copy, args=(up, conn), daemon=True)
            th.start()
            copy(conn, up)
            th.join(20)


def main(t):
    uuid, key = t.identity()
    server_secrets = t.secrets_file([(uuid, key)])
    hidden_secrets = t.secrets_file([(uuid, h.new_key())])  # same UUID, another key
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(server_secrets, grace=1)
    relay = CountingRelay(t, server.addr)

    start = time.monotonic()
    hidden = t.rvhidden(relay.addr, uuid, hidden_secrets, echo.addr, wait_parked=0)
    hidden.wait_stderr(r"\(401\)", timeout=10)
    time.sleep(max(0.0, start + 3.0 - time.monotonic()))  # a measuring window, not a wait
    attempts = len(relay.times)
    t.log(f"registration attempts in the first 3 s: {attempts}")
    t.check(attempts <= 12, f"rvhidden spins on 401: {attempts} attempts in 3 s")
    t.check(hidden.count_stderr(r"parked uuid=") == 0, "rvhidden says it parked with a wrong secret")

    # Nobody is registered, so a client gets 404 -> exit 3.
    r = t.rvconnect(server.addr, uuid, input=b"x", extra=())
    t.expect_rc(r, 3, "client while only a wrong-secret hidden server tries")


if __name__ == "__main__":
    h.run(main)
