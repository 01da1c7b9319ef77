"""Shared by the Python client scripts of the client matrix
(test/integration/clients-*.test.ts): each check runs in isolation and is
reported as one JSON line on stdout, {"check", "ok", "result"} or
{"check", "ok": false, "error"}, so one failing check never hides the
others. The error carries the SQLSTATE first when the driver exposes it,
and the SQL that failed when the driver does (asyncpg, psycopg).
Connection parameters come from the libpq environment (PGHOST, PGPORT, ...).
"""
import json
import sys
import traceback


def _sqlstate(error):
    for attr in ("sqlstate", "pgcode"):
        code = getattr(error, attr, None)
        if code:
            return code
    cause = getattr(error, "orig", None)  # SQLAlchemy wraps the DB-API error
    return _sqlstate(cause) if cause is not None and cause is not error else None


def _describe(error):
    code = _sqlstate(error)
    text = f"{type(error).__name__}: {error}".strip()
    return f"{code} {text}" if code else text


def report(name, ok, result=None, error=None):
    line = {"check": name, "ok": ok}
    if ok:
        line["result"] = result
    else:
        line["error"] = error
    print(json.dumps(line, default=str), flush=True)


def check(name, fn):
    """Runs fn() and reports it; returns its result, or None when it failed."""
    try:
        result = fn()
    except Exception as error:  # noqa: BLE001 - every failure is a reported result
        report(name, False, error=_describe(error))
        traceback.print_exc(file=sys.stderr)
        return None
    report(name, True, result)
    return result


async def check_async(name, coroutine_fn):
    try:
        result = await coroutine_fn()
    except Exception as error:  # noqa: BLE001
        report(name, False, error=_describe(error))
        traceback.print_exc(file=sys.stderr)
        return None
    report(name, True, result)
    return result
