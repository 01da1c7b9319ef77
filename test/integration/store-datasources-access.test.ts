import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { newId } from '../../src/store/ids.js';
import { NotFoundError } from '../../src/store/repo-errors.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import {
  canUserConnect,
  hasAllAccess,
  listRoleAccess,
  listUserAccess,
  setAllAccess,
  setRoleAccess,
  setUserAccess,
} from '../../src/store/repos/datasource-access.js';
import {
  BadRequestError,
  createDataSource,
  deleteDataSource,
  updateDataSource,
} from '../../src/store/repos/datasources.js';
import { assignPolicy } from '../../src/store/repos/policy-assignments.js';
import { createPolicy, getPolicy } from '../../src/store/repos/policies.js';
import { createRelationship } from '../../src/store/repos/relationships.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const TS = '2026-01-01T00:00:00.000000';
const cipher = new SecretCipher(randomBytes(32));

async function insertUser(db: Kysely<Database>, username: string, createdAt = TS): Promise<string> {
  const id = newId();
  await db
    .insertInto('proxy_user')
    .values({
      id,
      username,
      password_hash: 'placeholder-hash',
      scram_verifier: 'placeholder-verifier',
      password_changed_at: createdAt,
      created_at: createdAt,
      updated_at: createdAt,
    })
    .execute();
  return id;
}

async function insertRole(db: Kysely<Database>, name: string, active = true): Promise<string> {
  const id = newId();
  await db
    .insertInto('role')
    .values({ id, name, description: null, is_active: active ? 1 : 0, created_at: TS, updated_at: TS })
    .execute();
  return id;
}

const config = { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' };

describe.each(STORE_ENGINES)('data source access on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;
  let adminId: string;
  let dsId: string;
  const tx = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(t.store, adminId, work);
  const lastAudit = async () =>
    await db
      .selectFrom('admin_audit_log')
      .selectAll()
      .orderBy('created_at', 'desc')
      .executeTakeFirstOrThrow();
  const count = async (table: keyof Database) => (await db.selectFrom(table).select('id').execute()).length;

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
    adminId = await insertUser(db, 'admin', '2025-01-01T00:00:00.000000');
    dsId = (await tx((x) => createDataSource(x, cipher, { name: 'shop', ds_type: 'postgres', config }))).id;
  });
  afterEach(async () => t.dispose());

  it('replaces user grants, de-duplicates (Q8), lists users in created order and audits ids', async () => {
    const bob = await insertUser(db, 'bob', '2026-02-01T00:00:00.000000');
    const carol = await insertUser(db, 'carol', '2026-01-15T00:00:00.000000');
    const ghost = newId(); // unknown ids are stored (Q9), but not listed
    const change = await tx((x) => setUserAccess(x, dsId, [bob, carol, bob, ghost]));
    expect(change).toEqual({ before: [adminId], after: [bob, carol, ghost] });
    const users = await listUserAccess(db, dsId);
    expect(users.map((u) => u.username)).toEqual(['carol', 'bob']);
    expect(users[0]).toEqual({
      id: carol,
      username: 'carol',
      is_admin: false,
      is_active: true,
      email: null,
      display_name: null,
      attributes: {},
      last_login_at: null,
      created_at: '2026-01-15T00:00:00.000000',
      updated_at: '2026-01-15T00:00:00.000000',
    });
    expect(JSON.stringify(users)).not.toContain('placeholder');
    const audit = await lastAudit();
    expect(audit).toMatchObject({ resource_type: 'datasource', resource_id: dsId, action: 'update' });
    expect(JSON.parse(audit.changes ?? '')).toEqual({
      field: 'user_access',
      before: [adminId],
      after: [bob, carol, ghost],
    });
    await tx((x) => setUserAccess(x, dsId, []));
    expect(await listUserAccess(db, dsId)).toEqual([]);
    await expect(tx((x) => setUserAccess(x, newId(), []))).rejects.toThrow(NotFoundError);
  });

  it('replaces role grants, checking existence then activity in order', async () => {
    const analysts = await insertRole(db, 'analysts');
    const ops = await insertRole(db, 'ops');
    const retired = await insertRole(db, 'retired', false);
    const missing = newId();
    await expect(tx((x) => setRoleAccess(x, dsId, [analysts, missing, retired]))).rejects.toThrow(
      new NotFoundError(`Role '${missing}' not found`),
    );
    const inactive = await tx((x) => setRoleAccess(x, dsId, [analysts, retired, missing])).catch(
      (e: unknown) => e,
    );
    expect(inactive).toBeInstanceOf(BadRequestError);
    expect((inactive as Error).message).toBe("Role 'retired' is inactive");

    expect(await tx((x) => setRoleAccess(x, dsId, [ops, analysts, ops]))).toEqual({
      before: [],
      after: [ops, analysts],
    });
    expect(await listRoleAccess(db, dsId)).toEqual([
      { id: analysts, name: 'analysts', is_active: true },
      { id: ops, name: 'ops', is_active: true },
    ]);
    expect(JSON.parse((await lastAudit()).changes ?? '')).toEqual({
      field: 'role_access',
      before: [],
      after: [ops, analysts],
    });
    expect(await tx((x) => setRoleAccess(x, dsId, [analysts]))).toEqual({
      before: [ops, analysts],
      after: [analysts],
    });
  });

  it('decides who may connect: user, role, all; inactive or unknown data source → false', async () => {
    const bob = await insertUser(db, 'bob');
    const eve = await insertUser(db, 'eve');
    const role = await insertRole(db, 'readers');
    expect(await canUserConnect(db, 'shop', adminId, [])).toBe(true); // creator grant
    expect(await canUserConnect(db, 'shop', bob, [])).toBe(false);
    await tx((x) => setRoleAccess(x, dsId, [role]));
    expect(await canUserConnect(db, 'shop', bob, [role])).toBe(true);
    expect(await canUserConnect(db, 'shop', bob, [newId()])).toBe(false);

    expect(await hasAllAccess(db, dsId)).toBe(false);
    expect(await tx((x) => setAllAccess(x, dsId, true))).toEqual({ before: false, after: true });
    expect(await hasAllAccess(db, dsId)).toBe(true);
    expect(await canUserConnect(db, 'shop', eve, [])).toBe(true);
    expect(JSON.parse((await lastAudit()).changes ?? '')).toEqual({
      field: 'all_access',
      before: false,
      after: true,
    });
    expect(await tx((x) => setAllAccess(x, dsId, true))).toEqual({ before: true, after: true });
    expect(await count('data_source_access')).toBe(3);

    await tx((x) => updateDataSource(x, cipher, dsId, { is_active: false }));
    expect(await canUserConnect(db, 'shop', adminId, [])).toBe(false);
    expect(await canUserConnect(db, 'SHOP', adminId, [])).toBe(false);
    await tx((x) => updateDataSource(x, cipher, dsId, { is_active: true }));
    await tx((x) => setAllAccess(x, dsId, false));
    expect(await canUserConnect(db, 'shop', eve, [])).toBe(false);
  });

  it('deleting the data source cascades to catalog, grants, assignments, relationships, anchors', async () => {
    await tx((x) => setRoleAccess(x, dsId, [])); // keep only the creator grant
    await tx((x) =>
      saveCatalog(
        x,
        dsId,
        [
          {
            schema_name: 'public',
            is_selected: true,
            tables: [
              { table_name: 'orders', table_type: 'TABLE', is_selected: true },
              { table_name: 'customers', table_type: 'TABLE', is_selected: true },
            ],
          },
        ],
        [
          {
            schema_name: 'public',
            table_name: 'orders',
            columns: [
              { column_name: 'customer_id', ordinal_position: 1, data_type: 'integer', is_nullable: false },
            ],
          },
          {
            schema_name: 'public',
            table_name: 'customers',
            columns: [{ column_name: 'id', ordinal_position: 1, data_type: 'integer', is_nullable: false }],
          },
        ],
      ),
    );
    const tables = await db.selectFrom('discovered_table').select(['id', 'table_name']).execute();
    const orders = tables.find((r) => r.table_name === 'orders')?.id as string;
    const customers = tables.find((r) => r.table_name === 'customers')?.id as string;
    const rel = await tx((x) =>
      createRelationship(x, dsId, {
        child_table_id: orders,
        child_column_name: 'customer_id',
        parent_table_id: customers,
        parent_column_name: 'id',
      }),
    );
    await db
      .insertInto('column_anchor')
      .values({
        id: newId(),
        data_source_id: dsId,
        child_table_id: orders,
        resolved_column_name: 'org',
        relationship_id: rel.id,
        actual_column_name: null,
        designated_at: TS,
        designated_by: adminId,
      })
      .execute();
    const policy = await tx((x) =>
      createPolicy(x, { name: 'p', policy_type: 'table_deny', targets: [{ schemas: ['*'], tables: ['*'] }] }),
    );
    await tx((x) => assignPolicy(x, { policy_id: policy.id, data_source_id: dsId }));
    const versionBefore = (await getPolicy(db, policy.id)).version;

    await tx((x) => deleteDataSource(x, dsId));
    for (const table of [
      'data_source',
      'data_source_access',
      'discovered_schema',
      'discovered_table',
      'discovered_column',
      'policy_assignment',
      'table_relationship',
      'column_anchor',
    ] as const) {
      expect(await count(table), table).toBe(0);
    }
    const after = await getPolicy(db, policy.id);
    expect(after.version).toBe(versionBefore); // §4.5: not bumped by the cascade
    expect(after.assignment_count).toBe(0);
  });
});
