#!/usr/bin/env python3
"""A parked connection's arrival notice that never ends. A scripted rendezvous server
(seed_peers.ScriptedRendezvousServer) answers rvhidden's first registration `200` with
`Rendezvous-Notify: 1`, then sends half a notice head and nothing more. rvhidden (--pool 1,
--connect-timeout 1) must give up on that notice within its deadline and register again: the
server sees a second registration within a few seconds, not never."""
import time

import harness as h
import seed_peers as seed

TIMEOUT = 1  # rvhidden's --connect-timeout: also the deadline of a notice begun
# The deadline, then the backoff after a lost connection (at most ~1 s at first), then a dial,
# handshake and registration: well within this.
AGAIN_WITHIN = 8.0

PARKED = b"HTTP/1.1 200 OK\r\nRendezvous-Notify: 1\r\n\r\n"
HALF_NOTICE = b"HTTP/1.1 200 Rendezvous\r\nRendezvous-Mo"


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")

    def answer(n, head, stream):
        deadline = time.monotonic() + 5
        stream.send_all(PARKED, deadline)
        if n == 0:
            stream.send_all(HALF_NOTICE, deadline)  # and then silence: the stream stays open

    server = seed.ScriptedRendezvousServer(t.pki.cert, t.pki.key, answer).start()
    t.on_cleanup(server.stop)
    hidden = t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=1,
                        extra=["--connect-timeout", str(TIMEOUT)])
    first = server.wait_heads(1)
    t.check(f"CONNECT uuid:{uuid}" in first[0], f"not a registration: {first[0]!r}")
    started = time.monotonic()
    try:
        server.wait_heads(2, timeout=AGAIN_WITHIN)
    except TimeoutError:
        raise h.Failure(f"rvhidden did not register again within {AGAIN_WITHIN} s of a half notice: "
                        f"its slot hangs on the notice") from None
    took = server.heads[1][0] - server.heads[0][0]
    t.log(f"second registration {took:.2f} s after the first (notice deadline {TIMEOUT} s)")
    t.check(took >= TIMEOUT * 0.9, f"rvhidden registered again after {took:.2f} s, before the notice's "
                                   f"deadline of {TIMEOUT} s: it did not wait for the notice")
    hidden.wait_stderr(r"arrival notice .* did not come whole", timeout=5)
    t.check(hidden.running(), "rvhidden exited")
    t.log(f"waited {time.monotonic() - started:.2f} s in all")


if __name__ == "__main__":
    h.run(main)
