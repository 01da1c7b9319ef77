/**
 * SessionPolicySet fixtures for rewriter tests, built by hand (never by the
 * policy module) from the threat model's example schema. Expressions are
 * parsed from text with libpg-query, as the policy module would hand them over.
 */
import { createHash } from 'node:crypto';
import type { Node } from '@pgsql/types';
import { parseSync } from 'libpg-query';
import type {
  AnchorHop,
  PolicyRef,
  RowFilter,
  SecuredColumn,
  SecuredTable,
  SessionPolicySet,
} from '../../src/policy/session.js';
import { PgError } from '../../src/sql/errors.js';
import type { RewriteOptions, StatementGate } from '../../src/sql/rewrite.js';
import { rewriteSync } from '../../src/sql/rewrite.js';
import { ensureParser } from '../../src/sql/parse.js';

export const loadParser = (): Promise<void> => ensureParser();

/** The expression node of `SELECT <text>`. */
export function expr(text: string): Node {
  const stmt = parseSync(`SELECT ${text}`).stmts?.[0]?.stmt;
  const target = stmt && 'SelectStmt' in stmt ? stmt.SelectStmt.targetList?.[0] : undefined;
  if (!target || !('ResTarget' in target) || !target.ResTarget.val)
    throw new Error(`not an expression: ${text}`);
  return target.ResTarget.val;
}

export const ref = (name: string, version = 1): PolicyRef => ({ policy_id: `p-${name}`, name, version });

export type ColSpec = string | [name: string, udt: string, mask?: string];

export function col(spec: ColSpec): SecuredColumn {
  if (typeof spec === 'string') return { name: spec, udtName: null, mask: null };
  const [name, udtName, mask] = spec;
  return { name, udtName, mask: mask ? { policy: ref(`mask-${name}`), expr: expr(mask) } : null };
}

export function table(
  schema: string,
  name: string,
  columns: ColSpec[],
  rowFilters: RowFilter[] = [],
  visibleSchema = schema,
): SecuredTable {
  return { schema, visibleSchema, name, tableType: 'TABLE', columns: columns.map(col), rowFilters };
}

export const filter = (text: string, policy = 'tenant'): RowFilter => ({
  kind: 'expr',
  policy: ref(policy),
  expr: expr(text),
});
export const via = (path: AnchorHop[], text: string, policy = 'tenant'): RowFilter => ({
  kind: 'via',
  policy: ref(policy),
  path,
  expr: expr(text),
});
export const never = (policy = 'tenant'): RowFilter => ({
  kind: 'false',
  policy: ref(policy),
  reason: 'unresolved',
});

/** Fingerprint defaults to a hash of the tables: equal sets, equal fingerprints (the contract). */
export function policySet(
  tables: SecuredTable[],
  fingerprint = createHash('sha256').update(JSON.stringify(tables)).digest('hex'),
  dataSource = 'ds',
): SessionPolicySet {
  return {
    fingerprint,
    user: { id: 'u-1', username: 'alice' },
    dataSource: { id: 'd-1', name: dataSource, accessMode: 'open' },
    tables,
    policiesApplied: [ref('tenant'), ref('mask-ssn')],
  };
}

/** The threat model's schema for alice (tenant acme): filters, a mask, a denied column, a hidden payroll. */
export function alicePolicy(): SessionPolicySet {
  const tenant = filter("org = 'acme'");
  return policySet([
    table(
      'public',
      'orders',
      [
        ['id', 'int4'],
        ['org', 'text'],
        ['customer_id', 'int4'],
        ['amount', 'numeric'],
        ['note', 'text'],
      ],
      [tenant],
    ),
    table(
      'public',
      'customers',
      [
        ['id', 'int4'],
        ['org', 'text'],
        ['name', 'text'],
        ['ssn', 'text', "'***-**-' || right(ssn, 4)"],
        ['phone', 'text'],
      ],
      [tenant],
    ),
    table('public', 'employees', [
      ['id', 'int4'],
      ['department', 'text'],
      ['salary', 'int4', '0'],
    ]),
    table(
      'public',
      'payments',
      [
        ['id', 'int4'],
        ['order_id', 'int4'],
        ['amount', 'numeric'],
      ],
      [
        via(
          [{ childColumn: 'order_id', parentSchema: 'public', parentTable: 'orders', parentColumn: 'id' }],
          "org = 'acme'",
        ),
      ],
    ),
    table('public', 'Mixed Case', [
      ['Id', 'int4'],
      ['value', 'text'],
    ]),
    table('public', 'lost', [['id', 'int4']], [never()]),
    table(
      'sales_raw',
      'deals',
      [
        ['id', 'int4'],
        ['org', 'text'],
      ],
      [tenant],
      'sales',
    ),
    table('other', 'customers', [['id', 'int4']]),
  ]);
}

/** Admits everything: tests of the rewriter alone (the real gate is classify.ts / functions.ts). */
export const allowAll: StatementGate = {
  classifyStatement: (stmt: Node) => ({ kind: Object.keys(stmt)[0]!.replace(/Stmt$/, '').toLowerCase() }),
  checkCalls: (): PgError | null => null,
};

// ---- Expected-text builders: each fixture table's secured subquery as the rewriter deparses it.

const a = (n: number | string): string => (typeof n === 'number' ? `_rg_${n}` : n);
const where = (conds: string[]): string => (conds.length ? ` WHERE ${conds.join(' AND ')}` : '');

export function ORDERS(n: number | string, alias = 'orders', ...extra: string[]): string {
  const x = a(n);
  const cols = `${x}.id, ${x}.org, ${x}.customer_id, ${x}.amount, ${x}.note`;
  return `( SELECT ${cols} FROM public.orders AS ${x}${where([`${x}.org = 'acme'`, ...extra])} OFFSET 0 ) AS ${alias}`;
}

export function CUSTOMERS(n: number | string, alias = 'customers', ...extra: string[]): string {
  const x = a(n);
  const cols = `${x}.id, ${x}.org, ${x}.name, '***-**-' || "right"(${x}.ssn, 4) AS ssn, ${x}.phone`;
  return `( SELECT ${cols} FROM public.customers AS ${x}${where([`${x}.org = 'acme'`, ...extra])} OFFSET 0 ) AS ${alias}`;
}

export function EMPLOYEES(
  n: number | string,
  alias = 'employees',
  from = `public.employees AS ${a(n)}`,
): string {
  const x = a(n);
  return `( SELECT ${x}.id, ${x}.department, 0 AS salary FROM ${from} ) AS ${alias}`;
}

export function PAYMENTS(n: number, alias = 'payments', ...extra: string[]): string {
  const x = a(n);
  const p = a(n + 1);
  const exists = `EXISTS (SELECT 1 FROM public.orders AS ${p} WHERE ${p}.id = ${x}.order_id AND ${p}.org = 'acme')`;
  return `( SELECT ${x}.id, ${x}.order_id, ${x}.amount FROM public.payments AS ${x}${where([exists, ...extra])} OFFSET 0 ) AS ${alias}`;
}

export function DEALS(n: number, alias = 'deals', ...extra: string[]): string {
  const x = a(n);
  return `( SELECT ${x}.id, ${x}.org FROM sales_raw.deals AS ${x}${where([`${x}.org = 'acme'`, ...extra])} OFFSET 0 ) AS ${alias}`;
}

export function LOST(n: number, alias = 'lost'): string {
  const x = a(n);
  return `( SELECT ${x}.id FROM public.lost AS ${x} WHERE false OFFSET 0 ) AS ${alias}`;
}

export function OTHER(n: number, alias = 'customers'): string {
  return `( SELECT ${a(n)}.id FROM other.customers AS ${a(n)} ) AS ${alias}`;
}

export function MIXED(n: number, alias = '"Mixed Case"'): string {
  const x = a(n);
  return `( SELECT ${x}."Id", ${x}.value FROM public."Mixed Case" AS ${x} ) AS ${alias}`;
}

export interface RwOptions {
  searchPath?: string[];
  policy?: SessionPolicySet;
  options?: Partial<RewriteOptions>;
}

/** Rewrites and returns the rewritten SQL of every statement, joined by `; `. */
export function rw(sql: string, o: RwOptions = {}): string {
  const r = rewriteSync(
    sql,
    o.policy ?? alicePolicy(),
    { searchPath: o.searchPath ?? ['public'] },
    { gate: allowAll, ...o.options },
  );
  return r.statements.map((s) => s.rewrittenSql).join('; ');
}

/** The PgError a rewrite raises, as `SQLSTATE: message`. */
export function rwError(sql: string, o: RwOptions = {}): string {
  try {
    rw(sql, o);
  } catch (err) {
    if (err instanceof PgError) return `${err.sqlstate}: ${err.message}`;
    throw err;
  }
  throw new Error(`no error for: ${sql}`);
}
