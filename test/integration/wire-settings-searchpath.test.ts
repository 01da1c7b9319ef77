/**
 * One search path for both query protocols, transactional as PostgreSQL's.
 * Security angle: the rewriter resolves unqualified names with the proxy's
 * search path; if it ever differed from what PostgreSQL would use, a query
 * could read another table than the one the client meant. Two schemas hold
 * a table `t` each, under different policies (a.t: own tenant's rows; b.t:
 * the other tenants' rows and no `secret` column). After every transition —
 * SET in either protocol, SET LOCAL then COMMIT, SET then ROLLBACK,
 * ROLLBACK TO SAVEPOINT, a failed multi-statement string, a failed
 * pipeline, RESET — the same session statements are replayed on a direct
 * PostgreSQL connection, and an unqualified `t` must resolve to the same
 * schema through the proxy, in both protocols, with that schema's policies.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { discoverWholeSchema } from '../../src/catalog/discover.js';
import { importPoliciesInTransaction } from '../../src/policy/yaml-import.js';
import { auditedTransaction } from '../../src/store/audited.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import { setUserAccess } from '../../src/store/repos/datasource-access.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { getUserByUsername } from '../../src/store/repos/users.js';
import * as fe from '../../src/wire/frontend.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { createTestDatabase } from '../support/postgres.js';
import { openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { pbe, RawClient } from './wire-settings-support.js';

let demo: DemoStore;
let server: ProxyServer;
let direct: RawClient;
let proxied: RawClient;

const SETUP = `
  CREATE SCHEMA a; CREATE SCHEMA b;
  CREATE TABLE a.t (id int PRIMARY KEY, org text, secret text, src text);
  CREATE TABLE b.t (id int PRIMARY KEY, org text, secret text, src text);
  INSERT INTO a.t VALUES (1, 'acme', 'sa1', 'a'), (2, 'acme', 'sa2', 'a'), (3, 'globex', 'sa3', 'a');
  INSERT INTO b.t VALUES (1, 'acme', 'sb1', 'b'), (2, 'globex', 'sb2', 'b'), (3, 'stark', 'sb3', 'b'),
    (4, 'stark', 'sb4', 'b');`;

const policies = (ds: string) => `
version: 1
policies:
  - name: sp-a-own-tenant
    policy_type: row_filter
    targets: [{ schemas: [a], tables: [t] }]
    definition: { filter_expression: 'org = {user.tenant}' }
    assignments: [{ datasource: ${ds} }]
  - name: sp-b-other-tenants
    policy_type: row_filter
    targets: [{ schemas: [b], tables: [t] }]
    definition: { filter_expression: 'org <> {user.tenant}' }
    assignments: [{ datasource: ${ds} }]
  - name: sp-b-hide-secret
    policy_type: column_deny
    targets: [{ schemas: [b], tables: [t], columns: [secret] }]
    assignments: [{ datasource: ${ds} }]
`;

beforeAll(async () => {
  demo = await openDemoStore();
  const { name, url } = await createTestDatabase('spath');
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  let catalog;
  try {
    await setup.query(SETUP);
    catalog = [await discoverWholeSchema(setup, 'a'), await discoverWholeSchema(setup, 'b')];
  } finally {
    await setup.end();
  }
  const { host, port, user, password } = inject('postgres');
  await auditedTransaction(demo.admin.store, '00000000-0000-7000-8000-000000000001', async (tx) => {
    const ds = await createDataSource(tx, demo.cipher, {
      name,
      ds_type: 'postgres',
      config: { host, port, database: name, username: user, password, sslmode: 'disable' },
      access_mode: 'open',
      grantCreator: false,
    });
    const alice = await getUserByUsername(tx.db, 'alice');
    await setUserAccess(tx, ds.id, [alice!.id]);
    await saveCatalog(
      tx,
      ds.id,
      catalog.flatMap((c) => c.selection),
      catalog.flatMap((c) => c.columns),
    );
    await importPoliciesInTransaction(tx, policies(name));
  });
  server = await demo.proxy();
  direct = await RawClient.direct(name);
  proxied = await RawClient.proxy(server.port, name);
});

afterAll(async () => {
  direct?.close();
  proxied?.close();
  await server?.close();
  await demo?.admin.dispose();
});

/** What alice must get from an unqualified `t` in each schema: that schema's policies. */
const SEEN: Record<string, string[]> = { a: ['D:a|2'], b: ['D:b|3'] };
const PROBE = 'SELECT src, count(*) FROM t GROUP BY src';

/** Runs `messages` on both sides; same answers expected (errors included). */
async function step(...messages: Buffer[]): Promise<void> {
  const expected = await direct.run(...messages);
  expect(await proxied.run(...messages)).toEqual(expected);
}

/** Which schema PostgreSQL resolves `t` to now; the proxy must agree in both protocols. */
async function agree(): Promise<string | null> {
  const answer = await direct.run(fe.query('SELECT DISTINCT src FROM t'));
  const inBlock = answer.at(-1) === 'Z:T';
  const rows = answer.filter((f) => f.startsWith('D:'));
  const schema = rows.length === 1 ? rows[0]!.slice(2) : null;
  const simple = (await proxied.run(fe.query(PROBE))).filter((f) => f.startsWith('D:') || f.startsWith('E:'));
  const extended = (await proxied.run(...pbe(PROBE), fe.sync())).filter(
    (f) => f.startsWith('D:') || f.startsWith('E:'),
  );
  const expected = schema ? SEEN[schema] : ['E:ERROR:42P01:relation "t" does not exist'];
  expect(simple).toEqual(expected);
  expect(extended).toEqual(expected);
  // The hidden column exists exactly when `t` is a.t.
  // (In a block, under a savepoint: the expected error must not abort the client's transaction.)
  if (inBlock) await proxied.run(fe.query('SAVEPOINT probe'));
  const secret = await proxied.run(fe.query('SELECT secret FROM t ORDER BY id LIMIT 1'));
  if (schema === 'a') expect(secret).toContain('D:sa1');
  else expect(secret.some((f) => f.startsWith('E:ERROR:42'))).toBe(true);
  if (inBlock) await proxied.run(fe.query('ROLLBACK TO SAVEPOINT probe; RELEASE SAVEPOINT probe'));
  await step(fe.query('SHOW search_path'));
  return schema;
}

describe('search path: one source of truth, transactional, the same table as PostgreSQL resolves', () => {
  it('resolves unqualified names like PostgreSQL after every transition, in both protocols', async () => {
    expect(await agree()).toBe(null); // "$user", public: no t at all
    await step(fe.query('SET search_path = a'));
    expect(await agree()).toBe('a');
    await step(...pbe('SET search_path = b, a'), fe.sync());
    expect(await agree()).toBe('b');

    await step(fe.query('BEGIN; SET LOCAL search_path = a'));
    expect(await agree()).toBe('a');
    await step(fe.query('COMMIT'));
    expect(await agree()).toBe('b');

    await step(...pbe('BEGIN'), ...pbe('SET search_path = a'), fe.sync());
    expect(await agree()).toBe('a');
    await step(...pbe('ROLLBACK'), fe.sync());
    expect(await agree()).toBe('b');

    await step(fe.query('BEGIN; SAVEPOINT s; SET search_path = a'));
    expect(await agree()).toBe('a');
    await step(fe.query('ROLLBACK TO SAVEPOINT s'));
    expect(await agree()).toBe('b');
    await step(...pbe('SET LOCAL search_path = a'), ...pbe('RELEASE s'), fe.sync());
    expect(await agree()).toBe('a');
    await step(fe.query('COMMIT'));
    expect(await agree()).toBe('b');

    await step(fe.query('SET search_path = a; SELECT 1/0'));
    expect(await agree()).toBe('b');
    await step(...pbe('SET search_path = a'), ...pbe('SELECT 1/0'), fe.sync());
    expect(await agree()).toBe('b');
    await step(...pbe('SET LOCAL search_path = a'), fe.sync());
    expect(await agree()).toBe('b');
    // Within one string / one pipeline the new path already applies to what follows.
    await step(fe.query('SET search_path = a; SELECT DISTINCT src FROM t'));
    await step(...pbe('SET search_path = b'), ...pbe('SELECT DISTINCT src FROM t'), fe.sync());
    expect(await agree()).toBe('b');
    await step(...pbe('RESET search_path'), fe.sync());
    expect(await agree()).toBe(null);
  });
});
