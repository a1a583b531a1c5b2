#!/usr/bin/env python3
"""Scenario 14: --help and --version of each program exit 0; --help mentions every option of the
command-line contract; bad usage exits 2."""
import re

import harness as h

OPTIONS = {
    "rvserver": ["--listen", "--cert", "--key", "--secrets", "--grace", "--log-level", "--config",
                 "--help", "--version"],
    "rvhidden": ["--server", "--uuid", "--secrets", "--forward", "--pool", "--ca-file", "--pin",
                 "--server-name", "--log-level", "--help", "--version"],
    "rvconnect": ["--server", "--listen", "--ca-file", "--pin", "--server-name", "--help", "--version"],
}


def main(t):
    for name, options in OPTIONS.items():
        r = t.run(name, [t.bin(name), "--help"], timeout=10)
        t.expect_rc(r, 0, f"{name} --help")
        text = r.out.decode(errors="replace")
        missing = [o for o in options if not re.search(re.escape(o) + r"\b", text)]
        t.check(not missing, f"{name} --help does not mention {missing}")

        r = t.run(name, [t.bin(name), "--version"], timeout=10)
        t.expect_rc(r, 0, f"{name} --version")
        t.check(re.search(r"\d+\.\d+", r.out.decode(errors="replace")), f"{name} --version: {r.out!r}")

        r = t.run(name, [t.bin(name), "--no-such-option"], timeout=10)
        t.expect_rc(r, 2, f"{name} --no-such-option")

    r = t.run("rvconnect", [t.bin("rvconnect"), "--server", "127.0.0.1:9"], timeout=10)
    t.expect_rc(r, 2, "rvconnect without a UUID")


if __name__ == "__main__":
    h.run(main)
