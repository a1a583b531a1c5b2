#!/usr/bin/env python3
"""Scenario 11: trust in the rendezvous server's certificate. --pin with a self-signed certificate
works; a wrong pin, a CA that did not sign it, no --ca-file (system store only) and a --server-name
the certificate does not name all fail with exit 1 and a message about the certificate."""
import os
import re

import harness as h

CERT_WORDS = r"(?i)certificate|verif|pin|x509|self[- ]signed|issuer|host ?name|name mismatch"


def expect_trust_failure(t, r, what):
    t.expect_rc(r, 1, what)
    t.check(re.search(CERT_WORDS, r.err_text), f"{what}: stderr names no certificate problem: {r.err_text!r}")
    t.log(f"{what}: exit 1: {r.err_text.strip().splitlines()[-1][:160] if r.err_text.strip() else ''}")


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
    expect_trust_failure(t, t.rvconnect(server.addr, uuid, input=b"x", ca=""), "no --ca-file (system store)")
    expect_trust_failure(t, t.rvconnect(server.addr, uuid, input=b"x", ca=t.pki.other_ca()),
                         "--ca-file of another CA")
    expect_trust_failure(t, t.rvconnect(server.addr, uuid, input=b"x", server_name="wrong.example"),
                         "--server-name wrong.example")

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
    expect_trust_failure(t, t.rvconnect(pinned.addr, uuid, input=b"x", ca="", pin=wrong_pin), "wrong --pin")
    expect_trust_failure(t, t.rvconnect(pinned.addr, uuid, input=b"x"), "--ca-file against a self-signed cert")


if __name__ == "__main__":
    h.run(main)
