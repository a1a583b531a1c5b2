#!/usr/bin/env python3
"""A server's numbers are not trusted to fit a clock. A scripted rendezvous server answers
rvhidden's registrations with a pool credential whose Rendezvous-Pool-Max-Age is absurd:
9223372036854775807 (the largest int64: added to steady_clock::now() unclamped it overflows, UB)
and then 99999999999999999999 (beyond any integer type), closing each parked connection at once so
that rvhidden registers again. rvhidden must take each as "a long time" (it clamps Max-Age to a
day) and present that credential on its next registration instead of a TOTP code, keep running,
and (under scripts/test --sanitize) draw no UBSan report."""
import re
import time

import harness as h
import seed_peers as seed

MAX_AGES = ["9223372036854775807", "99999999999999999999"]


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")

    def answer(n, head, stream):
        deadline = time.monotonic() + 5
        fields = "Rendezvous-Notify: 1\r\n"
        if n < len(MAX_AGES):
            fields += f"Rendezvous-Pool-Credential: cred-{n}\r\nRendezvous-Pool-Max-Age: {MAX_AGES[n]}\r\n"
        stream.send_all(f"HTTP/1.1 200 OK\r\n{fields}\r\n".encode(), deadline)
        if n < len(MAX_AGES):
            stream.shutdown_write()  # closed while parked: rvhidden registers again
            stream.flush_blocking(deadline)

    server = seed.ScriptedRendezvousServer(t.pki.cert, t.pki.key, answer).start()
    t.on_cleanup(server.stop)
    hidden = t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=1, wait_parked=0)
    try:
        heads = server.wait_heads(len(MAX_AGES) + 1, timeout=10)
    except TimeoutError as e:
        raise h.Failure(f"rvhidden stopped registering: {e}") from None
    t.check(re.search(r"\?response=\d+ ", heads[0]), f"the first registration carries no code: {heads[0]!r}")
    for n, max_age in enumerate(MAX_AGES):
        again = heads[n + 1]
        presented = seed.header_value(again, "Rendezvous-Pool-Credential")
        t.log(f"after Max-Age {max_age}: registration {n + 2} presents credential {presented!r}"
              f"{' and a code' if '?response=' in again else ''}")
        t.check(presented == f"cred-{n}", f"after a credential with Max-Age {max_age}, the next registration "
                                          f"presents {presented!r}, not cred-{n}: {again!r}")
        t.check("?response=" not in again, f"a registration with a credential also sent a code: {again!r}")
    hidden.wait_stderr(r"parked uuid=", timeout=10, count=len(MAX_AGES) + 1)
    t.check(hidden.running(), "rvhidden exited")


if __name__ == "__main__":
    h.run(main)
