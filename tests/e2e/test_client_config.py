#!/usr/bin/env python3
"""Everyday client use: rvconnect's defaults from ~/.config/rendezvous (XDG) and RV_* variables,
and the names file. With HOME pointed at a temp dir: `rvconnect NAME` alone works through the
names file and rvconnect.conf (server, ca-file); `home.rv` finds `home`; the order command line >
environment > --config > rvconnect.conf holds, and a name's server yields only to the command
line; an unknown name exits 2 naming the file searched. Then the README recipe: ssh to `home.rv`
with `Host *.rv` / `ProxyCommand rvconnect %h` reaches a private sshd (skipped, 77, without
OpenSSH, after everything else has passed)."""
import os
import re
import shutil

import harness as h


def main(t):
    echo_id, echo_key = t.identity()
    ssh_id, ssh_key = t.identity()
    secrets = t.secrets_file([(echo_id, echo_key), (ssh_id, ssh_key)])
    echo = t.service(h.banner_handler(b"echo here\n"), "echo")
    server = t.rvserver(secrets)
    t.rvhidden(server.addr, echo_id, secrets, echo.addr, pool=2)
    dead = f"127.0.0.1:{h.free_port()}"  # nothing listens there: a client sent there fails (1)

    home = t.path("home")
    conf_dir = os.path.join(home, ".config", "rendezvous")
    os.makedirs(conf_dir)
    base_env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    base_env["HOME"] = home
    base_env["PATH"] = os.path.dirname(t.bin("rvconnect")) + os.pathsep + os.environ.get("PATH", "")

    def conf(name, text):
        path = os.path.join(conf_dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def connect(what, args, env=None, rc=0, data=b"ping\n"):
        r = t.run(f"rvconnect {what}", ["rvconnect", *args], input=data, env=env or base_env, timeout=30)
        t.expect_rc(r, rc, f"rvconnect {what}")
        if rc == 0:
            t.check(r.out == b"echo here\n" + data, f"rvconnect {what}: got {r.out!r}")
        return r

    # 1. Only a name: the names file gives the UUID, rvconnect.conf the server and the CA.
    conf("rvconnect.conf", f"# defaults for every host\nserver = {server.addr}\nca-file = {t.pki.ca}\n")
    conf("names", f"# the fleet\necho   {echo_id}\nhome   {ssh_id}\nfar    {echo_id}  {server.addr}\n")
    connect("echo", ["echo"])
    connect("echo.rv (suffix stripped)", ["echo.rv"])
    connect("a plain UUID next to a names file", [echo_id])

    # 2. XDG_CONFIG_HOME, when set, is where they are looked for instead of ~/.config.
    xdg = t.path("xdg")
    shutil.copytree(conf_dir, os.path.join(xdg, "rendezvous"))
    os.rename(conf_dir, conf_dir + ".away")
    connect("echo, via XDG_CONFIG_HOME", ["echo"], env=dict(base_env, XDG_CONFIG_HOME=xdg))
    r = connect("echo, nothing in ~/.config", ["echo"], rc=2)  # now a (valid) UUID with no server
    t.check("--server is required" in r.err_text, f"no server configured: {r!r}")
    os.rename(conf_dir + ".away", conf_dir)

    # 3. Precedence: command line > environment > --config > rvconnect.conf.
    conf("rvconnect.conf", f"server = {dead}\nca-file = {t.pki.ca}\n")
    connect("with rvconnect.conf's dead server", ["echo"], rc=1)
    connect("RV_SERVER over rvconnect.conf", ["echo"], env=dict(base_env, RV_SERVER=server.addr))
    connect("--server over RV_SERVER", ["--server", server.addr, "echo"], env=dict(base_env, RV_SERVER=dead))
    connect("--server (dead) over RV_SERVER", ["--server", dead, "echo"],
            env=dict(base_env, RV_SERVER=server.addr), rc=1)
    connect("an empty RV_SERVER is unset", ["echo"], env=dict(base_env, RV_SERVER=""), rc=1)
    explicit = t.write_file("explicit.conf", f"server = {server.addr}\n")
    connect("--config over rvconnect.conf", ["--config", explicit, "echo"])
    connect("RV_SERVER over --config", ["--config", explicit, "echo"], env=dict(base_env, RV_SERVER=dead), rc=1)
    conf("rvconnect.conf", f"server = {server.addr}\n")
    connect("RV_CA_FILE", ["echo"], env=dict(base_env, RV_CA_FILE=t.pki.ca))
    r = connect("no trust for a private CA", ["echo"], rc=1)
    t.check("TLS" in r.err_text, f"without the CA: {r!r}")

    # 4. A name's own server beats the configured one, but not --server on the command line.
    conf("rvconnect.conf", f"server = {dead}\nca-file = {t.pki.ca}\n")
    connect("far: its server from the names file", ["far.rv"], env=dict(base_env, RV_SERVER=dead))
    connect("far with --server (dead) on the command line", ["--server", dead, "far"], rc=1)

    # 5. Unknown names. Not a UUID either: exit 2, naming the file. A valid UUID that is no name is
    #    asked for as such (404: 3), and the message says it was not a name either.
    conf("rvconnect.conf", f"server = {server.addr}\nca-file = {t.pki.ca}\n")
    names_path = os.path.join(conf_dir, "names")
    r = connect("an unknown name", ["no such host"], rc=2)
    t.check(names_path in r.err_text and "neither a name" in r.err_text, f"unknown name: {r!r}")
    r = connect("an unknown .rv name", ["nope.rv"], rc=3)
    t.check(f"not a name in {names_path}" in r.err_text, f"unknown .rv name: {r!r}")
    other = t.write_file("other-names", f"echo2 {echo_id}\n")
    connect("--names FILE", ["--names", other, "echo2"])
    connect("RV_NAMES", ["echo2.rv"], env=dict(base_env, RV_NAMES=other))
    r = connect("a missing --names FILE", ["--names", t.path("missing"), "echo"], rc=2)
    t.check("cannot read names file" in r.err_text, f"missing names file: {r!r}")
    conf("names", f"echo {echo_id}\nbroken line with too many fields\n")
    r = connect("a broken names file", ["echo"], rc=2)
    t.check(re.search(re.escape(names_path) + r":2: ", r.err_text), f"broken names file: {r!r}")
    conf("names", f"echo {echo_id}\nhome {ssh_id}\n")

    # 6. The README recipe with real OpenSSH: `ssh home.rv` through `ProxyCommand rvconnect %h`.
    if not all(shutil.which(x) or os.access(x, os.X_OK) for x in (h.SSHD, "ssh", "ssh-keygen")):
        raise h.Skipped("OpenSSH (sshd, ssh, ssh-keygen) not available; the rest passed")
    sshd_port, client_key = t.sshd()
    t.rvhidden(server.addr, ssh_id, secrets, f"127.0.0.1:{sshd_port}", pool=2)
    ssh_config = t.write_file("ssh_config", "Host *.rv\n    ProxyCommand rvconnect %h\n")
    for how, opts in (("-F ssh_config (Host *.rv)", ["-F", ssh_config]),
                      ("-o ProxyCommand='rvconnect %h'", ["-F", "/dev/null", "-o", "ProxyCommand=rvconnect %h"])):
        r = t.run(f"ssh home.rv, {how}", ["ssh", *opts, *t.ssh_options(client_key), f"{t.user()}@home.rv",
                                          "echo hi from $(hostname); sort"],
                  input=b"pear\napple\n", env=base_env, timeout=60)
        t.expect_rc(r, 0, f"ssh home.rv {how}")
        t.check(r.out.startswith(b"hi from ") and r.out.endswith(b"\napple\npear\n"), f"ssh {how}: {r.out!r}")


if __name__ == "__main__":
    h.run(main, timeout=120)
