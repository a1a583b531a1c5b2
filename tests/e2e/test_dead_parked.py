#!/usr/bin/env python3
"""Dead parked connections. rvhidden is killed (SIGKILL: no goodbye); its kernel closes the parked
connections, rvserver notices at once and drops them, so a client gets 404 (rvconnect exit 3)
after the grace (--grace 1) instead of being paired with a dead connection or hanging."""
import os
import re
import signal

import harness as h

POOL = 2


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, grace=1)
    hidden = t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=POOL, wait_parked=POOL)
    server.wait_stderr(r"uuid=" + re.escape(uuid) + r" parked \(", count=POOL)

    os.killpg(hidden.pid, signal.SIGKILL)
    t.check(hidden.wait_exit(5) == -signal.SIGKILL, f"rvhidden: exit {hidden.p.returncode}")
    server.wait_stderr(r"uuid=" + re.escape(uuid) + r" parked connection closed by the hidden server",
                       timeout=5, count=POOL)

    r = t.rvconnect(server.addr, uuid, input=b"anyone there?\n", timeout=20)
    t.expect_rc(r, 3, "rvconnect after the hidden server died")
    t.check(r.elapsed < 5, f"rvconnect took {r.elapsed:.1f} s with --grace 1")
    t.check(r.out == b"", f"rvconnect wrote {r.out!r}")
    t.log(f"exit 3 after {r.elapsed:.2f} s: {r.err_text.strip()[:120]}")
    t.check(server.running(), "rvserver exited")


if __name__ == "__main__":
    h.run(main)
