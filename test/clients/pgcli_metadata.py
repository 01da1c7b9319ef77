#!/usr/bin/python3
"""pgcli (Debian package pgcli 3.5) metadata, non-interactively: the
PGExecute calls pgcli's completion refresher makes in the background
(schemata, tables, views, table/view columns, foreign keys, functions,
datatypes, databases, search path) and three special commands through
pgspecial (\\dt, \\d customers, \\l) as pgcli runs them. Then the pgcli
program itself, with its commands piped on stdin (pgcli 3.5 has no -e; it
warns that its input is not a terminal and runs them): "interactive ..."
checks, whose result is pgcli's screen output with escape sequences removed.
One JSON line per check.
"""
import os
import re
import subprocess
import tempfile

from pgcli.pgexecute import PGExecute
from pgspecial.main import PGSpecial

from matrix_checks import check


def main():
    env = os.environ
    executor = check(
        "connect",
        lambda: PGExecute(
            database=env["PGDATABASE"], user=env["PGUSER"], password=env["PGPASSWORD"],
            host=env["PGHOST"], port=env["PGPORT"], dsn=None, sslmode="disable",
        ),
    )
    if executor is None:
        return
    check("search_path", executor.search_path)
    check("schemata", executor.schemata)
    check("tables", lambda: list(executor.tables()))
    check("views", lambda: list(executor.views()))
    check("table_columns", lambda: [list(c[:4]) for c in executor.table_columns()])
    check("view_columns", lambda: [list(c[:4]) for c in executor.view_columns()])
    check("foreignkeys", lambda: [list(fk) for fk in executor.foreignkeys()])
    check("functions", lambda: [f.func_name for f in executor.functions()])
    check("datatypes", lambda: list(executor.datatypes()))
    check("databases", executor.databases)

    pgspecial = PGSpecial()

    def special(command):
        out = []
        for title, cur, headers, status, *_ in executor.run(command, pgspecial=pgspecial):
            out.append({"title": title, "headers": list(headers or []), "rows": [list(r) for r in (cur or [])], "status": status})
        return out

    for command in ("\\dt", "\\d customers", "\\l"):
        check(f"special {command}", lambda c=command: special(c))
    for command in ("\\dt", "\\d customers", "SELECT name, email FROM customers ORDER BY id"):
        check(f"interactive {command}", lambda c=command: interactive(c))


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r")


def interactive(command):
    """Runs pgcli with `command` on stdin; fails when pgcli exits non-zero or prints an error."""
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, TERM="dumb")
        done = subprocess.run(
            ["pgcli", "--less-chatty", "--row-limit", "0", "--prompt", "pgcli> "],
            input=command + "\n", capture_output=True, text=True, env=env, timeout=60,
        )
    screen = ANSI.sub("", done.stdout + done.stderr)
    errors = [line for line in screen.splitlines() if re.search(r"\b(error|does not exist|exception)\b", line, re.I)]
    if done.returncode != 0 or errors:
        raise RuntimeError(f"pgcli exit {done.returncode}: " + " | ".join(errors or [screen[-500:]]))
    return screen


if __name__ == "__main__":
    main()
