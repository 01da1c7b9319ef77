#!/usr/bin/python3
"""psycopg 3 (Debian python3-psycopg) through the proxy: server-side
parameters (extended protocol), prepared statements (prepare=True, named on
the server), binary results, a server-side cursor, and type introspection —
TypeInfo / EnumInfo.fetch and register_enum, which read pg_type / pg_enum.
One JSON line per check (matrix_checks.py); nothing is asserted here.
"""
import psycopg
from psycopg.types.enum import EnumInfo, register_enum

from matrix_checks import check


def main():
    conn = check("connect", lambda: psycopg.connect("", autocommit=True))
    if conn is None:
        return

    def rows(sql, params=None, **kwargs):
        return [list(r) for r in conn.execute(sql, params, **kwargs).fetchall()]

    check("identity", lambda: rows("SELECT current_database(), current_user, current_schema()"))
    check("select", lambda: rows("SELECT id, name, email FROM customers ORDER BY id"))
    check("parameterized", lambda: rows("SELECT name FROM customers WHERE id = %s OR name = %s", (1, "Bob")))

    def prepared():
        # prepare=True names the statement on the server (_pg3_N) and reuses it.
        return [rows("SELECT count(*) FROM orders WHERE customer_id = %s", (i,), prepare=True) for i in (1, 2, 1)]

    check("prepared_statement", prepared)

    def select_star_columns():
        cur = conn.execute("SELECT * FROM customers ORDER BY id")
        return {"columns": [d.name for d in cur.description], "rows": [list(r) for r in cur.fetchall()]}

    check("select_star_columns", select_star_columns)

    def binary():
        with conn.cursor(binary=True) as cur:
            cur.execute("SELECT id, total, status FROM orders ORDER BY id")
            return [list(r) for r in cur.fetchall()]

    check("binary_results", binary)

    def server_cursor():
        with conn.transaction():
            with conn.cursor(name="matrix_cursor") as cur:
                cur.execute("SELECT id, name FROM customers ORDER BY id")
                return [list(r) for r in cur.fetchmany(1)] + [list(r) for r in cur.fetchall()]

    check("server_side_cursor", server_cursor)

    def type_info():
        info = psycopg.types.TypeInfo.fetch(conn, "order_status")
        if info is None:
            raise LookupError("TypeInfo.fetch found no type order_status")
        return {"name": info.name, "oid": info.oid, "array_oid": info.array_oid}

    check("typeinfo_fetch", type_info)

    def enum_info():
        info = EnumInfo.fetch(conn, "order_status")
        if info is None:
            raise LookupError("EnumInfo.fetch found no enum order_status")
        register_enum(info, conn)
        statuses = rows("SELECT status FROM orders ORDER BY id")
        return {"labels": info.labels, "values": [[str(s[0])] for s in statuses]}

    check("enum_introspection", enum_info)
    conn.close()


if __name__ == "__main__":
    main()
