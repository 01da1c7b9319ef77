import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { deparse } from 'pgsql-deparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicyInputs } from '../../src/policy/load.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../../src/policy/resolve.js';
import type { RowFilter, SessionPolicySet } from '../../src/policy/session.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { schemaId, tableId } from '../../src/store/ids.js';
import { NotFoundError } from '../../src/store/repo-errors.js';
import { createAttributeDefinition } from '../../src/store/repos/attributes.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { assignPolicy } from '../../src/store/repos/policy-assignments.js';
import { createPolicy, updatePolicy } from '../../src/store/repos/policies.js';
import { createColumnAnchor, createRelationship } from '../../src/store/repos/relationships.js';
import { addMembers, addParent, createRole, updateRole } from '../../src/store/repos/roles.js';
import { createUser, updateUser } from '../../src/store/repos/users.js';
import type { Database } from '../../src/store/schema.js';
import { openTestStore, type TestStore } from '../support/stores.js';

const cipher = new SecretCipher(randomBytes(32));
const ADMIN = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const config = { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' };
const col = (column_name: string, ordinal_position: number, udt_name = 'text') => ({
  column_name,
  ordinal_position,
  data_type: udt_name === 'int4' ? 'integer' : 'text',
  udt_name,
  is_nullable: true,
});

describe('loadPolicyInputs + resolveSessionPolicySet on sqlite', () => {
  let t: TestStore;
  let db: Kysely<Database>;
  let ds: string;
  let alice: string;
  let bob: string;
  let formerRole: string;
  let tenantPolicy: { id: string; version: number };
  const tx = <T>(work: (x: AuditedTx) => Promise<T>) => auditedTransaction(t.store, ADMIN, work);
  const resolveFor = async (userId: string) =>
    resolveSessionPolicySet(await loadPolicyInputs(db, ds, userId));
  const show = async (f: RowFilter) =>
    f.kind === 'expr' || f.kind === 'via'
      ? `${f.kind}${f.kind === 'via' ? `(${f.path.map((h) => `${h.childColumn}->${h.parentTable}.${h.parentColumn}`).join(',')})` : ''}: ${await deparse(f.expr, { pretty: false })}`
      : `${f.kind}: ${f.kind === 'false' ? f.reason : f.message}`;
  const summary = async (set: SessionPolicySet) =>
    Promise.all(
      set.tables.map(async (tb) => ({
        table: `${tb.visibleSchema}.${tb.name}`,
        columns: tb.columns.map((c) => (c.mask ? `${c.name}*` : c.name)),
        filters: await Promise.all(tb.rowFilters.map(show)),
      })),
    );

  beforeAll(async () => {
    await loadPolicyParser();
    t = await openTestStore('sqlite');
    db = t.store.db;
    ds = (await tx((x) => createDataSource(x, cipher, { name: 'shop', ds_type: 'postgres', config }))).id;
    await tx((x) =>
      saveCatalog(
        x,
        ds,
        [
          {
            schema_name: 'public',
            schema_alias: 'sales',
            is_selected: true,
            tables: [
              {
                table_name: 'customers',
                table_type: 'BASE TABLE',
                is_selected: true,
                columns: [{ column_name: 'note', is_selected: false }],
              },
              { table_name: 'orders', table_type: 'BASE TABLE', is_selected: true },
              { table_name: 'payments', table_type: 'BASE TABLE', is_selected: true },
            ],
          },
          { schema_name: 'analytics', is_selected: false, tables: [] },
        ],
        [
          {
            schema_name: 'public',
            table_name: 'customers',
            columns: [col('id', 1, 'int4'), col('name', 2), col('ssn', 3), col('org', 4), col('note', 5)],
          },
          { schema_name: 'public', table_name: 'orders', columns: [col('id', 1, 'int4'), col('org', 2)] },
          {
            schema_name: 'public',
            table_name: 'payments',
            columns: [col('id', 1, 'int4'), col('order_id', 2, 'int4'), col('amount', 3)],
          },
        ],
      ),
    );
    const pub = schemaId(ds, 'public');
    const rel = await tx((x) =>
      createRelationship(x, ds, {
        child_table_id: tableId(pub, 'payments'),
        child_column_name: 'order_id',
        parent_table_id: tableId(pub, 'orders'),
        parent_column_name: 'id',
      }),
    );
    await tx((x) =>
      createColumnAnchor(x, ds, {
        child_table_id: tableId(pub, 'payments'),
        resolved_column_name: 'org',
        relationship_id: rel.id,
      }),
    );
    await tx((x) =>
      createAttributeDefinition(x, {
        key: 'tenant',
        entity_type: 'user',
        display_name: 'Tenant',
        value_type: 'string',
      }),
    );
    alice = (await tx((x) => createUser(x, { username: 'alice', password: 'Secret-pass-1' }))).id;
    bob = (await tx((x) => createUser(x, { username: 'bob', password: 'Secret-pass-1' }))).id;
    await tx((x) => updateUser(x, alice, { attributes: { tenant: "acme' OR '1'='1" } }));

    // analysts (active) inherits from staff (active); former is inactive.
    const analysts = (await tx((x) => createRole(x, { name: 'analysts' }))).id;
    const staff = (await tx((x) => createRole(x, { name: 'staff' }))).id;
    formerRole = (await tx((x) => createRole(x, { name: 'former' }))).id;
    await tx((x) => addParent(x, analysts, staff));
    await tx((x) => addMembers(x, analysts, [alice]));
    await tx((x) => addMembers(x, formerRole, [alice]));
    await tx((x) => updateRole(x, formerRole, { is_active: false }));

    const policy = async (name: string, policy_type: string, targets: unknown[], definition?: unknown) =>
      tx((x) => createPolicy(x, { name, policy_type, targets, definition }));
    const assign = (policy_id: string, extra: { user_id?: string; role_id?: string; priority?: number }) =>
      tx((x) => assignPolicy(x, { policy_id, data_source_id: ds, ...extra }));

    const allow = await policy('allow-all', 'column_allow', [
      { schemas: ['*'], tables: ['*'], columns: ['*'] },
    ]);
    await assign(allow.id, {});
    tenantPolicy = await policy('tenant', 'row_filter', [{ schemas: ['public'], tables: ['*'] }], {
      filter_expression: 'org = {user.tenant}',
    });
    await assign(tenantPolicy.id, { role_id: staff, priority: 10 });
    const mask = await policy(
      'mask-ssn',
      'column_mask',
      [{ schemas: ['public'], tables: ['customers'], columns: ['ssn'] }],
      {
        mask_expression: "'***-**-' || right(ssn, 4)",
      },
    );
    await assign(mask.id, { user_id: alice });
    const formerDeny = await policy('former-deny', 'table_deny', [{ schemas: ['*'], tables: ['orders'] }]);
    await assign(formerDeny.id, { role_id: formerRole });
    const off = await policy('off', 'table_deny', [{ schemas: ['*'], tables: ['*'] }]);
    await assign(off.id, {});
    // Assigning bumped the version to 2.
    await tx((x) => updatePolicy(x, off.id, { version: 2, is_enabled: false }));
  });
  afterAll(async () => t?.dispose());

  it('resolves alice: inherited-role filter (with FK anchor), user mask, inactive role and disabled policy ignored', async () => {
    const set = await resolveFor(alice);
    expect(set.dataSource).toEqual({ id: ds, name: 'shop', accessMode: 'policy_required' });
    expect(set.user).toEqual({ id: alice, username: 'alice' });
    expect(await summary(set)).toEqual([
      {
        table: 'sales.customers',
        columns: ['id', 'name', 'ssn*', 'org'],
        filters: ["expr: org = 'acme'' OR ''1''=''1'"],
      },
      { table: 'sales.orders', columns: ['id', 'org'], filters: ["expr: org = 'acme'' OR ''1''=''1'"] },
      {
        table: 'sales.payments',
        columns: ['id', 'order_id', 'amount'],
        filters: ["via(order_id->orders.id): org = 'acme'' OR ''1''=''1'"],
      },
    ]);
    expect(set.tables[0]).toMatchObject({ schema: 'public', tableType: 'BASE TABLE' });
    expect(set.tables[0]?.columns[0]?.udtName).toBe('int4');
    expect(set.policiesApplied.map((p) => p.name)).toEqual(['allow-all', 'tenant', 'mask-ssn']);
  });

  it('bob (no roles, no attributes) gets only the allow', async () => {
    const set = await resolveFor(bob);
    expect((await summary(set)).map((s) => [s.table, s.filters])).toEqual([
      ['sales.customers', []],
      ['sales.orders', []],
      ['sales.payments', []],
    ]);
    expect(set.policiesApplied.map((p) => p.name)).toEqual(['allow-all']);
  });

  it('activating a role makes its policies effective and changes the fingerprint', async () => {
    const before = await resolveFor(alice);
    expect((await resolveFor(alice)).fingerprint).toBe(before.fingerprint);
    await tx((x) => updateRole(x, formerRole, { is_active: true }));
    const after = await resolveFor(alice);
    expect(after.tables.map((tb) => tb.name)).toEqual(['customers', 'payments']);
    expect(after.policiesApplied.map((p) => p.name)).toContain('former-deny');
    expect(after.fingerprint).not.toBe(before.fingerprint);
    await tx((x) => updateRole(x, formerRole, { is_active: false }));
    expect((await resolveFor(alice)).fingerprint).toBe(before.fingerprint);
  });

  it('unknown user or data source → not found', async () => {
    await expect(loadPolicyInputs(db, ds, '0196f0c2-0000-7000-8000-00000000dead')).rejects.toThrow(
      NotFoundError,
    );
    await expect(loadPolicyInputs(db, '0196f0c2-0000-7000-8000-00000000dead', alice)).rejects.toThrow(
      NotFoundError,
    );
  });
});
