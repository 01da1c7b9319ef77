import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword, scramMatches } from '../../src/identity/passwords.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import { createAttributeDefinition } from '../../src/store/repos/attributes.js';
import {
  countUsers,
  createUser,
  getUserById,
  getUserByUsername,
  getUserCredentials,
  listUsers,
  recordLogin,
  setPassword,
  updateUser,
} from '../../src/store/repos/users.js';
import type { Store } from '../../src/store/db.js';
import { STORE_ENGINES, openTestStore, type TestStore, auditRows } from '../support/stores.js';

describe.each(STORE_ENGINES)('users repository on %s', (engine) => {
  let current: TestStore;
  let store: Store;
  const run = <T>(work: (tx: AuditedTx) => Promise<T>, actor = SYSTEM_ACTOR_ID) =>
    auditedTransaction(store, actor, work);
  const create = (username: string, extra: { is_admin?: boolean; email?: string } = {}) =>
    run((tx) => createUser(tx, { username, password: 'Demo1234!', ...extra }));

  beforeEach(async () => {
    current = await openTestStore(engine);
    store = current.store;
  });
  afterEach(() => current.dispose());

  it('creates a user with argon2id + SCRAM credentials and audits the create', async () => {
    const user = await create('alice', { email: 'a@example.com' });
    expect(user).toMatchObject({
      username: 'alice',
      is_admin: false,
      is_active: true,
      email: 'a@example.com',
      display_name: null,
      attributes: {},
      last_login_at: null,
    });
    expect(user.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    expect(Object.keys(user)).not.toContain('password_hash');
    expect(Object.keys(user)).not.toContain('scram_verifier');
    const creds = await getUserCredentials(store.db, 'alice');
    expect(creds?.password_hash).toMatch(/^\$argon2id\$v=19\$/);
    expect(await verifyPassword(creds?.password_hash ?? '', 'Demo1234!')).toBe(true);
    expect(scramMatches(creds?.scram_verifier ?? '', 'Demo1234!')).toBe(true);
    expect(creds?.password_changed_at).toBe(user.created_at);
    expect(await auditRows(store)).toMatchObject([
      {
        resource_type: 'proxy_user',
        resource_id: user.id,
        action: 'create',
        actor_id: SYSTEM_ACTOR_ID,
        changes: {
          after: {
            username: 'alice',
            is_admin: false,
            is_active: true,
            email: 'a@example.com',
            display_name: null,
          },
        },
      },
    ]);
  });

  it('refuses a taken username (409) and a bad one (422), leaving no audit row', async () => {
    await create('alice');
    await expect(create('alice')).rejects.toThrow(new ConflictError('Username already exists'));
    await expect(create('1abc')).rejects.toThrow(
      new InvalidError('username', 'Username must start with a letter'),
    );
    expect(await countUsers(store.db)).toBe(1);
    expect((await create('Alice')).username).toBe('Alice'); // case-sensitive uniqueness
    expect((await auditRows(store)).map((r) => r.action)).toEqual(['create', 'create']);
  });

  it('reads by id and username; unknown → undefined', async () => {
    const user = await create('bob');
    expect(await getUserById(store.db, user.id)).toEqual(user);
    expect(await getUserByUsername(store.db, 'bob')).toEqual(user);
    expect(await getUserById(store.db, '00000000-0000-7000-8000-000000000000')).toBeUndefined();
    expect(await getUserCredentials(store.db, 'nobody')).toBeUndefined();
  });

  it('lists with §1.9 paging and a case-insensitive, literal search', async () => {
    for (const name of ['anna', 'bert', 'carl', 'dora', 'an_x']) await create(name);
    const all = await listUsers(store.db, {});
    expect(all).toMatchObject({ total: 5, page: 1, page_size: 20 });
    expect(all.data.map((u) => u.username)).toEqual(['anna', 'bert', 'carl', 'dora', 'an_x']);
    expect((await listUsers(store.db, { page: 2, pageSize: 2 })).data.map((u) => u.username)).toEqual([
      'carl',
      'dora',
    ]);
    expect(await listUsers(store.db, { page: 9, pageSize: 2 })).toMatchObject({
      data: [],
      total: 5,
      page: 9,
    });
    expect(await listUsers(store.db, { pageSize: 0 })).toMatchObject({ data: [], total: 5, page_size: 0 });
    expect(await listUsers(store.db, { pageSize: 1000, page: 0 })).toMatchObject({ page: 1, page_size: 100 });
    expect((await listUsers(store.db, { search: 'AN' })).data.map((u) => u.username)).toEqual([
      'anna',
      'an_x',
    ]);
    expect((await listUsers(store.db, { search: 'n_' })).data.map((u) => u.username)).toEqual(['an_x']);
  });

  it('updates provided fields, replaces attributes and audits before/after of sent fields only', async () => {
    await run((tx) =>
      createAttributeDefinition(tx, {
        key: 'tenant',
        entity_type: 'user',
        display_name: 'T',
        value_type: 'string',
      }),
    );
    await run((tx) =>
      createAttributeDefinition(tx, {
        key: 'depts',
        entity_type: 'user',
        display_name: 'D',
        value_type: 'list',
      }),
    );
    const user = await create('carol');
    const updated = await run((tx) =>
      updateUser(tx, user.id, {
        display_name: 'Carol',
        email: null,
        attributes: { tenant: 'acme', depts: ['a'] },
      }),
    );
    expect(updated).toMatchObject({
      display_name: 'Carol',
      email: null,
      attributes: { tenant: 'acme', depts: ['a'] },
    });
    expect(updated.updated_at > user.updated_at).toBe(true);
    const cleared = await run((tx) => updateUser(tx, user.id, { attributes: {} }));
    expect(cleared.attributes).toEqual({});
    await run((tx) => updateUser(tx, user.id, {}));
    const rows = (await auditRows(store)).filter(
      (r) => r.resource_type === 'proxy_user' && r.action === 'update',
    );
    expect(rows.map((r) => r.changes)).toEqual([
      {
        before: { display_name: null, attributes: {} },
        after: { display_name: 'Carol', attributes: { tenant: 'acme', depts: ['a'] } },
      },
      { before: { attributes: { tenant: 'acme', depts: ['a'] } }, after: { attributes: {} } },
      { before: {}, after: {} },
    ]);
  });

  it('validates attributes against definitions (422) and rolls back', async () => {
    await run((tx) =>
      createAttributeDefinition(tx, {
        key: 'level',
        entity_type: 'user',
        display_name: 'L',
        value_type: 'integer',
        allowed_values: ['1', '2'],
      }),
    );
    const user = await create('dave');
    const attempt = (attributes: Record<string, unknown>) =>
      run((tx) => updateUser(tx, user.id, { attributes }));
    await expect(attempt({ nope: 'x' })).rejects.toThrow(
      "Unknown attribute key 'nope'. Define it first via attribute definitions.",
    );
    await expect(attempt({ level: 3 })).rejects.toThrow(
      "Attribute 'level' has type 'integer' — value must be a string",
    );
    await expect(attempt({ level: '3' })).rejects.toThrow(
      `Value '3' for attribute 'level' is not in allowed values: ["1", "2"]`,
    );
    await expect(attempt({ level: 'x' })).rejects.toMatchObject({ field: 'attributes.level' });
    expect((await getUserById(store.db, user.id))?.attributes).toEqual({});
  });

  it('changes the password: new hash and verifier, audited without the secret', async () => {
    const user = await create('erin');
    const before = await getUserCredentials(store.db, 'erin');
    const after = await run((tx) => setPassword(tx, user.id, 'Other5678?'));
    expect(after.id).toBe(user.id);
    const creds = await getUserCredentials(store.db, 'erin');
    expect(creds?.password_hash).not.toBe(before?.password_hash);
    expect(await verifyPassword(creds?.password_hash ?? '', 'Other5678?')).toBe(true);
    expect(scramMatches(creds?.scram_verifier ?? '', 'Other5678?')).toBe(true);
    expect((creds?.password_changed_at ?? '') > (before?.password_changed_at ?? '')).toBe(true);
    const last = (await auditRows(store)).at(-1);
    expect(last).toMatchObject({ action: 'update', changes: { field: 'password', changed: true } });
    expect(JSON.stringify(await auditRows(store))).not.toContain('Other5678?');
    await expect(run((tx) => setPassword(tx, '00000000-0000-7000-8000-000000000000', 'x'))).rejects.toThrow(
      new NotFoundError('User not found'),
    );
  });

  it('records logins without an audit row', async () => {
    const user = await create('fred');
    await recordLogin(store.db, user.id);
    const read = await getUserById(store.db, user.id);
    expect(read?.last_login_at).not.toBeNull();
    expect(read?.updated_at).toBe(user.updated_at);
    expect(await auditRows(store)).toHaveLength(1);
  });
});
