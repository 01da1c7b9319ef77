/**
 * Shared fixture of the security-vector tests (threat model §3.2–§3.4).
 *
 * - Upstream schema: the threat model's example schema, three tenants
 *   (acme, globex, initech), a hidden table `salaries`, a hidden schema
 *   `analytics`, a view `order_totals` over a protected table.
 * - Canaries (§3.4): every text value alice must never see carries a token
 *   `CNRY` + 10 upper-case hex digits (other tenants' rows, denied columns in
 *   every row, the raw value of the masked `ssn` at its start, every row of the
 *   hidden table, a hidden index name, a table comment). `scan()` looks for
 *   them as is, lower-cased, reversed, hex- and base64-decoded, and for any
 *   6-character window of a planted token.
 * - Policies go through the real policy resolver (`resolveSessionPolicySet`)
 *   from policy inputs as the admin store would hold them, and statements
 *   through the production gate (`classifierGate()`: classifier + function
 *   allowlist) and the real rewriter.
 * - Oracle A (§3.3): hand-written `security_barrier` views in schema `ref`
 *   that apply alice's policy from the policy text, sharing no code with the
 *   rewriter.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { AnchorInput, CatalogSchemaInput, PolicyInput, PolicyInputs } from '../../src/policy/inputs.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../../src/policy/resolve.js';
import type { SessionPolicySet } from '../../src/policy/session.js';
import { PgError } from '../../src/sql/errors.js';
import { classifierGate, rewriteSync } from '../../src/sql/rewrite.js';
import { ensureParser } from '../../src/sql/parse.js';
import { createTestDatabase, dropTestDatabase, type Upstream } from '../support/postgres.js';

export const OTHER_TENANTS = ['globex', 'initech'];

/** A canary-producing SQL expression for row `i` of a given column (CNRY + 10 hex). */
const cnry = (salt: string, tag: string, i = "''") =>
  `'CNRY' || upper(substr(md5('${salt}${tag}' || ${i}), 1, 10))`;

export function schemaSql(salt: string): string {
  const c = (tag: string, i = 'i') => cnry(salt, tag, i);
  const tenant = `(ARRAY['acme','globex','initech'])[i % 3 + 1]`;
  const acme = `i % 3 = 0`;
  return `
  CREATE TABLE customers (id int PRIMARY KEY, org text NOT NULL, name text, email text, ssn text,
    credit_card text, phone text, referrer_id int);
  CREATE TABLE orders (id int PRIMARY KEY, org text NOT NULL, customer_id int, amount numeric, note text);
  CREATE TABLE employees (id int PRIMARY KEY, department text, salary int, ssn text, manager_id int);
  CREATE TABLE payments (id int PRIMARY KEY, order_id int, amount numeric);
  CREATE TABLE salaries (id int PRIMARY KEY, employee text, amount int);
  CREATE SCHEMA analytics;
  CREATE TABLE analytics.events (id int PRIMARY KEY, org text, payload text);

  INSERT INTO customers SELECT i, ${tenant},
    CASE WHEN ${acme} THEN 'name' || i ELSE ${c('name')} END,
    CASE WHEN ${acme} THEN 'e' || i || '@acme.test' ELSE ${c('email')} END,
    ${c('ssn')} || '-' || lpad(i::text, 4, '0'),
    ${c('cc')},
    CASE WHEN ${acme} THEN 'ph' || i ELSE ${c('phone')} END,
    CASE WHEN i > 3 THEN i - 3 + (i % 2) END
    FROM generate_series(1, 300) i;
  INSERT INTO orders SELECT i, ${tenant}, (i * 7) % 300 + 1, (i * 13) % 1000,
    CASE WHEN ${acme} THEN 'note-acme-' || i ELSE ${c('note')} END
    FROM generate_series(1, 30000) i;
  INSERT INTO employees SELECT i, (ARRAY['eng','ops','sales'])[i % 3 + 1], 1000 * i, ${c('essn')},
    CASE WHEN i > 1 THEN i / 2 END FROM generate_series(1, 30) i;
  INSERT INTO payments SELECT i, i, i * 2 FROM generate_series(1, 3000) i;
  INSERT INTO salaries SELECT i, ${c('sal')}, 100000 + i FROM generate_series(1, 20) i;
  INSERT INTO analytics.events SELECT i, ${tenant}, ${c('ev')} FROM generate_series(1, 30) i;
  CREATE INDEX customers_cc_${salt}_idx ON customers (credit_card);
  COMMENT ON TABLE salaries IS 'CNRY${randomBytes(5).toString('hex').toUpperCase()}';
  CREATE VIEW order_totals AS SELECT org, sum(amount) AS total FROM orders GROUP BY org;
  ANALYZE;

  -- Oracle A: alice's policy written by hand from the policy text (tenant acme, ssn masked,
  -- credit_card denied, employees.salary masked to 0, employees.ssn denied, salaries hidden,
  -- analytics hidden, payments filtered through orders).
  CREATE SCHEMA ref;
  CREATE VIEW ref.customers WITH (security_barrier) AS
    SELECT id, org, name, email, '***-**-' || right(ssn, 4) AS ssn, phone, referrer_id
      FROM public.customers WHERE org = 'acme';
  CREATE VIEW ref.orders WITH (security_barrier) AS
    SELECT id, org, customer_id, amount, note FROM public.orders WHERE org = 'acme';
  CREATE VIEW ref.employees AS SELECT id, department, 0 AS salary, manager_id FROM public.employees;
  CREATE VIEW ref.payments WITH (security_barrier) AS
    SELECT id, order_id, amount FROM public.payments p
     WHERE EXISTS (SELECT 1 FROM public.orders o WHERE o.id = p.order_id AND o.org = 'acme');
`;
}

// ---- The saved catalog and alice's policies, as the admin store holds them.

const cols = (...spec: [string, string][]) =>
  spec.map(([name, udtName], i) => ({ name, udtName, ordinal: i + 1 }));

export const CATALOG: CatalogSchemaInput[] = [
  {
    name: 'public',
    alias: null,
    tables: [
      {
        name: 'customers',
        tableType: 'TABLE',
        columns: cols(
          ['id', 'int4'],
          ['org', 'text'],
          ['name', 'text'],
          ['email', 'text'],
          ['ssn', 'text'],
          ['credit_card', 'text'],
          ['phone', 'text'],
          ['referrer_id', 'int4'],
        ),
      },
      {
        name: 'orders',
        tableType: 'TABLE',
        columns: cols(
          ['id', 'int4'],
          ['org', 'text'],
          ['customer_id', 'int4'],
          ['amount', 'numeric'],
          ['note', 'text'],
        ),
      },
      {
        name: 'employees',
        tableType: 'TABLE',
        columns: cols(
          ['id', 'int4'],
          ['department', 'text'],
          ['salary', 'int4'],
          ['ssn', 'text'],
          ['manager_id', 'int4'],
        ),
      },
      {
        name: 'payments',
        tableType: 'TABLE',
        columns: cols(['id', 'int4'], ['order_id', 'int4'], ['amount', 'numeric']),
      },
      {
        name: 'salaries',
        tableType: 'TABLE',
        columns: cols(['id', 'int4'], ['employee', 'text'], ['amount', 'int4']),
      },
      {
        name: 'order_totals',
        tableType: 'VIEW',
        columns: cols(['org', 'text'], ['total', 'numeric']),
      },
    ],
  },
  {
    name: 'analytics',
    alias: null,
    tables: [
      {
        name: 'events',
        tableType: 'TABLE',
        columns: cols(['id', 'int4'], ['org', 'text'], ['payload', 'text']),
      },
    ],
  },
];

export const ANCHORS: AnchorInput[] = [
  {
    schema: 'public',
    table: 'payments',
    column: 'org',
    relationship: {
      id: 'rel-payments-orders',
      childColumn: 'order_id',
      parentSchema: 'public',
      parentTable: 'orders',
      parentColumn: 'id',
    },
  },
];

const toAll = [{ scope: 'all' as const, userId: null, roleId: null, priority: 100 }];

export function policy(
  id: string,
  policyType: string,
  targets: unknown,
  definition: unknown = null,
  extra: Partial<PolicyInput> = {},
): PolicyInput {
  return { id, name: id, version: 1, policyType, targets, definition, assignments: toAll, ...extra };
}

/** alice's policies: tenant filter, ssn mask, credit_card deny, salary mask, table denies. */
export function alicePolicies(filterExpression = 'org = {user.tenant}'): PolicyInput[] {
  return [
    policy('tenant', 'row_filter', [{ schemas: ['public'], tables: ['orders', 'customers', 'payments'] }], {
      filter_expression: filterExpression,
    }),
    policy('mask-ssn', 'column_mask', [{ schemas: ['public'], tables: ['customers'], columns: ['ssn'] }], {
      mask_expression: "'***-**-' || right(ssn, 4)",
    }),
    policy(
      'mask-salary',
      'column_mask',
      [{ schemas: ['public'], tables: ['employees'], columns: ['salary'] }],
      {
        mask_expression: '0',
      },
    ),
    policy('deny-cc', 'column_deny', [
      { schemas: ['public'], tables: ['*'], columns: ['credit_card'] },
      { schemas: ['public'], tables: ['employees'], columns: ['ssn'] },
    ]),
    policy('deny-salaries', 'table_deny', [{ schemas: ['public'], tables: ['salaries', 'order_totals'] }]),
    policy('deny-analytics', 'table_deny', [{ schemas: ['analytics'], tables: ['*'] }]),
  ];
}

export function inputs(over: Partial<PolicyInputs> = {}): PolicyInputs {
  return {
    dataSource: { id: 'ds-1', name: 'shop', accessMode: 'open' },
    catalog: CATALOG,
    user: { id: 'u-alice', username: 'alice', roleIds: [], attributes: { tenant: 'acme' } },
    policies: alicePolicies(),
    attributeDefinitions: [
      { key: 'tenant', valueType: 'string', defaultValue: null },
      { key: 'orgs', valueType: 'list', defaultValue: null },
      { key: 'customer_id', valueType: 'integer', defaultValue: null },
    ],
    anchors: ANCHORS,
    ...over,
  };
}

export const resolve = (over: Partial<PolicyInputs> = {}): SessionPolicySet =>
  resolveSessionPolicySet(inputs(over));

export async function loadParsers(): Promise<void> {
  await ensureParser();
  await loadPolicyParser();
}

// ---- Rewriting through the production gate.

export interface Refusal {
  stage: 'proxy' | 'upstream';
  code: string | undefined;
  message: string;
  detail?: string | undefined;
  hint?: string | undefined;
  where?: string | undefined;
}

/** The rewritten statements joined by `; `, or the PgError thrown. */
export function rewriteFor(sql: string, set: SessionPolicySet, searchPath = ['public']): string {
  const r = rewriteSync(sql, set, { searchPath }, { gate: classifierGate() });
  return r.statements.map((s) => s.rewrittenSql).join('; ');
}

export function proxyRefusal(sql: string, set: SessionPolicySet): Refusal | null {
  try {
    rewriteFor(sql, set);
    return null;
  } catch (err) {
    if (!(err instanceof PgError)) throw err;
    return { stage: 'proxy', code: err.sqlstate, message: err.message, ...err.extra };
  }
}

// ---- Canary scanning (§3.4).

const TOKEN = /CNRY([0-9A-F]{10})/;

export class CanaryScanner {
  private readonly windows = new Set<string>();

  addTokens(randomParts: Iterable<string>): void {
    for (const r of randomParts) for (let i = 0; i + 6 <= r.length; i++) this.windows.add(r.slice(i, i + 6));
  }

  /** Every place a canary shows up in `text`, as `how: excerpt`. */
  hits(text: string): string[] {
    const found: string[] = [];
    const views: [string, string][] = [
      ['as is / lower-cased', text.toUpperCase()],
      ['reversed', [...text].reverse().join('').toUpperCase()],
    ];
    for (const word of text.split(/[^A-Za-z0-9+/=]+/)) {
      if (word.length >= 8 && /^[0-9a-fA-F]+$/.test(word) && word.length % 2 === 0)
        views.push(['hex', Buffer.from(word, 'hex').toString('latin1').toUpperCase()]);
      if (word.length >= 8)
        views.push(['base64', Buffer.from(word, 'base64').toString('latin1').toUpperCase()]);
    }
    for (const [how, v] of views) {
      if (v.includes('CNRY') || TOKEN.test(v))
        found.push(`${how}: ${v.slice(Math.max(0, v.indexOf('CNRY') - 10), v.indexOf('CNRY') + 20)}`);
    }
    // Partial leaks (substr-style): any 6-character window of a token's random part,
    // when it has at least two hex letters (plain numbers would give false positives).
    for (let i = 0; i + 6 <= text.length; i++) {
      const w = text.slice(i, i + 6);
      if ((w.match(/[A-F]/g) ?? []).length >= 2 && this.windows.has(w)) found.push(`window: ${w}`);
    }
    return found;
  }
}

export function outcomeText(o: Outcome): string {
  return 'rows' in o ? o.rows.join('\n') : [o.message, o.detail, o.hint, o.where].filter(Boolean).join('\n');
}

// ---- A database per upstream.

export type Outcome = { rows: string[]; columns: string[] } | Refusal;

export interface SecurityDb {
  upstream: Upstream;
  client: pg.Client;
  scanner: CanaryScanner;
  /** Rewrites for `set` (alice by default) and runs on the upstream in a read-only transaction. */
  run(sql: string, set?: SessionPolicySet): Promise<Outcome>;
  /** Runs SQL text as is (rewritten SQL, or oracle queries) in a read-only transaction. */
  exec(sql: string, search?: 'public' | 'ref'): Promise<Outcome>;
  /** Oracle A: the same query against the hand-written reference views. */
  oracle(sql: string): Promise<Outcome>;
  /** Canary hits in an outcome (plus tenant names of other tenants unless `allowTenantNames`). */
  leaks(o: Outcome, allowTenantNames?: boolean): string[];
  close(): Promise<void>;
}

export async function openSecurityDb(upstream: Upstream, alice: () => SessionPolicySet): Promise<SecurityDb> {
  const salt = randomBytes(4).toString('hex');
  const { name, url } = await createTestDatabase('sec', upstream);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(schemaSql(salt));
  await client.query("SET statement_timeout = '20s'");
  const scanner = new CanaryScanner();
  const { rows } = await client.query<{ t: string }>(`
    SELECT DISTINCT m[1] AS t FROM (
      SELECT regexp_matches(x::text, 'CNRY([0-9A-F]{10})', 'g') AS m FROM customers x
      UNION ALL SELECT regexp_matches(x::text, 'CNRY([0-9A-F]{10})', 'g') FROM orders x
      UNION ALL SELECT regexp_matches(x::text, 'CNRY([0-9A-F]{10})', 'g') FROM employees x
      UNION ALL SELECT regexp_matches(x::text, 'CNRY([0-9A-F]{10})', 'g') FROM salaries x
      UNION ALL SELECT regexp_matches(x::text, 'CNRY([0-9A-F]{10})', 'g') FROM analytics.events x
      UNION ALL SELECT regexp_matches(obj_description('salaries'::regclass), 'CNRY([0-9A-F]{10})', 'g')) s`);
  scanner.addTokens(rows.map((r) => r.t));

  const exec = async (sql: string, search: 'public' | 'ref' = 'public'): Promise<Outcome> => {
    await client.query(`BEGIN READ ONLY; SET LOCAL search_path = ${search}`);
    try {
      const r = await client.query({ text: sql, rowMode: 'array' });
      const last = Array.isArray(r) ? r[r.length - 1] : r;
      return {
        rows: (last.rows as unknown[][]).map((row) => JSON.stringify(row)).sort(),
        columns: last.fields.map((f: { name: string }) => f.name),
      };
    } catch (err) {
      const e = err as { code?: string; message: string; detail?: string; hint?: string; where?: string };
      return {
        stage: 'upstream',
        code: e.code,
        message: e.message,
        detail: e.detail,
        hint: e.hint,
        where: e.where,
      };
    } finally {
      await client.query('ROLLBACK');
    }
  };

  return {
    upstream,
    client,
    scanner,
    exec,
    run: async (sql, set = alice()) => {
      let text: string;
      try {
        text = rewriteFor(sql, set);
      } catch (err) {
        if (!(err instanceof PgError)) throw err;
        return { stage: 'proxy', code: err.sqlstate, message: err.message, ...err.extra };
      }
      return exec(text);
    },
    oracle: (sql) => exec(sql, 'ref'),
    leaks: (o, allowTenantNames = false) => {
      const text = outcomeText(o);
      const hits = scanner.hits(text);
      if (!allowTenantNames)
        for (const t of OTHER_TENANTS) if (text.toLowerCase().includes(t)) hits.push(`tenant name: ${t}`);
      return hits;
    },
    close: async () => {
      await client.end();
      await dropTestDatabase(name, upstream);
    },
  };
}

/** `{code, message}` of an outcome, or `rows` when it returned rows. */
export function codeOf(o: Outcome): string {
  return 'rows' in o ? 'rows' : `${o.code}`;
}
