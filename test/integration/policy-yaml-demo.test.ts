/**
 * Issue 5, "The demo seed uses the YAML import path; the export of the demo
 * round-trips through import with dry_run reporting no changes" — on both
 * store engines, with the demo seeded exactly as `rowgate demo` does.
 */
import { randomBytes } from 'node:crypto';
import { inject, afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { readDemoPoliciesText } from '../../src/demo/policies.js';
import { DEMO_USERS, seedDemoAdminStore } from '../../src/demo/seed-admin.js';
import { ensureDemoDatabase } from '../../src/demo/upstream-seed.js';
import { parsePolicyDocument, type PolicyDocumentEntry } from '../../src/policy/document.js';
import { exportPolicies } from '../../src/policy/yaml-export.js';
import { importPolicies } from '../../src/policy/yaml-import.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createUser } from '../../src/store/repos/users.js';
import { serverUrl } from '../support/postgres.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';
import { ADMIN, auditSince, inTx, writeCounts } from './policy-yaml-fixture.js';

const cipher = new SecretCipher(randomBytes(32));

beforeAll(async () => {
  await ensureDemoDatabase(serverUrl());
});

const byName = (policies: PolicyDocumentEntry[]) => [...policies].sort((a, b) => (a.name < b.name ? -1 : 1));

describe.each(STORE_ENGINES)('demo policies through YAML on %s', (engine) => {
  let demo: TestStore;
  let exported: string;

  beforeAll(async () => {
    const { host, port, user, password } = inject('postgres');
    demo = await openTestStore(engine);
    await seedDemoAdminStore(demo.store, cipher, { host, port, user, password });
    exported = await exportPolicies(demo.store.db);
  });
  afterAll(async () => demo?.dispose());

  it('seeds demo/policies.yaml through the import: its policies, assignments and audit rows', async () => {
    const shipped = parsePolicyDocument(readDemoPoliciesText());
    const back = parsePolicyDocument(exported);
    if (!shipped.ok || !back.ok) throw new Error('unparseable demo document');
    expect(back.errors).toEqual([]);
    expect(byName(back.document.policies)).toEqual(byName(shipped.document.policies));

    const audit = await auditSince(demo.store, 0);
    const policyRows = audit.filter((a) => a.resource_type === 'policy');
    expect(policyRows.map((a) => a.action).sort()).toEqual([
      ...Array<string>(4).fill('assign'),
      ...Array<string>(6).fill('create'),
    ]);
    expect(policyRows.every((a) => a.actor_id === SYSTEM_ACTOR_ID)).toBe(true);
  });

  it('dry-run import of the export reports no changes and writes nothing', async () => {
    const counts = await writeCounts(demo.store);
    const report = await importPolicies(demo.store, ADMIN, exported, { dryRun: true });
    expect(report.errors).toEqual([]);
    expect(report.summary).toEqual({
      created: 0,
      updated: 0,
      unchanged: 6,
      assignments_added: 0,
      assignments_removed: 0,
    });
    expect(report.policies.every((p) => p.action === 'unchanged')).toBe(true);
    expect(await writeCounts(demo.store)).toEqual(counts);
  });

  it('imports into an empty store with the same names and exports the same YAML', async () => {
    const other = await openTestStore(engine);
    try {
      await inTx(other.store, async (tx) => {
        const config = { host: 'h', port: 5432, database: DEMO_DATABASE, username: 'u', password: 'pw' };
        await createDataSource(tx, cipher, { name: DEMO_DATABASE, ds_type: 'postgres', config });
        for (const { username } of DEMO_USERS) await createUser(tx, { username, password: 'Demo1234!' });
      });
      const report = await importPolicies(other.store, ADMIN, exported);
      expect(report.errors).toEqual([]);
      expect(report.summary).toMatchObject({ created: 6, assignments_added: 4 });
      expect(await exportPolicies(other.store.db)).toBe(exported);
    } finally {
      await other.dispose();
    }
  });
});
