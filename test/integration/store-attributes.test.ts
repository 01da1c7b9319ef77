import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import type { Store } from '../../src/store/db.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import {
  countUsersWithAttribute,
  createAttributeDefinition,
  deleteAttributeDefinition,
  getAttributeDefinition,
  listAttributeDefinitions,
  listUserAttributeDefinitions,
  updateAttributeDefinition,
  type NewAttributeDefinition,
} from '../../src/store/repos/attributes.js';
import { createUser, getUserById, updateUser } from '../../src/store/repos/users.js';
import { STORE_ENGINES, openTestStore, type TestStore, auditRows } from '../support/stores.js';

const ACTOR = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';

describe.each(STORE_ENGINES)('attribute definitions on %s', (engine) => {
  let current: TestStore;
  let store: Store;
  const run = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(store, ACTOR, work);
  const define = (over: Partial<NewAttributeDefinition>) =>
    run((tx) =>
      createAttributeDefinition(tx, {
        key: 'tenant',
        entity_type: 'user',
        display_name: 'Tenant',
        value_type: 'string',
        ...over,
      }),
    );
  const lastAudit = async () => (await auditRows(store)).at(-1);

  beforeEach(async () => {
    current = await openTestStore(engine);
    store = current.store;
  });
  afterEach(() => current.dispose());

  it('creates and reads a definition; audit carries the parsed allowed values', async () => {
    const def = await define({
      value_type: 'list',
      default_value: '["eng"]',
      allowed_values: ['eng', 'sec'],
    });
    expect(def).toMatchObject({
      key: 'tenant',
      entity_type: 'user',
      display_name: 'Tenant',
      value_type: 'list',
      default_value: '["eng"]',
      allowed_values: ['eng', 'sec'],
      description: null,
      created_by: ACTOR,
      updated_by: ACTOR,
    });
    expect(await getAttributeDefinition(store.db, def.id)).toEqual(def);
    expect(await lastAudit()).toMatchObject({
      resource_type: 'attribute_definition',
      resource_id: def.id,
      action: 'create',
      actor_id: ACTOR,
      changes: {
        after: {
          key: 'tenant',
          entity_type: 'user',
          value_type: 'list',
          display_name: 'Tenant',
          default_value: '["eng"]',
          allowed_values: ['eng', 'sec'],
          description: null,
        },
      },
    });
  });

  it('refuses duplicates per entity type (409) and invalid definitions (422)', async () => {
    await define({});
    await expect(define({})).rejects.toThrow(
      new ConflictError("Attribute definition 'tenant' already exists for entity type 'user'"),
    );
    await define({ entity_type: 'table' }); // same key, other entity type
    await expect(define({ key: 'email' })).rejects.toThrow(
      new InvalidError('key', "'email' is a reserved attribute key for user entities"),
    );
    await expect(define({ key: 'lvl', value_type: 'integer', default_value: 'x' })).rejects.toThrow(
      "invalid default_value: 'x' is not a valid integer",
    );
    expect((await auditRows(store)).length).toBe(2);
  });

  it('lists by key with §1.9 rules (50, 1..200) and filters', async () => {
    for (const key of ['zeta', 'alpha', 'mid_key']) await define({ key, display_name: `Name ${key}` });
    await define({ key: 'col_attr', entity_type: 'column', display_name: 'Special' });
    const all = await listAttributeDefinitions(store.db, {});
    expect(all).toMatchObject({ total: 4, page: 1, page_size: 50 });
    expect(all.data.map((d) => d.key)).toEqual(['alpha', 'col_attr', 'mid_key', 'zeta']);
    expect((await listAttributeDefinitions(store.db, { entityType: 'user' })).total).toBe(3);
    expect((await listAttributeDefinitions(store.db, { search: 'SPEC' })).data.map((d) => d.key)).toEqual([
      'col_attr',
    ]);
    expect((await listAttributeDefinitions(store.db, { search: 'name z' })).data.map((d) => d.key)).toEqual([
      'zeta',
    ]);
    const clamped = await listAttributeDefinitions(store.db, { pageSize: 0, page: 2 });
    expect(clamped).toMatchObject({ page: 2, page_size: 1, total: 4 });
    expect(clamped.data.map((d) => d.key)).toEqual(['col_attr']);
    expect((await listAttributeDefinitions(store.db, { pageSize: 500 })).page_size).toBe(200);
    expect((await listUserAttributeDefinitions(store.db)).map((d) => d.key)).toEqual([
      'alpha',
      'mid_key',
      'zeta',
    ]);
  });

  it('updates with tri-state fields, the rule on final values, audit of sent fields', async () => {
    const def = await define({ description: 'old', allowed_values: ['a', 'b'], default_value: 'a' });
    const updated = await run((tx) =>
      updateAttributeDefinition(tx, def.id, {
        display_name: 'T2',
        description: null,
        allowed_values: ['a', 'c'],
      }),
    );
    expect(updated).toMatchObject({
      display_name: 'T2',
      description: null,
      allowed_values: ['a', 'c'],
      default_value: 'a',
    });
    expect(updated.updated_at > def.updated_at).toBe(true);
    expect(await lastAudit()).toMatchObject({
      action: 'update',
      changes: {
        before: { display_name: 'Tenant', description: 'old', allowed_values: ['a', 'b'] },
        after: { display_name: 'T2', description: null, allowed_values: ['a', 'c'] },
      },
    });
    await expect(
      run((tx) => updateAttributeDefinition(tx, def.id, { allowed_values: ['x'] })),
    ).rejects.toThrow('default_value must be in allowed_values');
    await expect(
      run((tx) => updateAttributeDefinition(tx, def.id, { value_type: 'integer' })),
    ).rejects.toThrow("invalid default_value: 'a' is not a valid integer");
    const cleared = await run((tx) =>
      updateAttributeDefinition(tx, def.id, {
        default_value: null,
        allowed_values: null,
        value_type: 'integer',
      }),
    );
    expect(cleared).toMatchObject({ value_type: 'integer', default_value: null, allowed_values: null });
    await run((tx) => updateAttributeDefinition(tx, def.id, {}));
    expect(await lastAudit()).toMatchObject({ action: 'update', changes: { before: {}, after: {} } });
    await expect(run((tx) => updateAttributeDefinition(tx, 'nope', {}))).rejects.toThrow(
      new NotFoundError('Attribute definition not found'),
    );
  });

  it('delete: 409 when in use, force removes the key from every user in the same transaction', async () => {
    const tenant = await define({});
    await define({ key: 'region' });
    const users = [];
    for (const [name, attrs] of [
      ['alice', { tenant: 'acme', region: 'eu' }],
      ['bob', { tenant: 'globex' }],
      ['carl', { region: 'tenant' }], // the key appears as a value only: not affected
    ] as const) {
      const u = await run((tx) => createUser(tx, { username: name, password: 'Demo1234!' }));
      await run((tx) => updateUser(tx, u.id, { attributes: attrs }));
      users.push(u);
    }
    expect(await countUsersWithAttribute(store.db, 'tenant')).toBe(2);
    await expect(run((tx) => deleteAttributeDefinition(tx, tenant.id))).rejects.toThrow(
      new ConflictError(
        "2 user(s) have attribute 'tenant'. Use ?force=true to delete and remove from all entities.",
      ),
    );
    expect(await getAttributeDefinition(store.db, tenant.id)).toBeDefined();
    expect(await run((tx) => deleteAttributeDefinition(tx, tenant.id, { force: true }))).toEqual({
      affected_count: 2,
    });
    expect(await getAttributeDefinition(store.db, tenant.id)).toBeUndefined();
    const attrs = await Promise.all(users.map(async (u) => (await getUserById(store.db, u.id))?.attributes));
    expect(attrs).toEqual([{ region: 'eu' }, {}, { region: 'tenant' }]);
    expect(await lastAudit()).toMatchObject({
      resource_type: 'attribute_definition',
      resource_id: tenant.id,
      action: 'delete',
      changes: {
        before: {
          key: 'tenant',
          entity_type: 'user',
          value_type: 'string',
          display_name: 'Tenant',
          default_value: null,
          allowed_values: null,
          description: null,
          affected_count: 2,
        },
      },
    });
    await expect(run((tx) => deleteAttributeDefinition(tx, tenant.id))).rejects.toThrow(NotFoundError);
  });

  it('a failing forced delete leaves users and definition untouched (rollback)', async () => {
    const tenant = await define({});
    const u = await run((tx) => createUser(tx, { username: 'alice', password: 'Demo1234!' }));
    await run((tx) => updateUser(tx, u.id, { attributes: { tenant: 'acme' } }));
    const before = (await auditRows(store)).length;
    await expect(
      run(async (tx) => {
        await deleteAttributeDefinition(tx, tenant.id, { force: true });
        throw new Error('later step failed');
      }),
    ).rejects.toThrow('later step failed');
    expect((await getUserById(store.db, u.id))?.attributes).toEqual({ tenant: 'acme' });
    expect(await getAttributeDefinition(store.db, tenant.id)).toBeDefined();
    expect(await auditRows(store)).toHaveLength(before);
  });

  it('non-user definitions are deleted without counting users', async () => {
    const def = await define({ entity_type: 'table' });
    const u = await run((tx) => createUser(tx, { username: 'alice', password: 'Demo1234!' }));
    await define({}); // user-level tenant so alice can hold the key
    await run((tx) => updateUser(tx, u.id, { attributes: { tenant: 'acme' } }));
    expect(await run((tx) => deleteAttributeDefinition(tx, def.id))).toEqual({ affected_count: 0 });
    expect((await getUserById(store.db, u.id))?.attributes).toEqual({ tenant: 'acme' });
  });
});
