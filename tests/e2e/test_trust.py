#!/usr/bin/env python3
"""Scenario 11: trust in the rendezvous server's certificate. --pin with a self-signed certificate
works; a wrong pin, a CA that did not sign it, no --ca-file (system store only) and a --server-name
the certificate does not name (an IPv6 literal with a zone id too) all fail with exit 1 and a message
that says which check failed: the chain, the name (naming the one asked for) or the pin (giving the
server's actual pin); an empty --server-name is refused at once (exit 2)."""
import os
import re

import harness as h

# What each failed check must say; a message must match its own kind and no other.
KINDS = {
    "chain": r"certificate verify failed: (unable to get local issuer|self[- ]signed|certificate signature|"
             r"unable to verify|certificate chain)",
    "name": r"certificate verify failed: (hostname|IP address) mismatch",
    "pin": r"public key does not match --pin \(its pin is (sha256//[A-Za-z0-9+/=]+)\)",
}


def expect_trust_failure(t, r, what, kind):
    t.expect_rc(r, 1, what)
    said = [k for k, rx in KINDS.items() if re.search(rx, r.err_text)]
    t.check(said == [kind], f"{what}: expected a message about the {kind}, it names {said or 'nothing'}: "
                            f"{r.err_text.strip()!r}")
    t.log(f"{what}: exit 1: {r.err_text.strip().splitlines()[-1][:160]}")
    return re.search(KINDS[kind], r.err_text)


def main(t):
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    echo = t.service(h.echo_handler, "echo")

    # A server with a CA-signed certificate (CN/SAN localhost, IP 127.0.0.1).
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, uuid, secrets, echo.addr, server_name="localhost")
    r = t.rvconnect(server.addr, uuid, input=b"by name\n", server_name="localhost")
    t.expect_rc(r, 0, "--ca-file with --server-name localhost")
    t.check(r.out == b"by name\n", f"echo {r.out!r}")
    expect_trust_failure(t, t.rvconnect(server.addr, uuid, input=b"x", ca=""), "no --ca-file (system store)",
                         "chain")
    expect_trust_failure(t, t.rvconnect(server.addr, uuid, input=b"x", ca=t.pki.other_ca()),
                         "--ca-file of another CA", "chain")
    r = t.rvconnect(server.addr, uuid, input=b"x", server_name="wrong.example")
    expect_trust_failure(t, r, "--server-name wrong.example", "name")
    t.check("wrong.example" in r.err_text, f"the name mismatch does not say which name was asked: {r.err_text!r}")
    # Names that would leave nothing to check the certificate against (before the fix both tunneled).
    r = t.rvconnect(server.addr, uuid, input=b"x", extra=("--server-name", ""))
    t.expect_rc(r, 2, "--server-name ''")
    t.check("--server-name must not be empty" in r.err_text, f"message: {r.err_text!r}")
    r = t.rvconnect(server.addr, uuid, input=b"x", server_name="fe80::1%lo")
    expect_trust_failure(t, r, "--server-name fe80::1%lo (a zone id)", "name")

    # A server with a self-signed certificate, trusted by its pin.
    cert, key_file = t.pki.self_signed()
    pin = t.pki.pin(cert)
    pinned = t.rvserver(secrets, cert=cert, key=key_file)
    t.rvhidden(pinned.addr, uuid, secrets, echo.addr, ca="", pin=pin)
    payload = os.urandom(100_000)
    r = t.rvconnect(pinned.addr, uuid, input=payload, ca="", pin=pin)
    t.expect_rc(r, 0, "--pin of the self-signed certificate")
    t.check(r.out == payload, f"pinned echo: {len(r.out)} bytes of {len(payload)}")

    wrong_pin = t.pki.pin(t.pki.cert)  # a real pin, of another key
    m = expect_trust_failure(t, t.rvconnect(pinned.addr, uuid, input=b"x", ca="", pin=wrong_pin), "wrong --pin",
                             "pin")
    t.check(m.group(1) == pin, f"wrong --pin: reports the server's pin as {m.group(1)}, it is {pin}")
    expect_trust_failure(t, t.rvconnect(pinned.addr, uuid, input=b"x"), "--ca-file against a self-signed cert",
                         "chain")


if __name__ == "__main__":
    h.run(main)
