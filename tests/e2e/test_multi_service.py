#!/usr/bin/env python3
"""One rvhidden serving two UUIDs, each to its own local service. rvhidden starts with no
arguments but --log-level: server, CA and two `service = UUID HOST:PORT` lines come from
~/.config/rendezvous/rvhidden.conf (XDG), the secrets file from RV_SECRETS. Each UUID parks a pool
of its own; a client of each UUID reaches its own service (different banners), also both at once;
a second rvhidden given `--service` on its command line serves only that one. Mixing --service
with --uuid/--forward is a usage error (2)."""
import os
import threading

import harness as h

POOL = 2


def main(t):
    one_id, one_key = t.identity()
    two_id, two_key = t.identity()
    three_id, three_key = t.identity()
    secrets = t.secrets_file([(one_id, one_key), (two_id, two_key), (three_id, three_key)])
    one = t.service(h.banner_handler(b"service one\n"), "one")
    two = t.service(h.banner_handler(b"service two\n"), "two")
    server = t.rvserver(secrets)

    xdg = t.path("xdg")
    os.makedirs(os.path.join(xdg, "rendezvous"))
    with open(os.path.join(xdg, "rendezvous", "rvhidden.conf"), "w") as f:
        f.write("# two services from one config file\n"
                f"server = {server.addr}\n"
                f"ca-file = {t.pki.ca}\n"
                f"pool = {POOL}\n"
                f"service = {one_id} {one.addr}\n"
                f"service = {two_id}\t{two.addr}\n")
    env = dict(os.environ, XDG_CONFIG_HOME=xdg, RV_SECRETS=secrets)
    hidden = t.spawn("rvhidden", [t.bin("rvhidden"), "--log-level", "info"], env=env)
    for uuid in (one_id, two_id):
        hidden.wait_stderr(r"parked uuid=" + uuid + r" slot=", count=POOL, timeout=15)

    def reach(uuid, banner, data, result=None):
        r = t.rvconnect(server.addr, uuid, input=data)
        if result is not None:
            result.append(r)
        t.expect_rc(r, 0, f"rvconnect {uuid}")
        t.check(r.out == banner + data, f"{uuid}: expected {banner!r} + echo, got {r.out[:80]!r}")

    reach(one_id, b"service one\n", b"to one\n")
    reach(two_id, b"service two\n", b"to two\n")
    t.check(one.accepted == 1 and two.accepted == 1,
            f"each service should have seen one client: one={one.accepted} two={two.accepted}")

    # Both at once, larger payloads, several each.
    errors = []

    def worker(uuid, banner, n):
        try:
            reach(uuid, banner, os.urandom(200_000 + n))
        except h.Failure as e:
            errors.append(str(e))
    threads = [threading.Thread(target=worker, args=(u, b, i))
               for i in range(3) for u, b in ((one_id, b"service one\n"), (two_id, b"service two\n"))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    t.check(not errors, f"concurrent clients: {errors}")
    t.check(one.accepted == 4 and two.accepted == 4, f"one={one.accepted} two={two.accepted}")
    hidden.wait_stderr(r"tunnel=\d+ uuid=" + two_id + r" client=\S+ mode=stream open to " + two.addr,
                       count=4, timeout=5)

    # The command line's --service replaces the config file's.
    secrets3 = t.secrets_file([(three_id, three_key)])
    three = t.service(h.banner_handler(b"service three\n"), "three")
    only = t.spawn("rvhidden", [t.bin("rvhidden"), "--log-level", "info", "--secrets", secrets3,
                                "--service", f"{three_id} {three.addr}"], env=env)
    only.wait_stderr(r"parked uuid=" + three_id, count=POOL, timeout=15)
    t.check(only.count_stderr(r"parked uuid=(?!" + three_id + ")") == 0,
            f"--service on the command line should replace the config's: {only.stderr_text()[-800:]}")
    reach(three_id, b"service three\n", b"to three\n")

    r = t.run("rvhidden --service --uuid", [t.bin("rvhidden"), "--service", f"{one_id} {one.addr}",
                                            "--uuid", two_id, "--forward", two.addr], env=env, timeout=10)
    t.expect_rc(r, 2, "rvhidden with both --service and --uuid")
    t.check("alternatives" in r.err_text, f"mixing --service and --uuid: {r!r}")
    r = t.run("rvhidden --service bad", [t.bin("rvhidden"), "--service", one_id], env=env, timeout=10)
    t.expect_rc(r, 2, "rvhidden --service without HOST:PORT")


if __name__ == "__main__":
    h.run(main, timeout=120)
