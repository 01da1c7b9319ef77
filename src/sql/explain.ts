/**
 * EXPLAIN policy (threat model V67, V121–V123).
 *
 * API:
 *   checkExplain(stmt: ExplainStmt, policy?: ExplainPolicy) → PgError | { query: Node; options: ExplainOptions }
 *       `query` is the inner statement; classify.ts applies the query rules to it.
 *   explainPrefix(options: ExplainOptions): string — `EXPLAIN (FORMAT JSON, COSTS OFF) `, to put in
 *       front of the deparsed, rewritten inner query.
 *
 * Decision: EXPLAIN is OFF by default, per data source. The plan of a
 * rewritten query necessarily describes the secured subquery — `Filter: (org
 * = 'acme'::text)` prints the row filter and its literal, mask expressions
 * appear in plans, index names can name denied columns, and row estimates come
 * from statistics over all tenants — and the proxy cannot sanitise the result
 * rows (it does not parse plan text). Disabled, every EXPLAIN gets one
 * uniform error, decided from the node type alone, before any name
 * resolution, so hidden and missing tables answer alike:
 *   42501 `permission denied: EXPLAIN is disabled for this data source`.
 *
 * An admin who enables it accepts that users see, for their own queries, the
 * plan of the rewritten SQL: their own row-filter expressions and literals,
 * mask expressions, real schema/table/index names, and estimated row counts
 * of whole tables (other tenants' volume, V122). Even then only
 * `EXPLAIN [(FORMAT TEXT|JSON, COSTS on|off)] <admitted SELECT>` passes:
 * ANALYZE executes and reports `Rows Removed by Filter` (other tenants' row
 * counts); VERBOSE prints output column lists of base scans (denied columns);
 * BUFFERS/WAL/TIMING/SUMMARY/MEMORY/SERIALIZE/SETTINGS/GENERIC_PLAN add
 * sizes, timings or settings. Those options are accepted only when
 * explicitly false; otherwise 42501 naming the option.
 */
import type { ExplainStmt, Node } from '@pgsql/types';
import { PgError, SQLSTATE } from './errors.js';

export interface ExplainPolicy {
  /** Per data source; default false. */
  enabled: boolean;
}
export const EXPLAIN_DISABLED: ExplainPolicy = { enabled: false };

export interface ExplainOptions {
  format: 'text' | 'json';
  costs: boolean;
}

/** Options allowed only when explicitly false. */
const MUST_BE_OFF = new Set([
  'analyze',
  'verbose',
  'buffers',
  'wal',
  'timing',
  'summary',
  'memory',
  'serialize',
  'settings',
  'generic_plan',
]);

export const explainDisabled = (): PgError =>
  new PgError(SQLSTATE.insufficientPrivilege, 'permission denied: EXPLAIN is disabled for this data source');

const optionRefused = (text: string): PgError =>
  new PgError(
    SQLSTATE.insufficientPrivilege,
    `permission denied: EXPLAIN option "${text}" is not allowed for this data source`,
  );

/** The option value as text (absent argument means "true", as in PostgreSQL). */
function optionText(arg: Node | undefined): string {
  if (!arg) return 'true';
  if ('String' in arg) return (arg.String.sval ?? '').toLowerCase();
  if ('Integer' in arg) return String(arg.Integer.ival ?? 0);
  if ('A_Const' in arg) return String(arg.A_Const.sval?.sval ?? arg.A_Const.ival?.ival ?? 0).toLowerCase();
  if ('Boolean' in arg) return arg.Boolean.boolval ? 'true' : 'false';
  return '?';
}

const FALSE = new Set(['false', 'off', 'no', '0']);
const TRUE = new Set(['true', 'on', 'yes', '1']);

export function checkExplain(
  stmt: ExplainStmt,
  policy: ExplainPolicy = EXPLAIN_DISABLED,
): PgError | { query: Node; options: ExplainOptions } {
  if (!policy.enabled || !stmt.query) return explainDisabled();
  const options: ExplainOptions = { format: 'text', costs: true };
  for (const item of stmt.options ?? []) {
    if (!('DefElem' in item)) return optionRefused('?');
    const name = (item.DefElem.defname ?? '').toLowerCase();
    const value = optionText(item.DefElem.arg as Node | undefined);
    if (name === 'format' && (value === 'text' || value === 'json')) options.format = value;
    else if (name === 'costs' && (TRUE.has(value) || FALSE.has(value))) options.costs = TRUE.has(value);
    else if (!(MUST_BE_OFF.has(name) && FALSE.has(value))) {
      return optionRefused(name === 'format' ? `format ${value}` : name);
    }
  }
  return { query: stmt.query, options };
}

export function explainPrefix(options: ExplainOptions): string {
  return `EXPLAIN (FORMAT ${options.format.toUpperCase()}, COSTS ${options.costs ? 'ON' : 'OFF'}) `;
}
