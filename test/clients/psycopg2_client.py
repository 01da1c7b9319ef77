#!/usr/bin/python3
"""psycopg2 (Debian python3-psycopg2) through the proxy: the queries an
application and its tooling send — plain and parameterized queries, a named
(server-side) cursor, the enum column, and the usual metadata lookups
(information_schema listings, pg_type names of a result's type OIDs).
One JSON line per check (matrix_checks.py); nothing is asserted here.
"""
import psycopg2
import psycopg2.extras

from matrix_checks import check


def connect(autocommit=True):
    conn = psycopg2.connect("")  # libpq environment
    conn.autocommit = autocommit
    return conn


def rows(conn, sql, params=None):
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return [list(r) for r in cur.fetchall()]


def main():
    conn = check("connect", connect)
    if conn is None:
        return
    check("identity", lambda: rows(conn, "SELECT current_database(), current_user, current_schema()"))
    check("select", lambda: rows(conn, "SELECT id, name, email FROM customers ORDER BY id"))
    check("parameterized", lambda: rows(conn, "SELECT name FROM customers WHERE id = %s OR name = %s", (1, "Bob")))
    check("enum_column", lambda: rows(conn, "SELECT id, status FROM orders ORDER BY id"))

    def named_cursor():
        with connect(autocommit=False) as tx_conn:
            with tx_conn.cursor(name="matrix_cursor") as cur:
                cur.itersize = 1
                cur.execute("SELECT id, name FROM customers ORDER BY id")
                fetched = [list(r) for r in cur.fetchmany(1)] + [list(r) for r in cur.fetchall()]
            tx_conn.rollback()
            return fetched

    check("named_cursor", named_cursor)

    def dict_cursor():
        with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
            cur.execute("SELECT * FROM customers ORDER BY id")
            return {"columns": [d.name for d in cur.description], "rows": cur.fetchall()}

    check("select_star_columns", dict_cursor)
    check(
        "information_schema_tables",
        lambda: rows(
            conn,
            "SELECT table_schema, table_name, table_type FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2",
        ),
    )
    check(
        "information_schema_columns",
        lambda: rows(
            conn,
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
        ),
    )

    def result_type_names():
        with conn.cursor() as cur:
            cur.execute("SELECT * FROM orders LIMIT 0")
            oids = [d.type_code for d in cur.description]
        return rows(conn, "SELECT oid::int, typname FROM pg_catalog.pg_type WHERE oid = ANY(%s) ORDER BY 1", (oids,))

    check("type_names_of_result", result_type_names)
    conn.close()


if __name__ == "__main__":
    main()
