#!/usr/bin/python3
"""psql's tab completion, driven for real: starts psql (argv[1]) in a
pseudo-terminal, types each prefix below followed by TAB TAB, and reports
what readline listed — one JSON line per prefix, {"check", "ok", "result"},
with "result" the screen text (escape sequences removed). psql runs its
completion queries against the server it is connected to (PG* environment);
a failing completion query is silent in psql, so the caller judges by the
candidates shown. Nothing is asserted here.

Usage: psql_tab_complete.py /usr/lib/postgresql/15/bin/psql
"""
import json
import os
import pty
import re
import select
import sys
import tempfile
import time

PREFIXES = {
    "from": "SELECT * FROM ",
    "schema_qualified": "SELECT * FROM inventory.",
    "columns_after_where": "SELECT * FROM customers WHERE ",
    "describe": "\\d ",
    "schemas": "\\dn ",
    "types": "\\dT ",
    "databases": "\\c ",
    "roles": "\\du ",
    "search_path": "SET search_path TO ",
}

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r|\x07")


def read_until_quiet(fd, quiet=0.6, limit=10.0):
    """Reads until nothing arrives for `quiet` seconds (completion queries included)."""
    data = b""
    deadline = time.time() + limit
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], quiet)
        if not ready:
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def main():
    psql = sys.argv[1]
    with tempfile.NamedTemporaryFile("w", suffix=".inputrc", delete=False) as inputrc:
        # List every candidate at once, without "Display all N possibilities?" or paging.
        inputrc.write("set completion-query-items 10000\nset page-completions off\nset bell-style none\n")
    env = dict(os.environ, INPUTRC=inputrc.name, TERM="dumb", COLUMNS="250", LINES="200")
    pid, fd = pty.fork()
    if pid == 0:
        os.execve(psql, [psql, "-X", "-v", "PROMPT1=PSQL> "], env)
    try:
        banner = read_until_quiet(fd, quiet=1.5)
        if b"PSQL>" not in banner:
            print(json.dumps({"check": "connect", "ok": False, "error": ANSI.sub(b"", banner).decode(errors="replace")}))
            return
        print(json.dumps({"check": "connect", "ok": True}))
        for name, prefix in PREFIXES.items():
            os.write(fd, prefix.encode())
            read_until_quiet(fd, quiet=0.3)
            os.write(fd, b"\t\t")
            # Generous: the completion query runs through the proxy on a possibly busy machine.
            screen = read_until_quiet(fd, quiet=2.5, limit=20.0)
            # Ctrl-U clears the typed line for the next prefix.
            os.write(fd, b"\x15")
            read_until_quiet(fd, quiet=0.3)
            text = ANSI.sub(b"", screen).decode(errors="replace")
            print(json.dumps({"check": name, "ok": True, "result": text}), flush=True)
        os.write(fd, b"\\q\n")
        read_until_quiet(fd, quiet=0.5)
    finally:
        os.unlink(inputrc.name)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)


if __name__ == "__main__":
    main()
