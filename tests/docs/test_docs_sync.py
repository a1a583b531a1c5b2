#!/usr/bin/env python3
"""Keeps the shell completions and man pages in sync with each program's --help.

For rvserver, rvhidden and rvconnect: runs `PROG --help`, takes every option of its option table
(long names, and the short letters given with them), and checks that each appears in
  completions/bash/PROG, completions/zsh/_PROG, completions/fish/PROG.fish and man/PROG.1
(in the man page: as an entry of the OPTIONS section, whose text names the default shown by
--help). It also checks the other way: no completion file or OPTIONS entry names an option that
--help does not have, and no --option mentioned in the prose of --help is missing from its table.
Subcommands (`rvserver secrets add`, `rvserver cert`, ...) have a --help of their own: their
options must appear in the same completion files and as entries of the man page's section for
them (PROVISIONING), with the defaults their --help shows.
Where bash, zsh, fish or groff are installed, the files must also parse / render without warnings.

Exit 0 when everything is in sync, 1 listing what is missing. Python 3 stdlib only.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

PROGRAMS = ("rvserver", "rvhidden", "rvconnect")
# Subcommands with options of their own: {program: ([subcommand words], ...), man page section}.
SUBCOMMANDS = {
    "rvserver": ((["secrets", "add"], ["secrets", "list"], ["secrets", "remove"], ["secrets", "rotate"],
                  ["cert"]), "PROVISIONING"),
}

# An option line of a Boost.Program_options table: "  -l [ --listen ] HOST:PORT (=3)  text"
# or "  --cert FILE  text". Continuation lines start with much more indentation.
OPTION_LINE = re.compile(
    r"^ {1,4}(?:-(?P<short>\w) \[ --(?P<long1>[\w-]+) \]|--(?P<long2>[\w-]+))"
    r"(?: (?P<arg>[^\s(]+))?(?: \(=(?P<default>[^)]*)\))?")
LONG_ANYWHERE = re.compile(r"(?<![\w-])--([a-z][\w-]*)")


class HelpOption:
    def __init__(self, long, short, default):
        self.long, self.short, self.default = long, short, default

    def __repr__(self):
        return f"--{self.long}"


def parse_help(text):
    """The option table of --help, and every --option named anywhere in it."""
    options = {}
    for line in text.splitlines():
        m = OPTION_LINE.match(line)
        if m:
            long = m.group("long1") or m.group("long2")
            options[long] = HelpOption(long, m.group("short"), m.group("default"))
    mentioned = set(LONG_ANYWHERE.findall(text))
    return options, mentioned


def run_help(binary, words=()):
    r = subprocess.run([binary, *words, "--help"], capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join([binary, *words])} --help exited with {r.returncode}: "
                           f"{r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode("utf-8", "replace")


def find_binary(build_dir, prog):
    for candidate in (os.path.join(build_dir, prog, prog), os.path.join(build_dir, "bin", prog),
                      os.path.join(build_dir, prog)):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def strip_comments(text, comment="#"):
    """Drops whole-line comments (the headers of the completion files name no options)."""
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith(comment))


def has_word(text, word):
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


# ------------------------------------------------------------------------------ completions

def check_shell(text, opts, known=()):
    """bash and zsh: each option as a word ("--listen", "-l"; zsh's "--listen=" and "-l+" too).
    `known`: more option names the file may name (a subcommand's)."""
    body = strip_comments(text)
    missing = [f"--{o.long}" for o in opts.values() if not has_word(body, f"--{o.long}")]
    missing += [f"-{o.short}" for o in opts.values() if o.short and not has_word(body, f"-{o.short}")]
    unknown = sorted(set(LONG_ANYWHERE.findall(body)) - set(opts) - set(known))
    return missing, unknown


def check_fish(text, opts, known=()):
    body = strip_comments(text)
    longs = set(re.findall(r"(?:\s-l|--long-option)\s+'?([\w-]+)'?", body))
    shorts = set(re.findall(r"(?:\s-s|--short-option)\s+'?(\w)'?", body))
    missing = [f"--{o.long}" for o in opts.values() if o.long not in longs]
    missing += [f"-{o.short}" for o in opts.values() if o.short and o.short not in shorts]
    unknown = sorted(longs - set(opts) - set(known))
    return missing, unknown


# ------------------------------------------------------------------------------ man pages

def roff_to_text(line):
    line = re.sub(r"\\f(?:\[[^]]*\]|\(..|.)", "", line)  # font changes
    line = line.replace(r"\%", "").replace(r"\&", "").replace(r"\c", "")
    line = line.replace(r"\-", "-").replace(r"\(aq", "'").replace(r"\e", "\\")
    line = re.sub(r'^\.(?:B|I|BR|RB|BI|IB|IR|RI|SM)\s+', "", line)
    return line.replace('"', "")


def man_option_entries(text, section="OPTIONS"):
    """{long option: (header, body)} for each .TP entry of a section (OPTIONS, with its .SS
    subsections), and the other --options its headers name."""
    entries = {}
    in_options = False
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".SH"):
            in_options = line.split(None, 1)[1:] == [section]
        elif in_options and line.startswith(".TP") and i + 1 < len(lines):
            header = roff_to_text(lines[i + 1])
            body = []
            j = i + 2
            while j < len(lines) and not re.match(r"\.(TP|SH|SS|PP|P|LP)\b", lines[j]):
                body.append(roff_to_text(lines[j]))
                j += 1
            for long in LONG_ANYWHERE.findall(header):
                entries[long] = (header, " ".join(body))
            i = j
            continue
        i += 1
    return entries


def check_man(text, opts, section="OPTIONS"):
    entries = man_option_entries(text, section)
    missing, wrong = [], []
    for o in opts.values():
        if o.long not in entries:
            missing.append(f"--{o.long}")
            continue
        header, body = entries[o.long]
        if o.short and not has_word(header, f"-{o.short}"):
            missing.append(f"-{o.short} (with --{o.long})")
        if o.default is not None and not re.search(
                r"Default: " + re.escape(o.default) + r"(?![\w])", body):
            wrong.append(f"--{o.long}: --help says the default is {o.default!r}; the man page "
                         f"({section}) does not say 'Default: {o.default}.'")
    unknown = sorted(set(entries) - set(opts))
    return missing, unknown, wrong


# ------------------------------------------------------------------------------ syntax

def syntax_problems(paths):
    """Parses each completion file with its shell, and renders each man page, where the tools
    are installed. Tools that are missing are reported as skipped, not as failures."""
    problems, skipped = [], []

    def run(argv, what):
        r = subprocess.run(argv, capture_output=True, timeout=60)
        out = (r.stdout + r.stderr).decode(errors="replace").strip()
        if r.returncode != 0 or out:
            problems.append(f"{what}: {out or 'exit ' + str(r.returncode)}")

    for shell, files in (("bash", paths["bash"]), ("zsh", paths["zsh"]), ("fish", paths["fish"])):
        if not shutil.which(shell):
            skipped.append(f"{shell} -n (no {shell})")
            continue
        for f in files:
            if os.path.isfile(f):
                run([shell, "-n", f], f"{shell} -n {f}")
    if shutil.which("groff"):
        for f in paths["man"]:
            if os.path.isfile(f):
                run(["groff", "-man", "-Tutf8", "-ww", "-z", f], f"groff -ww {f}")
    else:
        skipped.append("groff -ww (no groff)")
    return problems, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", required=True, help="where the programs were built")
    ap.add_argument("--source-dir", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), help="the repository (default: found from this file)")
    args = ap.parse_args()
    src = args.source_dir

    failures = []
    paths = {"bash": [], "zsh": [], "fish": [], "man": [os.path.join(src, "man", "rendezvous-secrets.5")]}
    for prog in PROGRAMS:
        files = {
            "bash": os.path.join(src, "completions", "bash", prog),
            "zsh": os.path.join(src, "completions", "zsh", "_" + prog),
            "fish": os.path.join(src, "completions", "fish", prog + ".fish"),
            "man": os.path.join(src, "man", prog + ".1"),
        }
        for kind, path in files.items():
            paths[kind].append(path)

        binary = find_binary(args.build_dir, prog)
        if not binary:
            failures.append(f"{prog}: no binary in {args.build_dir} (build first)")
            continue
        try:
            opts, mentioned = parse_help(run_help(binary))
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            failures.append(f"{prog}: {e}")
            continue
        if len(opts) < 4:
            failures.append(f"{prog}: found only {sorted(opts)} in --help: has its format changed?")
            continue
        stray = sorted(mentioned - set(opts))
        if stray:
            failures.append(f"{prog} --help: mentions {', '.join('--' + s for s in stray)}, "
                            f"which its option table does not have")

        # Each subcommand's own --help: {"secrets add": {long: HelpOption}}.
        sub_words, sub_section = SUBCOMMANDS.get(prog, ((), None))
        subs = {}
        for words in sub_words:
            name = " ".join(words)
            try:
                sub_opts, _ = parse_help(run_help(binary, words))
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
                failures.append(f"{prog} {name}: {e}")
                continue
            if len(sub_opts) < 2:
                failures.append(f"{prog} {name}: found only {sorted(sub_opts)} in --help: has its format "
                                f"changed?")
                continue
            subs[name] = sub_opts
        sub_longs = {long for sub_opts in subs.values() for long in sub_opts}

        checks = {"bash": check_shell, "zsh": check_shell, "fish": check_fish}
        for kind, check in checks.items():
            path = files[kind]
            if not os.path.isfile(path):
                failures.append(f"{prog}: {os.path.relpath(path, src)} does not exist")
                continue
            missing, unknown = check(read(path), opts, sub_longs)
            rel = os.path.relpath(path, src)
            if missing:
                failures.append(f"{rel}: missing {', '.join(missing)}")
            if unknown:
                failures.append(f"{rel}: names {', '.join('--' + u for u in unknown)}, "
                                f"which '{prog} --help' does not have")
            for name, sub_opts in subs.items():
                missing, _ = check(read(path), sub_opts)
                if missing:
                    failures.append(f"{rel}: missing {', '.join(missing)} of '{prog} {name}'")
        path = files["man"]
        rel = os.path.relpath(path, src)
        if not os.path.isfile(path):
            failures.append(f"{prog}: {rel} does not exist")
        else:
            missing, unknown, wrong = check_man(read(path), opts)
            if missing:
                failures.append(f"{rel}: OPTIONS has no entry for {', '.join(missing)}")
            if unknown:
                failures.append(f"{rel}: OPTIONS documents {', '.join('--' + u for u in unknown)}, "
                                f"which '{prog} --help' does not have")
            failures.extend(f"{rel}: {w}" for w in wrong)
            all_sub_opts = {}
            for name, sub_opts in subs.items():
                missing, _, wrong = check_man(read(path), sub_opts, sub_section)
                if missing:
                    failures.append(f"{rel}: {sub_section} has no entry for {', '.join(missing)} "
                                    f"of '{prog} {name}'")
                failures.extend(f"{rel}: '{prog} {name}' {w}" for w in wrong)
                all_sub_opts.update(sub_opts)
            if subs:
                _, unknown, _ = check_man(read(path), all_sub_opts, sub_section)
                if unknown:
                    failures.append(f"{rel}: {sub_section} documents "
                                    f"{', '.join('--' + u for u in unknown)}, which no subcommand's "
                                    f"--help has")
        print(f"{prog}: {len(opts)} options checked against bash, zsh, fish and man"
              + (f"; subcommands {', '.join(subs)}: {len(sub_longs)} options" if subs else ""))

    problems, skipped = syntax_problems(paths)
    failures.extend(problems)
    for s in skipped:
        print(f"skipped: {s}")

    if failures:
        print("\nout of sync with --help:", file=sys.stderr)
        for f in failures:
            print(f"  {f}", file=sys.stderr)
        return 1
    print("docs in sync")
    return 0


if __name__ == "__main__":
    sys.exit(main())
