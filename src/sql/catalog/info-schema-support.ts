/**
 * Building blocks shared by the information_schema builders (info-schema*.ts).
 *
 * information_schema rows name objects by (schema, name) text, not by OID, so
 * visibility is decided by looking the names up in the real catalog and
 * testing the OIDs against the visible-object model (visible.ts). Rows that
 * information_schema derives from grants are never taken from the upstream:
 * `synthetic()` builds them from visible objects with the view's own row type.
 */
import { overridden, relOid } from './pg-catalog.js';
import type { VisibleModel } from './visible.js';

/** `information_schema.<name> AS _x`: the upstream view, filtered and overridden by a builder. */
export const view = (name: string): string => `information_schema.${name} AS _x`;

/** The upstream view with no rows (same columns on every version): objects Rowgate never shows. */
export const none = (name: string) => (): string => `SELECT _x.* FROM ${view(name)} WHERE false`;

/** `_x.<col>` → the data source name where not NULL. */
export const catalogs = (m: VisibleModel, ...cols: string[]): Record<string, string> =>
  Object.fromEntries(cols.map((c) => [c, `CASE WHEN _x.${c} IS NOT NULL THEN ${m.ds} END`]));

/** `_x.<col>` → the visible name of the upstream schema it holds (unchanged for pg_catalog & co.). */
export const schemas = (m: VisibleModel, ...cols: string[]): Record<string, string> =>
  Object.fromEntries(
    cols.map((c) => [
      c,
      `COALESCE((SELECT _sm.vs FROM ${m.schemasFrom('_sm')} WHERE _sm.s = _x.${c}), _x.${c})`,
    ]),
  );

export const visibleTable = (m: VisibleModel, s: string, t: string): string =>
  `(${s}, ${t}) IN (SELECT _t.s, _t.r FROM ${m.tablesFrom('_t')})`;
export const visibleColumn = (m: VisibleModel, s: string, t: string, c: string): string =>
  `(${s}, ${t}, ${c}) IN (SELECT _c.s, _c.r, _c.c FROM ${m.columnsFrom('_c')})`;

/** The constraint `name` of table `s.t` (or of schema `s`, any table) is visible. */
export const visibleConstraint = (m: VisibleModel, s: string, name: string, table?: string): string =>
  `EXISTS (SELECT 1 FROM pg_catalog.pg_constraint _k JOIN pg_catalog.pg_namespace _kn ON _kn.oid = _k.connamespace ` +
  `WHERE _kn.nspname = ${s} AND _k.conname = ${name} AND _k.oid IN ${m.con}` +
  (table ? ` AND _k.conrelid = ${relOid(s, table)})` : ')');

/**
 * A visible constraint `s.name` that uses table `ts.tn` — its own table, or for a foreign key the
 * referenced one, as constraint_table_usage / constraint_column_usage pair them. Constraint names
 * are unique per table only: a hidden table's constraint of the same name never matches.
 */
export const visibleConstraintUsing = (
  m: VisibleModel,
  s: string,
  name: string,
  ts: string,
  tn: string,
): string =>
  `EXISTS (SELECT 1 FROM pg_catalog.pg_constraint _k JOIN pg_catalog.pg_namespace _kn ON _kn.oid = _k.connamespace ` +
  `WHERE _kn.nspname = ${s} AND _k.conname = ${name} AND _k.oid IN ${m.con} ` +
  `AND CASE WHEN _k.contype = 'f' THEN _k.confrelid ELSE _k.conrelid END = ${relOid(ts, tn)})`;

/** OID of the type `schema.name` given as two text expressions over the real catalog. */
export const typeOid = (s: string, n: string): string =>
  '(SELECT _to.oid FROM pg_catalog.pg_type _to JOIN pg_catalog.pg_namespace _tn ON _tn.oid = _to.typnamespace ' +
  `WHERE _tn.nspname = ${s} AND _to.typname = ${n})`;

/**
 * PostgreSQL 15 shows each NOT NULL column as a CHECK constraint named
 * `<schema oid>_<table oid>_<attnum>_not_null` (no pg_constraint row; 17+ has
 * real ones, which `con` covers): visible when that column is.
 */
export const notNullPseudoConstraint = (m: VisibleModel, name: string): string =>
  `(${name} ~ '^[0-9]+_[0-9]+_[0-9]+_not_null$' AND ` +
  `(pg_catalog.split_part(${name}, '_', 2)::pg_catalog.oid, pg_catalog.split_part(${name}, '_', 3)::pg_catalog.int2) IN ${m.att})`;

/**
 * Rows of `information_schema.<name>`'s own row type computed from `from`
 * (visible objects), never from the upstream view: `SELECT *` has the
 * version's exact column list, and columns not named stay NULL.
 */
export const synthetic = (
  name: string,
  from: string,
  columns: Record<string, string>,
  where = 'true',
): string => overridden(from, `NULL::information_schema.${name}`, columns, where);

/** One-row FROM item for synthetic rows that depend on nothing (the connected user, the data source). */
export const ONE_ROW = '(VALUES (1)) AS _x(one)';
