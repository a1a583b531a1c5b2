#!/usr/bin/env python3
"""rvserver's TLS policy, seen from outside with the `openssl s_client` CLI (and one hand-made
ClientHello): TLS 1.3 by default; TLS 1.2 only with the ECDHE AEAD suites of Mozilla's
"intermediate" list; TLS 1.1 and 1.0 refused; a TLS 1.2 ClientHello with only CBC or non-ECDHE
suites refused; no renegotiation on TLS 1.2; no compression even when the client offers deflate.
Our own legs (rvhidden -> rvserver, rvconnect -> rvserver) negotiate TLS 1.3 with AES-128-GCM.

Every refused handshake is confirmed on both sides: s_client gets no session, and rvserver logs a
failed handshake with the reason (so a client that could not even offer the protocol does not pass for a
server that refused it)."""
import os
import re
import socket
import struct
import subprocess
import time

import harness as h

# Mozilla "intermediate" TLS 1.2 suites that an ECDSA certificate (the test PKI's) can serve.
INTERMEDIATE_ECDSA = ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                      "ECDHE-ECDSA-CHACHA20-POLY1305")
OUR_LEGS = "TLSv1.3 TLS_AES_128_GCM_SHA256"  # what rvconnect and rvhidden negotiate with rvserver
INTERMEDIATE_RX = r"ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)"
# TLS 1.2 suites outside that list, each one an ECDSA certificate could serve (but AES128-SHA):
# so a refusal is the policy, not a key type mismatch.
NOT_INTERMEDIATE = (
    ("ECDHE-ECDSA-AES128-SHA", "ECDHE, CBC with HMAC-SHA1"),
    ("ECDHE-ECDSA-AES256-SHA384", "ECDHE, CBC with HMAC-SHA384"),
    ("ECDHE-ECDSA-AES128-CCM", "ECDHE AEAD but not in the intermediate list"),
    ("AES128-SHA", "RSA key exchange, CBC"),
)
HANDSHAKE_FAILED = r"conn=\d+ peer=\S+ TLS handshake failed: (.*)"


class Server:
    """rvserver plus a count of the handshake failures it has logged, so that each refused row
    can wait for its own log line."""

    def __init__(self, t, secrets):
        self.p = t.rvserver(secrets)
        self.addr = self.p.addr
        self.failures_seen = 0

    def next_failure(self):
        """The reason of the next handshake failure rvserver logs (waits up to 5 s)."""
        self.failures_seen += 1
        return self.p.wait_stderr(HANDSHAKE_FAILED, timeout=5, count=self.failures_seen).group(1)

    def no_hello(self, out):
        """s_client sent no ClientHello: if it connected at all, rvserver logs the connection
        that closed mid-handshake; count that line."""
        if re.search(r"^CONNECTED\(", out, re.M):
            self.next_failure()


def s_client(t, addr, *options):
    """`openssl s_client` with the test CA, SNI localhost and -msg; stdin at end at once, so it
    handshakes, sends close_notify and exits. Returns (Result, stdout text)."""
    r = t.run("openssl s_client", ["openssl", "s_client", "-connect", addr, "-servername", "localhost",
                                   "-CAfile", t.pki.ca, "-verify_return_error", "-msg", *options],
              input=b"", timeout=15)
    return r, r.out.decode("utf-8", "replace")


def negotiated(out):
    """(version, cipher) from s_client's 'New, TLSv1.3, Cipher is X' line: '(NONE)' for both
    when the handshake failed, None for both when s_client printed no such line."""
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    return (m.group(1), m.group(2)) if m else (None, None)


def message_hex(out, direction, name, index=0):
    """The bytes of the `index`-th handshake message `name` that s_client -msg shows going
    `direction` ('>>>' sent, '<<<' received)."""
    blocks = re.findall(re.escape(direction) + r" [^\n]*, " + re.escape(name) + r"\n((?:    [0-9a-f ]+\n)+)", out)
    if len(blocks) <= index:
        return None
    return bytes.fromhex("".join(blocks[index].split()))


def client_hello_version(out):
    """legacy_version of the ClientHello s_client sent (0x0302 = TLS 1.1), or None if it sent none."""
    hello = message_hex(out, ">>>", "ClientHello")
    return None if hello is None or len(hello) < 6 else (hello[4] << 8) | hello[5]


def accepted(t, server, what, *options, version, cipher_rx):
    r, out = s_client(t, server.addr, *options)
    got_version, got_cipher = negotiated(out)
    t.check(r.rc == 0 and got_version == version and re.fullmatch(cipher_rx, got_cipher or ""),
            f"{what}: expected {version} with /{cipher_rx}/, got {got_version} {got_cipher}, exit {r.rc}: "
            f"{r.err_text.strip()[-300:]!r}")
    t.check(re.search(r"^Verification: OK$", out, re.M), f"{what}: the certificate did not verify")
    t.check(re.search(r"^Compression: NONE$", out, re.M), f"{what}: s_client shows compression")
    t.log(f"{what}: {got_version} {got_cipher}")


def old_protocol_refused(t, server, flag, version_code, name):
    """TLS 1.1 / 1.0: s_client must really offer it (its ClientHello's version says so); this
    OpenSSL may refuse to at its default security level, then SECLEVEL=0 lets it."""
    for extra in ((), ("-cipher", "DEFAULT:@SECLEVEL=0")):
        r, out = s_client(t, server.addr, flag, *extra)
        offered = client_hello_version(out)
        if offered is None:
            server.no_hello(out)
            continue
        t.check(offered == version_code, f"{name}: s_client's ClientHello says {offered:#06x}, "
                                         f"not {version_code:#06x}")
        got_version, got_cipher = negotiated(out)
        t.check(r.rc != 0 and got_cipher == "(NONE)", f"{name}: a session was made ({got_version} {got_cipher})")
        reason = server.next_failure()
        t.check(re.search(r"unsupported protocol|version", reason),
                f"{name}: rvserver's reason {reason!r} does not name the protocol version")
        t.log(f"{name} {' '.join(extra) or '(default security level)'}: ClientHello {offered:#06x} "
              f"refused; rvserver: {reason}")
        return
    print(f"  SKIPPED ROW {name}: the local openssl sends no {name} ClientHello even at SECLEVEL=0: "
          f"{r.err_text.strip()[-200:]!r}", flush=True)


def cipher_refused(t, server, cipher, why):
    """A TLS 1.2 ClientHello offering only `cipher`: no session, and rvserver says 'no shared
    cipher'. Skips the row (printing why) if this openssl will not offer that suite at all."""
    r, out = s_client(t, server.addr, "-tls1_2", "-cipher", cipher)
    if message_hex(out, ">>>", "ClientHello") is None:  # e.g. 'no cipher match' in this openssl
        print(f"  SKIPPED ROW -tls1_2 -cipher {cipher}: the local openssl sends no ClientHello with it: "
              f"{r.err_text.strip()[-200:]!r}", flush=True)
        server.no_hello(out)
        return
    t.check(negotiated(out)[1] == "(NONE)" and r.rc != 0,
            f"-tls1_2 -cipher {cipher} ({why}): negotiated {negotiated(out)}")
    reason = server.next_failure()
    t.check(re.search(r"no shared cipher", reason), f"-tls1_2 -cipher {cipher}: rvserver's reason {reason!r}")
    t.log(f"-tls1_2 -cipher {cipher} ({why}): refused; rvserver: {reason}")


def renegotiation_refused(t, server):
    """TLS 1.2, then 'R' on s_client's stdin asks for a renegotiation: s_client sends a second
    ClientHello; rvserver must answer it with a no_renegotiation alert (s_client then gives up
    and exits), never a second ServerHello. s_client reads stdin only once its handshake is done,
    so 'R' can be written at once; stdin stays open so that it is not an end of input that makes
    s_client hang up before the answer arrives."""
    argv = ["openssl", "s_client", "-connect", server.addr, "-servername", "localhost", "-CAfile", t.pki.ca,
            "-verify_return_error", "-msg", "-tls1_2"]
    p = t.spawn("s_client-reneg", argv, stdin=subprocess.PIPE)
    p.p.stdin.write(b"R\n")
    p.p.stdin.flush()
    try:
        rc = p.wait_exit(10)  # s_client's stdout is a buffered pipe: read it once it has exited
    except h.Failure:  # still waiting: renegotiated, perhaps; end of input ends it, and we look
        p.p.stdin.close()
        rc = p.wait_exit(5)
    out = p.stdout_text()
    t.check("RENEGOTIATING" in p.stderr_text(), f"s_client did not renegotiate: {p.stderr_text()[-400:]!r}")
    # The first handshake ends with the session block ('Start Time:'); what follows is the
    # renegotiation: our second ClientHello and rvserver's answer to it.
    t.check("Start Time:" in out, f"s_client printed no session: {out[-600:]!r}")
    after = out.split("Start Time:", 1)[1]
    t.check(message_hex(after, ">>>", "ClientHello") is not None, "s_client sent no second ClientHello")
    t.check("ServerHello" not in after, "rvserver renegotiated: a second ServerHello after 'R'")
    t.check(re.search(r"<<< TLS 1\.2, Alert \[length [0-9a-f]+\], warning no_renegotiation", after),
            f"no no_renegotiation alert from rvserver after 'R': {after[-600:]!r}")
    t.log(f"TLS 1.2 renegotiation: the second ClientHello got 'warning no_renegotiation', no ServerHello; "
          f"s_client exit {rc}")


def client_hello_with_deflate(host):
    """A TLS 1.2 ClientHello (record) whose compression_methods are [deflate, null] (RFC 3749),
    with ECDHE AEAD suites an ECDSA certificate can serve."""
    def ext(kind, body):
        return struct.pack("!HH", kind, len(body)) + body
    name = host.encode()
    extensions = b"".join([
        ext(0x0000, struct.pack("!HBH", len(name) + 3, 0, len(name)) + name),       # server_name
        ext(0x000a, struct.pack("!H3H", 6, 0x001d, 0x0017, 0x0018)),                # supported_groups
        ext(0x000b, b"\x01\x00"),                                                    # ec_point_formats
        ext(0x000d, struct.pack("!H4H", 8, 0x0403, 0x0503, 0x0804, 0x0805)),        # signature_algorithms
        ext(0x0017, b""),                                                            # extended_master_secret
        ext(0xff01, b"\x00"),                                                        # renegotiation_info
    ])
    suites = struct.pack("!H3H", 6, 0xc02b, 0xc02c, 0xcca9)
    body = (b"\x03\x03" + os.urandom(32) + b"\x00" + suites + b"\x02\x01\x00"
            + struct.pack("!H", len(extensions)) + extensions)
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack("!H", len(handshake)) + handshake


def compression_refused(t, server):
    """A hand-made TLS 1.2 ClientHello offering deflate: the ServerHello must pick null (0).
    (OpenSSL's own CLI cannot show this where libssl is built without zlib: it then never offers
    deflate, and its 'Compression: NONE' proves nothing.)"""
    host, port = server.addr.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(client_hello_with_deflate("localhost"))
        data = bytearray()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the ServerHello record, at most a few reads
            if len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
                break
            chunk = s.recv(16384)
            if not chunk:
                break
            data += chunk
    t.check(len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"),
            f"no complete answer to a ClientHello offering deflate: {bytes(data[:40])!r}")
    t.check(data[0] == 0x16, f"ClientHello offering deflate: answered with record type {data[0]} "
                             f"({bytes(data[:7]).hex()}), not a handshake")
    hello = bytes(data[5:])
    t.check(hello[0] == 2, f"first handshake message is type {hello[0]}, not a ServerHello")
    sid_len = hello[4 + 2 + 32]
    at = 4 + 2 + 32 + 1 + sid_len
    cipher, method = struct.unpack("!HB", hello[at:at + 3])
    t.check(method == 0, f"rvserver chose compression method {method} (1 = deflate) for a client that offered it")
    server.next_failure()  # we hang up mid-handshake: rvserver logs it
    t.log(f"ClientHello offering deflate: ServerHello chose cipher {cipher:#06x}, compression null")


def own_legs_use_tls13_aes128(t, secrets, uuid):
    """rvserver --log-level debug logs 'conn=N peer=... TLS established (VERSION SUITE)' per
    handshake; each parked rvhidden connection and the rvconnect client connection must say
    TLSv1.3 with TLS_AES_128_GCM_SHA256 (our clients offer it first: the fastest suite, see
    BENCHMARKS.md), and so must rvconnect's own debug line."""
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, log_level="debug")
    t.rvhidden(server.addr, uuid, secrets, echo.addr, pool=2, wait_parked=2)
    r = t.rvconnect(server.addr, uuid, input=b"over TLS 1.3\n", extra=["--log-level", "debug"])
    t.expect_rc(r, 0, "rvconnect --log-level debug")
    t.check(r.out == b"over TLS 1.3\n", f"echo {r.out!r}")
    m = re.search(r"TLS established with \S+ \((\S+ \S+)\)", r.err_text)
    t.check(m and m.group(1) == OUR_LEGS, f"rvconnect's leg: {m.group(0) if m else 'no TLS established line'}")

    tunnel = server.wait_stderr(r"conn=(\d+) peer=\S+ uuid=\S+ hidden=\S+ mode=\S+ tunnel open", timeout=10)
    log = server.stderr_text()
    versions = dict(re.findall(r"conn=(\d+) peer=\S+ TLS established \((\S+ \S+)\)", log))
    parked = re.findall(r"conn=(\d+) peer=\S+ uuid=\S+ parked \(", log)
    t.check(len(parked) >= 2, f"rvserver logged {len(parked)} parked connections, expected 2")
    legs = [("rvhidden", c) for c in parked] + [("rvconnect", tunnel.group(1))]
    for who, conn in legs:
        t.check(versions.get(conn) == OUR_LEGS,
                f"{who} leg conn={conn}: TLS established ({versions.get(conn, 'no line')}), not {OUR_LEGS}")
    # The slot that replaces the taken one resumes with the ticket of an earlier leg.
    third = server.wait_stderr(r"conn=(\d+) peer=\S+ uuid=\S+ parked \(", timeout=10, count=3).group(1)
    m = re.search(rf"conn={third} peer=\S+ TLS established \((\S+ \S+)\)(, resumed)?", server.stderr_text())
    t.check(m and m.group(1) == OUR_LEGS and m.group(2),
            f"the replacement leg conn={third}: {m.group(0) if m else 'no TLS established line'}, not resumed")
    t.log(f"{OUR_LEGS} on {len(legs)} legs: " + ", ".join(f"{w} conn={c}" for w, c in legs))


def main(t):
    t.require("openssl")
    uuid, key = t.identity()
    secrets = t.secrets_file([(uuid, key)])
    server = Server(t, secrets)

    accepted(t, server, "default", version="TLSv1.3", cipher_rx=r"TLS_\w+")
    accepted(t, server, "-tls1_2", "-tls1_2", version="TLSv1.2", cipher_rx=INTERMEDIATE_RX)
    for cipher in INTERMEDIATE_ECDSA:
        accepted(t, server, f"-tls1_2 -cipher {cipher}", "-tls1_2", "-cipher", cipher,
                 version="TLSv1.2", cipher_rx=re.escape(cipher))

    old_protocol_refused(t, server, "-tls1_1", 0x0302, "TLS 1.1")
    old_protocol_refused(t, server, "-tls1", 0x0301, "TLS 1.0")

    for cipher, why in NOT_INTERMEDIATE:
        cipher_refused(t, server, cipher, why)

    renegotiation_refused(t, server)
    compression_refused(t, server)
    own_legs_use_tls13_aes128(t, secrets, uuid)


if __name__ == "__main__":
    h.run(main, timeout=60)
