/**
 * has_*_privilege for the virtual catalog (catalog/calls.ts): "privilege"
 * means "visible to this user" — SELECT on visible relations and columns,
 * USAGE on visible schemas, CONNECT/TEMPORARY on the data source, EXECUTE on
 * visible (built-in) functions — for any role argument, which is ignored (the
 * proxy user is the only role the user sees). A hidden object answers like a
 * missing one: 42P01 / 3F000 / 3D000 for a literal name, NULL for an OID or
 * for a name held by a column or parameter (has_schema_privilege(n.nspname, …)).
 */
import type { Node } from '@pgsql/types';
import { PgError } from '../errors.js';
import { undefinedFunction } from '../functions.js';
import type { Call } from './call-support.js';
import { guarded, NSPS, PROCS, RELS, regclassLiteral, schemaLiteral, stringLiteral } from './call-support.js';

/** Privilege string $2 names one of `allowed` (PostgreSQL: true if any listed privilege is held). */
const privilegeOk = (allowed: string[]): string =>
  '(SELECT pg_catalog.bool_or(pg_catalog.upper(pg_catalog.btrim(__p.__q)) IN (' +
  `${allowed.flatMap((a) => [`'${a}'`, `'${a} WITH GRANT OPTION'`]).join(', ')})) ` +
  "FROM pg_catalog.unnest(pg_catalog.string_to_array(($2)::text, ',')) AS __p(__q))";

/** SQL for the OID of the relation argument: a literal name resolved here, else oid text or to_regclass. */
function relationOid(c: Call, arg: Node): { sql: string; args: Node[] } {
  const text = stringLiteral(arg);
  if (text !== undefined && !/^\d+$/.test(text)) {
    return { sql: `(${regclassLiteral(text, c.ctx.index, c.ctx.searchPath)})::pg_catalog.oid`, args: [] };
  }
  return {
    sql:
      "CASE WHEN ($1)::text ~ '^[0-9]+$' THEN ($1)::text::pg_catalog.oid " +
      'ELSE pg_catalog.to_regclass(($1)::text)::pg_catalog.oid END',
    args: [arg],
  };
}

/** has_table_privilege / has_any_column_privilege / has_column_privilege. */
export function relationPrivilege(c: Call, withColumn: boolean): Node {
  const n = c.args.length - (withColumn ? 3 : 2); // 1 when a role argument leads
  if (n !== 0 && n !== 1) throw undefinedFunction(c.fn);
  const [rel, col, priv] = withColumn
    ? [c.args[n]!, c.args[n + 1]!, c.args[n + 2]!]
    : [c.args[n]!, undefined, c.args[n + 1]!];
  const oid = relationOid(c, rel);
  const ok = privilegeOk(['SELECT']);
  if (!withColumn) {
    const relNode = oid.args.length ? c.t(oid.sql, oid.args) : c.t(oid.sql);
    return c.t(guarded(`$1 IN ${RELS}`, ok), [relNode, priv]);
  }
  const relNode = oid.args.length ? c.t(oid.sql, oid.args) : c.t(oid.sql);
  return c.t(
    guarded(
      '($1, ($3)::text) IN (SELECT __a.attrelid, __a.attname::text FROM pg_catalog.pg_attribute AS __a ' +
        'UNION ALL SELECT __a.attrelid, __a.attnum::text FROM pg_catalog.pg_attribute AS __a)',
      ok,
    ),
    [relNode, priv, col!],
  );
}

export function schemaPrivilege(c: Call): Node {
  const n = c.args.length - 2;
  if (n !== 0 && n !== 1) throw undefinedFunction(c.fn);
  const [schema, priv] = [c.args[n]!, c.args[n + 1]!];
  const text = stringLiteral(schema);
  const ok = privilegeOk(['USAGE']);
  if (text !== undefined) {
    schemaLiteral(text, c.ctx.index); // 3F000 for a hidden or missing schema
    return c.t(ok, [schema, priv]);
  }
  // A column or parameter holds a schema OID or a schema NAME (n.nspname): both are accepted, as upstream.
  const oid =
    "CASE WHEN ($1)::text ~ '^[0-9]+$' THEN ($1)::text::pg_catalog.oid " +
    'ELSE pg_catalog.to_regnamespace(pg_catalog.quote_ident(($1)::text))::pg_catalog.oid END';
  return c.t(guarded(`${oid} IN ${NSPS}`, ok), [schema, priv]);
}

export function databasePrivilege(c: Call): Node {
  const n = c.args.length - 2;
  if (n !== 0 && n !== 1) throw undefinedFunction(c.fn);
  const [db, priv] = [c.args[n]!, c.args[n + 1]!];
  const text = stringLiteral(db);
  if (text !== undefined && text !== c.ctx.index.dataSourceName && !/^\d+$/.test(text)) {
    throw new PgError('3D000', `database "${text}" does not exist`);
  }
  const ok = privilegeOk(['CONNECT', 'TEMPORARY', 'TEMP']);
  if (text !== undefined) return c.t(ok, [db, priv]);
  return c.t(
    guarded(
      `($1)::text IN (SELECT __d.datname::text FROM pg_catalog.pg_database AS __d UNION ALL SELECT __d.oid::text FROM pg_catalog.pg_database AS __d)`,
      ok,
    ),
    [db, priv],
  );
}

export function functionPrivilege(c: Call): Node {
  const n = c.args.length - 2;
  if (n !== 0 && n !== 1) throw undefinedFunction(c.fn);
  const [fn, priv] = [c.args[n]!, c.args[n + 1]!];
  const oid =
    "CASE WHEN ($1)::text ~ '^[0-9]+$' THEN ($1)::text::pg_catalog.oid " +
    'ELSE pg_catalog.to_regprocedure(($1)::text)::pg_catalog.oid END';
  return c.t(guarded(`${oid} IN ${PROCS}`, privilegeOk(['EXECUTE'])), [fn, priv]);
}
