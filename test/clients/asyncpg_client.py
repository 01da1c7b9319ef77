#!/usr/bin/python3
"""asyncpg (Debian python3-asyncpg) through the proxy: connection set-up,
named prepared statements reused with different arguments, type
introspection (asyncpg reads pg_type & co. the first time a result or
parameter has a type it does not know — here the enum order_status and the
array of it), a custom codec (set_type_codec introspects too), a cursor in a
transaction, and executemany. One JSON line per check (matrix_checks.py).
"""
import asyncio

import asyncpg

from matrix_checks import check_async


def records(rs):
    return [list(r.values()) for r in rs]


async def main():
    conn = await check_async("connect", lambda: asyncpg.connect())  # libpq environment
    if conn is None:
        return
    await check_async("identity", lambda: _fetch(conn, "SELECT current_database(), current_user, current_schema()"))
    await check_async("select", lambda: _fetch(conn, "SELECT id, name, email FROM customers ORDER BY id"))

    async def prepared():
        stmt = await conn.prepare("SELECT name FROM customers WHERE id = $1")
        out = [await stmt.fetchval(i) for i in (1, 2, 3)]
        return {"params": [str(t.name) for t in stmt.get_parameters()], "values": out}

    await check_async("named_prepared_statement", prepared)
    await check_async("enum_type_introspection", lambda: _fetch(conn, "SELECT id, status FROM orders ORDER BY id"))
    await check_async(
        "enum_parameter",
        lambda: _fetch(conn, "SELECT id FROM orders WHERE status = ANY($1::order_status[]) ORDER BY id", ["paid", "new"]),
    )

    async def custom_codec():
        await conn.set_type_codec("order_status", encoder=str, decoder=lambda s: s.upper(), schema="public", format="text")
        return await _fetch(conn, "SELECT status FROM orders ORDER BY id")

    await check_async("set_type_codec", custom_codec)

    async def cursor():
        async with conn.transaction():
            return [list(r.values()) async for r in conn.cursor("SELECT id, name FROM customers ORDER BY id", prefetch=1)]

    await check_async("cursor", cursor)

    async def attributes():
        stmt = await conn.prepare("SELECT * FROM customers")
        return [[a.name, a.type.name] for a in stmt.get_attributes()]

    await check_async("result_attributes", attributes)
    await conn.close()


async def _fetch(conn, sql, *args):
    return records(await conn.fetch(sql, *args))


if __name__ == "__main__":
    asyncio.run(main())
