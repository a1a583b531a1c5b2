#!/usr/bin/env python3
"""What the hidden side writes does not reach the client's terminal raw. A hidden server of our own
(Python, registered at the real rvserver with a TOTP code and `Rendezvous-Notify: 1`) answers the
arrival notice `502 Bad Gateway` with a JSON diagnostic holding DEL, C1 controls (U+009B is CSI to
many terminals), bidi overrides and isolates (U+202E, U+2066), ESC and BEL: raw in the body and as
\\u escapes. rvserver passes that body on to rvconnect as its 502; rvconnect must exit 4
(service_down) and print the diagnostic's harmless text, but none of those characters."""
import threading
import time

import harness as h
import seed_peers as seed

HOSTILE = ["\x7f", "\x1b", "\x07", "\u009b", "\u0085", "\u202e", "\u2066", "\u200f"]
HARMLESS = "sshd is down for maintenance"


def json_body():
    """Raw UTF-8 for each hostile character, then each again as a \\u escape."""
    raw = "".join(c for c in HOSTILE if c not in "\x1b\x07")  # raw C0 would not survive any JSON reader
    escaped = "".join(f"\\u{ord(c):04x}" for c in HOSTILE)
    diagnostic = f"{HARMLESS} {raw}31m {escaped}[2J caf\\u00e9"
    return ('{"error":{"permanent":false,"diagnostic":"' + diagnostic + '"}}').encode()


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    server = t.rvserver(secrets, grace=5)
    hidden = seed.dial(server.addr, seed.client_tls_context(t.pki.ca))
    t.on_cleanup(hidden.close)
    deadline = time.monotonic() + 10
    hidden.send_all(f"CONNECT uuid:{uuid}?response={seed.totp(key)} HTTP/1.1\r\nHost: {server.addr}\r\n"
                    f"Rendezvous-Notify: 1\r\n\r\n".encode(), deadline)
    answer = hidden.read_head(deadline)
    t.check(seed.parse_status(answer) == 200, f"registration: {answer!r}")
    t.check(seed.header_value(answer, "Rendezvous-Notify") == "1", f"no notices offered: {answer!r}")

    body = json_body()
    refusal = (f"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
               f"Connection: close\r\n\r\n").encode() + body

    def refuse_the_notice():
        d = time.monotonic() + 20
        notice = hidden.read_head(d)
        if seed.parse_status(notice) != 200:
            raise h.Failure(f"not an arrival notice: {notice!r}")
        hidden.send_all(refusal, d)
        # As rvhidden does after a refusal; rvserver may have read the answer and closed
        # the connection already (then the half-close finds it gone, which is fine).
        try:
            hidden.shutdown_write()
            hidden.flush_blocking(d)
        except OSError:
            pass

    errors = []
    th = threading.Thread(target=lambda: call_noting(refuse_the_notice, errors), daemon=True)
    th.start()
    r = t.rvconnect(server.addr, uuid, input=b"hello\n", timeout=20)
    th.join(10)
    t.check(not errors, f"the hidden server of the test failed: {errors}")
    t.expect_rc(r, 4, "rvconnect refused by the hidden side (502)")
    err = r.err_text
    t.log(f"rvconnect said: {err.strip()!r}")
    t.check("502" in err and HARMLESS in err, f"rvconnect's message lacks the status or the diagnostic: {err!r}")
    found = [f"U+{ord(c):04X}" for c in HOSTILE if c in err]
    t.check(not found, f"rvconnect printed {', '.join(found)} from the hidden side's diagnostic: {err!r}")
    t.check("café" in err, f"rvconnect lost the printable non-ASCII text of the diagnostic: {err!r}")


def call_noting(fn, errors):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        errors.append(repr(e))


if __name__ == "__main__":
    h.run(main)
