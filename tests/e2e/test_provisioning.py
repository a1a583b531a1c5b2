#!/usr/bin/env python3
"""Provisioning: `rvserver cert` makes a certificate whose printed pin (and the certificate itself as
a CA file) lets rvconnect in; `rvserver secrets add` (a made UUID, and a given one) prints a secrets
file that rvhidden registers with; `list` shows UUIDs and never a secret; `rotate` replaces the
secret, `remove` the line; eight concurrent `add`s all land; a 0644 secrets file is refused.
`--out FILE` (issue 10, B) writes the hidden machine's file itself, mode 0600 under umask 0, and
prints no secret; it never overwrites a file (or follows a link) without --force."""
import os
import re
import stat
import subprocess

import harness as h

UUID_V4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def parse_identity(t, r, uuid=None):
    """The stdout of `secrets add` / `rotate`: 'UUID SECRET' then '# otpauth://...'. -> (uuid, secret,
    line, uri)."""
    t.expect_rc(r, 0)
    lines = r.out.decode().splitlines()
    t.check(len(lines) == 2, f"expected 2 lines on stdout, got {lines!r}")
    fields = lines[0].split()
    t.check(len(fields) == 2, f"secrets line {lines[0]!r}: expected 'UUID SECRET'")
    got_uuid, secret = fields
    if uuid is not None:
        t.check(got_uuid == uuid, f"the line names {got_uuid}, not {uuid}")
    t.check(re.fullmatch(r"[A-Z2-7]{32,}", secret), f"secret {secret!r} is not 160-bit base32")
    t.check(lines[1].startswith("# otpauth://"), f"second line {lines[1]!r}")
    uri = lines[1][2:]
    want = (f"otpauth://totp/rendezvous:{got_uuid}?secret={secret}&issuer=rendezvous"
            f"&algorithm=SHA1&digits=6&period=30")
    t.check(uri == want, f"URI {uri!r}, expected {want!r}")
    t.check(secret not in r.err_text, "the secret appeared on stderr")
    t.check("SIGHUP" in r.err_text, f"no SIGHUP hint on stderr: {r.err_text!r}")
    return got_uuid, secret, lines[0], uri


def main(t):
    rvserver = t.bin("rvserver")

    # -- cert
    certdir = t.path("certs")
    r = t.run("rvserver cert", [rvserver, "cert", "--name", "localhost", "--name", "127.0.0.1",
                                "--out", certdir])
    t.expect_rc(r, 0)
    cert, key = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
    t.check(mode(cert) == 0o644, f"cert.pem has mode {mode(cert):o}")
    t.check(mode(key) == 0o600, f"key.pem has mode {mode(key):o}")
    m = re.search(r"^pin (sha256//[A-Za-z0-9+/]{43}=)$", r.out.decode(), re.M)
    t.check(m, f"no pin line in {r.out!r}")
    pin = m.group(1)
    t.check(f"--pin '{pin}'" in r.out.decode(), "the rvhidden/rvconnect options are not printed")
    with open(cert, "rb") as f:
        cert_bytes = f.read()
    r = t.run("rvserver cert again", [rvserver, "cert", "--name", "localhost", "--out", certdir])
    t.expect_rc(r, 2, "cert over existing files without --force")
    t.check("--force" in r.err_text, f"no --force hint: {r.err_text!r}")
    with open(cert, "rb") as f:
        t.check(f.read() == cert_bytes, "cert.pem changed without --force")
    r = t.run("rvserver cert --force", [rvserver, "cert", "--name", "localhost", "--out", t.path("c2")])
    t.expect_rc(r, 0)
    r = t.run("rvserver cert --force", [rvserver, "cert", "--name", "localhost", "--out", t.path("c2"),
                                        "--force"])
    t.expect_rc(r, 0)

    # -- secrets add: a made UUID, and a given one
    secrets = t.path("secrets")
    r = t.run("secrets add", [rvserver, "secrets", "add", "--secrets", secrets])
    made, made_secret, made_line, _ = parse_identity(t, r)
    t.check(UUID_V4.match(made), f"made UUID {made!r} is not a v4 UUID")
    t.check(mode(secrets) == 0o600, f"secrets file has mode {mode(secrets):o}")
    hidden_file = t.write_file("hidden-made", r.out)  # all of stdout: a valid secrets file
    given = "laptop-7.example"
    r = t.run("secrets add UUID", [rvserver, "secrets", "add", given, "--secrets", secrets])
    _, given_secret, given_line, _ = parse_identity(t, r, given)
    given_file = t.write_file("hidden-given", given_line + "\n")  # the one line
    t.check(mode(secrets) == 0o600, f"secrets file has mode {mode(secrets):o} after the second add")
    r = t.run("secrets add duplicate", [rvserver, "secrets", "add", given, "--secrets", secrets])
    t.expect_rc(r, 2, "adding a UUID that is there")
    t.check("already" in r.err_text, f"duplicate: {r.err_text!r}")

    r = t.run("secrets list", [rvserver, "secrets", "list", "--secrets", secrets])
    t.expect_rc(r, 0)
    listed = r.out.decode()
    t.check(listed.splitlines() == [f"{made} step=30 digits=6", f"{given} step=30 digits=6"],
            f"list: {listed!r}")
    for s in (made_secret, given_secret):
        t.check(s not in listed and s not in r.err_text, "list shows a secret")

    # -- the printed lines and pin work with the real programs
    echo = t.service(h.echo_handler, "echo")
    server = t.rvserver(secrets, cert=cert, key=key)
    t.rvhidden(server.addr, made, hidden_file, echo.addr, pool=1, pin=pin)
    t.rvhidden(server.addr, given, given_file, echo.addr, pool=1, pin=pin)
    for uuid in (made, given):
        payload = f"hello {uuid}\n".encode() * 100
        r = t.rvconnect(server.addr, uuid, input=payload, pin=pin)
        t.expect_rc(r, 0, f"rvconnect --pin to {uuid}")
        t.check(r.out == payload, f"{uuid} via --pin: {len(r.out)} bytes back, not the {len(payload)} sent")
    r = t.rvconnect(server.addr, given, input=b"ca-file\n", ca=cert)
    t.expect_rc(r, 0, "rvconnect --ca-file cert.pem (name 127.0.0.1)")
    t.check(r.out == b"ca-file\n", f"via --ca-file: {r.out!r}")
    r = t.rvconnect(server.addr, given, input=b"both\n", ca=cert, pin=pin, server_name="localhost")
    t.expect_rc(r, 0, "rvconnect --ca-file cert.pem --pin --server-name localhost")
    t.check(r.out == b"both\n", f"via --ca-file and --pin: {r.out!r}")
    for p in list(t.procs):
        p.kill()

    # -- rotate: a new secret; the old line is gone, the other line untouched
    r = t.run("secrets rotate", [rvserver, "secrets", "rotate", given, "--secrets", secrets])
    _, rotated_secret, rotated_line, _ = parse_identity(t, r, given)
    t.check(rotated_secret != given_secret, "rotate kept the secret")
    with open(secrets) as f:
        text = f.read()
    t.check(given_line not in text, "the old line is still in the file")
    t.check(rotated_line in text and made_line in text, f"after rotate: {text!r}")
    t.check(mode(secrets) == 0o600, f"secrets file has mode {mode(secrets):o} after rotate")
    # The rotated secret is the one a server started now accepts.
    server = t.rvserver(secrets, cert=cert, key=key)
    t.rvhidden(server.addr, given, t.write_file("hidden-rotated", r.out), echo.addr, pool=1, pin=pin)
    r = t.rvconnect(server.addr, given, input=b"rotated\n", pin=pin)
    t.expect_rc(r, 0, "rvconnect after rotate")
    t.check(r.out == b"rotated\n", f"after rotate: {r.out!r}")

    # -- remove
    r = t.run("secrets remove", [rvserver, "secrets", "remove", made, "--secrets", secrets])
    t.expect_rc(r, 0)
    with open(secrets) as f:
        text = f.read()
    t.check(made not in text and text == rotated_line + "\n", f"after remove: {text!r}")
    r = t.run("secrets remove again", [rvserver, "secrets", "remove", made, "--secrets", secrets])
    t.expect_rc(r, 2, "removing a UUID that is not there")
    t.check("not in" in r.err_text, f"remove of an absent UUID: {r.err_text!r}")
    r = t.run("secrets list", [rvserver, "secrets", "list", "--secrets", secrets])
    t.check(r.out.decode().splitlines() == [f"{given} step=30 digits=6"], f"list: {r.out!r}")

    # -- eight writers at once: every line lands
    many = t.path("many/secrets")
    os.makedirs(os.path.dirname(many))
    procs = [subprocess.Popen([rvserver, "secrets", "add", "--secrets", many], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(8)]
    lines = []
    for p in procs:
        out, err = p.communicate(timeout=30)
        t.check(p.returncode == 0, f"concurrent add: exit {p.returncode}: {err!r}")
        lines.append(out.decode().splitlines()[0])
    with open(many) as f:
        text = f.read()
    t.check(sorted(text.splitlines()) == sorted(lines) and len(set(lines)) == 8,
            f"8 concurrent adds left {len(text.splitlines())} lines")
    r = t.run("secrets list", [rvserver, "secrets", "list", "--secrets", many])
    t.expect_rc(r, 0, "list after concurrent adds")
    t.check(len(r.out.decode().splitlines()) == 8, f"list after concurrent adds: {r.out!r}")
    leftovers = sorted(set(os.listdir(os.path.dirname(many))) - {"secrets", "secrets.lock"})
    t.check(not leftovers, f"files left beside the secrets file: {leftovers}")

    # -- a secrets file others can read is refused, and left as it was
    uuid, k = t.identity()
    open_file = t.secrets_file([(uuid, k)], name="secrets-644", mode=0o644)
    with open(open_file) as f:
        before = f.read()
    r = t.run("secrets add 0644", [rvserver, "secrets", "add", "--secrets", open_file])
    t.expect_rc(r, 2, "secrets add to a 0644 file")
    t.check("chmod" in r.err_text, f"no chmod in {r.err_text!r}")
    with open(open_file) as f:
        t.check(f.read() == before, "the 0644 file changed")
    t.check(mode(open_file) == 0o644, "the 0644 file's mode changed")

    # -- --out: rvserver writes the hidden machine's file itself, mode 0600 whatever the umask
    def umask0(argv):
        return ["sh", "-c", 'umask 0; exec "$0" "$@"', *argv]

    outdir = t.path("out")
    os.mkdir(outdir)
    out = os.path.join(outdir, "hidden.secrets")
    with open(secrets) as f:
        server_before = f.read()
    r = t.run("secrets add --out", umask0([rvserver, "secrets", "add", "--secrets", secrets, "--out", out]))
    t.expect_rc(r, 0, "secrets add --out under umask 0")
    t.check(mode(out) == 0o600, f"--out file has mode {mode(out):o} under umask 0")
    t.check(mode(secrets) == 0o600, f"secrets file has mode {mode(secrets):o} after add --out under umask 0")
    with open(out) as f:
        out_text = f.read()
    out_lines = out_text.splitlines()
    t.check(len(out_lines) == 2 and out_lines[1].startswith("# otpauth://"), f"--out file: {out_text!r}")
    out_uuid, out_secret = out_lines[0].split()
    t.check(UUID_V4.match(out_uuid), f"--out: {out_uuid!r} is not a v4 UUID")
    t.check(r.out.decode() == out_uuid + "\n", f"stdout with --out is not just the UUID: {r.out!r}")
    t.check(out_secret not in r.err_text, "the secret appeared on stderr")
    with open(secrets) as f:
        t.check(f.read() == server_before + out_lines[0] + "\n", "the server's file lacks the --out line")
    r = t.run("secrets list --out file", [rvserver, "secrets", "list", "--secrets", out])
    t.expect_rc(r, 0, "the --out file is a valid secrets file")
    t.check(r.out.decode() == f"{out_uuid} step=30 digits=6\n", f"list of the --out file: {r.out!r}")

    # An existing file is refused before the secrets file changes; --force replaces it.
    with open(secrets) as f:
        server_before = f.read()
    r = t.run("secrets add --out again", [rvserver, "secrets", "add", "--secrets", secrets, "--out", out])
    t.expect_rc(r, 2, "secrets add --out over an existing file")
    t.check("--force" in r.err_text, f"no --force hint: {r.err_text!r}")
    with open(out) as f:
        t.check(f.read() == out_text, "an existing --out file was overwritten without --force")
    with open(secrets) as f:
        t.check(f.read() == server_before, "the secrets file changed although --out was refused")
    r = t.run("secrets rotate --out --force",
              umask0([rvserver, "secrets", "rotate", out_uuid, "--secrets", secrets, "--out", out, "--force"]))
    t.expect_rc(r, 0, "secrets rotate --out --force")
    t.check(r.out.decode() == out_uuid + "\n", f"rotate --out stdout: {r.out!r}")
    with open(out) as f:
        rotated = f.read().splitlines()
    t.check(rotated[0].split()[0] == out_uuid and rotated[0] != out_lines[0], f"rotate --out: {rotated!r}")
    t.check(mode(out) == 0o600, f"--out file has mode {mode(out):o} after --force under umask 0")
    with open(secrets) as f:
        t.check(rotated[0] + "\n" in f.read(), "the server's file lacks the rotated line")

    # A symbolic link at --out is not followed: refused, and with --force replaced (not its target).
    target = t.write_file("out-target", "not yours\n", 0o644)
    link = os.path.join(outdir, "link.secrets")
    os.symlink(target, link)
    r = t.run("secrets add --out link", [rvserver, "secrets", "add", "--secrets", secrets, "--out", link])
    t.expect_rc(r, 2, "secrets add --out onto a symbolic link")
    r = t.run("secrets add --out link --force",
              [rvserver, "secrets", "add", "--secrets", secrets, "--out", link, "--force"])
    t.expect_rc(r, 0, "secrets add --out onto a symbolic link, --force")
    t.check(not os.path.islink(link) and mode(link) == 0o600, "--force did not replace the link with a file")
    with open(target) as f:
        t.check(f.read() == "not yours\n", "the link's target was written")
    # --out naming the secrets file itself is refused, even with --force.
    r = t.run("secrets add --out itself", [rvserver, "secrets", "add", "--secrets", secrets, "--out", secrets,
                                           "--force"])
    t.expect_rc(r, 2, "secrets add --out naming the secrets file")
    leftovers = sorted(set(os.listdir(outdir)) - {"hidden.secrets", "link.secrets"})
    t.check(not leftovers, f"files left beside the --out file: {leftovers}")

    # -- usage errors
    for argv in (["secrets"], ["secrets", "frob"], ["secrets", "add"], ["secrets", "add", "--bogus"],
                 ["secrets", "remove", "--secrets", secrets], ["cert"], ["cert", "--name", "a b"]):
        r = t.run("usage", [rvserver, *argv])
        t.expect_rc(r, 2, f"rvserver {' '.join(argv)}")
    for argv in (["secrets", "--help"], ["secrets", "add", "--help"], ["secrets", "list", "--help"],
                 ["secrets", "remove", "--help"], ["secrets", "rotate", "--help"], ["cert", "--help"]):
        r = t.run("help", [rvserver, *argv])
        t.expect_rc(r, 0, f"rvserver {' '.join(argv)}")
        t.check(b"Usage:" in r.out, f"rvserver {' '.join(argv)}: {r.out!r}")


if __name__ == "__main__":
    h.run(main)
