"""Three rvserver nodes sharing one real Redis judge registrations as one server would
(docs/PROTOCOL.md §5, ARCHITECTURE.md "Cluster"): a code used at one node is replayed at another
only from its first source, failures spread over the nodes throttle as on one, a pool credential
from one node is good at another and after a restart, and while Redis is down pairing and
credentials go on, codes get 503 with Retry-After (or, with --redis-unavailable local, are judged
by the node alone), until Redis is back."""
import re
import time

import harness
from cluster import Cluster, Redis, registration, wrong_code
from harness import Failure
from seed_peers import totp


# Every key and every value in Redis, as one reply.
DUMP = """
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  table.insert(out, k)
  local t = redis.call('TYPE', k).ok
  if t == 'string' then table.insert(out, redis.call('GET', k))
  elseif t == 'hash' then for _, v in ipairs(redis.call('HGETALL', k)) do table.insert(out, v) end
  elseif t == 'zset' then for _, v in ipairs(redis.call('ZRANGE', k, 0, -1)) do table.insert(out, v) end
  end
end
return table.concat(out, ' ')
"""


def main(t):
    # The nodes log in as a user with only the ACL SECURITY.md gives rvserver.
    redis = Redis(t, password=harness.b32(harness.new_key()))
    ids = {name: t.identity() for name in ("replay", "throttle", "credential", "pairing", "outage",
                                           "killed", "never", "strict pool")}
    secrets = t.secrets_file(list(ids.values()))
    c = Cluster(t, redis, secrets, nodes=4, node_extra={4: ["--redis-unavailable", "local"]})
    n1, n2, n3, n4 = (c.node(i).addr for i in (1, 2, 3, 4))
    for i in (1, 2, 3, 4):
        c.wait_redis_up(i)

    # Pairing at every node: a hidden server parked at each, a client through each.
    uuid, key = ids["pairing"]
    svc = t.service(harness.echo_handler)
    for addr in (n1, n2, n3):
        t.rvhidden(addr, uuid, secrets, f"127.0.0.1:{svc.port}", pool=1)
    for addr in (n1, n2, n3):
        r = t.rvconnect(addr, uuid, input=b"through " + addr.encode())
        t.expect_rc(r, 0)
        if r.out != b"through " + addr.encode():
            raise Failure(f"the tunnel through {addr} carried {r.out!r}")

    # A code used at node 1 is replayed at node 2: refused from another source, taken from
    # the first one (--token-reuse same-source).
    uuid, key = ids["replay"]
    code = totp(key)
    a = registration(t, n1, uuid, code=code, source="127.0.0.11")
    if a.status != 200:
        raise Failure(f"a fresh code at node 1: {a!r}")
    a = registration(t, n2, uuid, code=code, source="127.0.0.12")
    if a.status != 401 or "used already" not in a.body:
        raise Failure(f"node 1's code from another source at node 2 should be refused as used: {a!r}")
    a = registration(t, n3, uuid, code=code, source="127.0.0.11")
    if a.status != 200:
        raise Failure(f"node 1's code from its first source at node 3 should be taken: {a!r}")

    # --token-reuse never, in a second cluster on the same Redis (its own --redis-prefix): not
    # even the first source may use a code twice, at whichever node.
    strict = Cluster(t, redis, secrets, nodes=2, first=5,
                     extra=["--token-reuse", "never", "--redis-prefix", "strict:"])
    s5, s6 = strict.node(5).addr, strict.node(6).addr
    uuid, key = ids["never"]
    code = totp(key)
    a = registration(t, s5, uuid, code=code, source="127.0.0.61")
    if a.status != 200:
        raise Failure(f"a fresh code at node 5: {a!r}")
    a = registration(t, s6, uuid, code=code, source="127.0.0.61")
    if a.status != 401 or "used already" not in a.body:
        raise Failure(f"--token-reuse never: node 5's code from the same source at node 6: {a!r}")

    # One rvhidden parked at both strict nodes: one code at one node, the credential it brings
    # at the other (shared key file), no code refused as used at either.
    uuid, key = ids["strict pool"]
    hidden = t.spawn("rvhidden", [t.bin("rvhidden"), "--server", s5, "--server", s6, "--uuid", uuid,
                                  "--secrets", secrets, "--forward", f"127.0.0.1:{svc.port}",
                                  "--ca-file", t.pki.ca, "--pool", "2", "--log-level", "info"])
    for node in (strict.node(5), strict.node(6)):
        node.wait_stderr(re.escape(uuid) + r" parked \(2 waiting\)", timeout=15)
    for node in (strict.node(5), strict.node(6)):
        if node.count_stderr(re.escape(uuid) + r" registration refused") != 0:
            raise Failure("a strict node refused rvhidden's registration:\n" + node.stderr_text())
    r = t.rvconnect(s6, uuid, input=b"strict")
    t.expect_rc(r, 0)
    hidden.kill()

    # --tls-ticket-key-file: a session from node 1 resumes at node 2 (same file), not at node 5
    # (another cluster, another file).
    a = registration(t, n1, ids["replay"][0], code=wrong_code(ids["replay"][1]), source="127.0.0.71")
    if not a.session or not a.session.has_ticket:
        raise Failure("node 1 sent no session ticket")
    if not registration(t, n2, ids["replay"][0], source="127.0.0.71", session=a.session).reused:
        raise Failure("node 2 did not resume node 1's session (same --tls-ticket-key-file)")
    if registration(t, s5, ids["replay"][0], source="127.0.0.71", session=a.session).reused:
        raise Failure("node 5 resumed a session sealed with another cluster's ticket key")

    # Five failures spread over three nodes (--max-failures 5): the sixth try waits, at any node.
    uuid, key = ids["throttle"]
    bad = wrong_code(key)
    for addr in (n1, n1, n2, n2, n3):
        a = registration(t, addr, uuid, code=bad, source="127.0.0.21")
        if a.status != 401:
            raise Failure(f"a wrong code at {addr}: {a!r}")
    a = registration(t, n1, uuid, code=totp(key), source="127.0.0.21")
    if a.status != 429 or not a.field("Retry-After"):
        raise Failure(f"after five failures over three nodes the sixth try should get 429: {a!r}")
    a = registration(t, n2, uuid, code=totp(key), source="127.0.0.22")
    if a.status != 200:
        raise Failure(f"another address is not throttled by the first one's failures: {a!r}")

    # A pool credential from node 1 is good at node 2, and at node 2 after a restart.
    uuid, key = ids["credential"]
    a = registration(t, n1, uuid, code=totp(key), source="127.0.0.31", pool=True)
    credential = a.field("Rendezvous-Pool-Credential")
    if a.status != 200 or not credential:
        raise Failure(f"a code registration asking for a pool credential: {a!r}")
    a = registration(t, n2, uuid, credential=credential, source="127.0.0.31")
    if a.status != 200:
        raise Failure(f"node 1's credential at node 2: {a!r}")
    c.node(2).kill()
    c.start(c.ips[1])
    n2 = c.node(2).addr
    a = registration(t, n2, uuid, credential=credential, source="127.0.0.31")
    if a.status != 200:
        raise Failure(f"node 1's credential at node 2 after its restart: {a!r}")

    # Redis silent (SIGSTOP): codes get 503 + Retry-After within about --redis-timeout;
    # credentials and pairing go on; node 4 (--redis-unavailable local) judges codes alone.
    uuid, key = ids["outage"]
    redis.stop()
    try:
        start = time.monotonic()
        a = registration(t, n1, uuid, code=totp(key), source="127.0.0.41")
        took = time.monotonic() - start
        if a.status != 503 or not a.field("Retry-After"):
            raise Failure(f"a code while Redis is silent should get 503 with Retry-After: {a!r}")
        if took > 5:
            raise Failure(f"the 503 took {took:.1f} s; --redis-timeout is 0.5 s")
        a = registration(t, n2, ids["credential"][0], credential=credential, source="127.0.0.31")
        if a.status != 200:
            raise Failure(f"a pool credential while Redis is silent: {a!r}")
        r = t.rvconnect(n3, ids["pairing"][0], input=b"no redis needed")
        t.expect_rc(r, 0)
        a = registration(t, n4, uuid, code=totp(key), source="127.0.0.42")
        if a.status != 200:
            raise Failure(f"node 4 (--redis-unavailable local) should judge a code alone: {a!r}")
        c.wait_redis_up(1, up=False)
        if (c.metric(1, "rv_redis_unavailable_total") or 0) < 1:
            raise Failure("node 1 did not count the registration Redis was needed for")
        c.node(1).wait_stderr(r"redis: without Redis", timeout=5)
    finally:
        redis.cont()
    c.wait_redis_up(1)
    a = registration(t, n1, uuid, code=totp(key), source="127.0.0.41")
    if a.status != 200:
        raise Failure(f"a code after Redis came back: {a!r}")

    # Redis holds no secret: nothing in any key or value is a credential, a secret or a
    # credential key, while it holds what the run put there (the replayed UUID's used code).
    dump = redis.command("EVAL", DUMP, "0")
    if ids["replay"][0].encode() not in dump:
        raise Failure(f"the Redis dump lacks the replayed UUID's keys: {dump[:300]!r}")
    with open(c.key_file) as f:
        credential_key = f.read().strip()
    for name, (uuid_, key_) in ids.items():
        for secret in (harness.b32(key_), key_.hex()):
            if secret.encode() in dump:
                raise Failure(f"the secret of '{name}' is in Redis")
    for what, value in (("a pool credential", credential), ("the credential key", credential_key)):
        if value.encode() in dump:
            raise Failure(f"{what} is in Redis")

    # Redis killed, then restarted on the same socket: 503 meanwhile, codes again after.
    uuid, key = ids["killed"]
    lost_before = c.node(3).count_stderr(r"redis: without Redis")
    redis.kill()
    c.wait_redis_up(3, up=False)
    a = registration(t, n3, uuid, code=totp(key), source="127.0.0.51")
    if a.status != 503:
        raise Failure(f"a code while Redis is dead: {a!r}")
    redis.start()
    c.wait_redis_up(3)
    a = registration(t, n3, uuid, code=totp(key), source="127.0.0.51")
    if a.status != 200:
        raise Failure(f"a code after Redis restarted: {a!r}")
    if c.node(3).count_stderr(r"redis: without Redis") != lost_before + 1:
        raise Failure("node 3 should say once that Redis was lost:\n" + c.node(3).stderr_text())


harness.run(main)
