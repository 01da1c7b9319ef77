import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { newId, SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import {
  createDataSource,
  deleteDataSource,
  findDataSourceByName,
  getDataSource,
  getDataSourceConnection,
  isEmptyDataSourcePatch,
  listDataSources,
  updateDataSource,
  type NewDataSource,
} from '../../src/store/repos/datasources.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const TS = '2026-01-01T00:00:00.000000';
const PASSWORD = 'Sup3r-s3cret-upstream-pw';
const cipher = new SecretCipher(randomBytes(32));

async function insertUser(db: Kysely<Database>, username: string): Promise<string> {
  const id = newId();
  await db
    .insertInto('proxy_user')
    .values({
      id,
      username,
      password_hash: 'placeholder-hash',
      scram_verifier: 'placeholder-verifier',
      password_changed_at: TS,
      created_at: TS,
      updated_at: TS,
    })
    .execute();
  return id;
}

const input = (name: string, config: Record<string, unknown> = {}): NewDataSource => ({
  name,
  ds_type: 'postgres',
  config: {
    host: 'db.internal',
    port: 5432,
    database: 'shop',
    username: 'reader',
    password: PASSWORD,
    ...config,
  },
});

describe.each(STORE_ENGINES)('data sources on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;
  let adminId: string;
  const tx = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(t.store, adminId, work);
  const auditRows = () => db.selectFrom('admin_audit_log').selectAll().orderBy('created_at').execute();

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
    adminId = await insertUser(db, 'admin');
  });
  afterEach(async () => t.dispose());

  it('creates with defaults, hides the secret, encrypts it at rest and audits without config', async () => {
    const ds = await tx((x) =>
      createDataSource(x, cipher, input('shop', { port: '6543', sslmode: undefined })),
    );
    expect(ds).toMatchObject({
      name: 'shop',
      ds_type: 'postgres',
      config: { host: 'db.internal', port: 6543, database: 'shop', username: 'reader', sslmode: 'require' },
      is_active: true,
      access_mode: 'policy_required',
      last_sync_at: null,
      last_sync_result: null,
    });
    expect(Object.keys(ds).sort()).toEqual(
      [
        'access_mode',
        'config',
        'created_at',
        'ds_type',
        'id',
        'is_active',
        'last_sync_at',
        'last_sync_result',
        'name',
        'updated_at',
      ].sort(),
    );
    expect(JSON.stringify(ds)).not.toContain(PASSWORD);
    expect(ds.config).not.toHaveProperty('password');

    const row = await db
      .selectFrom('data_source')
      .selectAll()
      .where('id', '=', ds.id)
      .executeTakeFirstOrThrow();
    expect(row.secure_config).not.toContain(PASSWORD);
    expect(row.config).not.toContain(PASSWORD);
    expect(JSON.parse(cipher.decrypt(row.secure_config))).toEqual({ password: PASSWORD });

    const audits = await auditRows();
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({ resource_type: 'datasource', resource_id: ds.id, action: 'create' });
    expect(JSON.parse(audits[0]?.changes ?? '')).toEqual({
      after: { name: 'shop', ds_type: 'postgres', access_mode: 'policy_required', is_active: true },
    });
    expect(JSON.stringify(audits)).not.toContain(PASSWORD);

    // The creating admin gets a user-scoped grant (§4.5 side effect).
    const grants = await db.selectFrom('data_source_access').selectAll().execute();
    expect(grants).toMatchObject([{ user_id: adminId, assignment_scope: 'user', data_source_id: ds.id }]);
  });

  it('applies the sslmode default and accepts verify-full; the system actor gets no grant', async () => {
    const a = await tx((x) => createDataSource(x, cipher, input('a1')));
    expect(a.config.sslmode).toBe('require');
    const b = await auditedTransaction(t.store, SYSTEM_ACTOR_ID, (x) =>
      createDataSource(x, cipher, { ...input('b1', { sslmode: 'verify-full' }), access_mode: 'open' }),
    );
    expect(b).toMatchObject({ access_mode: 'open', config: { sslmode: 'verify-full' } });
    const grants = await db.selectFrom('data_source_access').select('data_source_id').execute();
    expect(grants.map((g) => g.data_source_id)).toEqual([a.id]);
  });

  it.each([
    [{ name: '' }, 'name', 'Datasource name must be between 1 and 64 characters'],
    [{ name: 'a'.repeat(65) }, 'name', 'Datasource name must be between 1 and 64 characters'],
    [{ name: '1shop' }, 'name', 'Datasource name must start with a letter'],
    [
      { name: 'shop.prod' },
      'name',
      'Datasource name may only contain letters, digits, underscores, and hyphens',
    ],
    [{ access_mode: 'closed' }, 'access_mode', "access_mode must be 'open' or 'policy_required'"],
    [{ ds_type: 'mysql' }, 'ds_type', 'Unknown data source type: mysql'],
    [{ config: 'host=x' }, 'config', 'Invalid input: config must be a JSON object'],
    [
      { config: { host: 'h', database: 'd', password: 'p' } },
      'config.username',
      'Missing required field: username',
    ],
  ])('rejects %j (%s)', async (override, field, message) => {
    const error = await tx((x) =>
      createDataSource(x, cipher, { ...input('shop'), ...override } as NewDataSource),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidError);
    expect(error).toMatchObject({ field, message });
    expect(await auditRows()).toHaveLength(0);
  });

  it.each([
    [{ port: 'abc' }, 'config.port'],
    [{ port: 0 }, 'config.port'],
    [{ port: 70000 }, 'config.port'],
    [{ port: 5432.5 }, 'config.port'],
    [{ sslmode: 'allow-anything' }, 'config.sslmode'],
    [{ host: '' }, 'config.host'],
    [{ database: null }, 'config.database'],
    [{ password: 42 }, 'config.password'],
  ])('validates config values (quirk Q19 fix): %j', async (config, field) => {
    const error = await tx((x) => createDataSource(x, cipher, input('shop', config))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidError);
    expect((error as InvalidError).field).toBe(field);
    expect((error as InvalidError).message).toContain(field.replace('config.', ''));
  });

  it('maps a duplicate name to 409 and rolls back', async () => {
    await tx((x) => createDataSource(x, cipher, input('shop')));
    await expect(tx((x) => createDataSource(x, cipher, input('shop')))).rejects.toThrow(
      new ConflictError('Data source name already exists'),
    );
    expect(await db.selectFrom('data_source').select('id').execute()).toHaveLength(1);
    expect(await auditRows()).toHaveLength(1);
  });

  it('gets by id and name, 404 otherwise', async () => {
    const ds = await tx((x) => createDataSource(x, cipher, input('shop')));
    expect(await getDataSource(db, ds.id)).toEqual(ds);
    expect(await findDataSourceByName(db, 'shop')).toEqual(ds);
    expect(await findDataSourceByName(db, 'SHOP')).toBeUndefined();
    await expect(getDataSource(db, newId())).rejects.toThrow(new NotFoundError('Data source not found'));
  });

  it('paginates per §1.9 (created_at order, clamp, 0 → empty, search)', async () => {
    for (const name of ['alpha', 'Beta', 'gamma_x'])
      await tx((x) => createDataSource(x, cipher, input(name)));
    const first = await listDataSources(db, { page: 0, pageSize: 2 });
    expect(first).toMatchObject({ total: 3, page: 1, page_size: 2 });
    expect(first.data.map((d) => d.name)).toEqual(['alpha', 'Beta']);
    expect((await listDataSources(db, { page: 2, pageSize: 2 })).data.map((d) => d.name)).toEqual([
      'gamma_x',
    ]);
    expect(await listDataSources(db, { page: 5, pageSize: 2 })).toMatchObject({ data: [], total: 3 });
    expect(await listDataSources(db, { pageSize: 0 })).toEqual({ data: [], total: 3, page: 1, page_size: 0 });
    expect(await listDataSources(db, { pageSize: 1000 })).toMatchObject({ page_size: 100, total: 3 });
    expect(await listDataSources(db)).toMatchObject({ page_size: 20 });
    const search = await listDataSources(db, { search: 'BET' });
    expect(search.data.map((d) => d.name)).toEqual(['Beta']);
    expect(search.total).toBe(1);
    expect((await listDataSources(db, { search: '_' })).data.map((d) => d.name)).toEqual(['gamma_x']);
    expect(JSON.stringify(await listDataSources(db))).not.toContain(PASSWORD);
  });

  it('decrypts connection settings by id or name; a wrong key fails', async () => {
    const ds = await tx((x) => createDataSource(x, cipher, input('shop', { sslmode: 'disable' })));
    const expected = {
      id: ds.id,
      name: 'shop',
      ds_type: 'postgres',
      host: 'db.internal',
      port: 5432,
      database: 'shop',
      username: 'reader',
      password: PASSWORD,
      sslmode: 'disable',
      is_active: true,
      access_mode: 'policy_required',
    };
    expect(await getDataSourceConnection(db, cipher, { id: ds.id })).toEqual(expected);
    expect(await getDataSourceConnection(db, cipher, { name: 'shop' })).toEqual(expected);
    const other = new SecretCipher(randomBytes(32));
    await expect(getDataSourceConnection(db, other, { id: ds.id })).rejects.toThrow(/cannot decrypt/);
    await expect(getDataSourceConnection(db, cipher, { name: 'nope' })).rejects.toThrow(NotFoundError);
  });

  it('updates partially: merges config, keeps the secret on "", audits flags only', async () => {
    const ds = await tx((x) => createDataSource(x, cipher, input('shop')));
    const { dataSource, previousName } = await tx((x) =>
      updateDataSource(x, cipher, ds.id, {
        name: 'shop2',
        access_mode: 'open',
        config: { host: 'replica', password: '', extra: 'dropped' },
      }),
    );
    expect(previousName).toBe('shop');
    expect(dataSource).toMatchObject({ name: 'shop2', access_mode: 'open', is_active: true });
    expect(dataSource.config).toEqual({
      host: 'replica',
      port: 5432,
      database: 'shop',
      username: 'reader',
      sslmode: 'require',
    });
    expect((await getDataSourceConnection(db, cipher, { id: ds.id })).password).toBe(PASSWORD);

    await tx((x) =>
      updateDataSource(x, cipher, ds.id, { is_active: false, config: { password: 'n3w-pw!' } }),
    );
    const conn = await getDataSourceConnection(db, cipher, { id: ds.id });
    expect(conn).toMatchObject({ password: 'n3w-pw!', is_active: false, host: 'replica' });

    const audits = await auditRows();
    expect(audits.map((a) => a.action)).toEqual(['create', 'update', 'update']);
    expect(JSON.parse(audits[1]?.changes ?? '')).toEqual({
      before: { name: 'shop', access_mode: 'policy_required' },
      after: { name: 'shop2', access_mode: 'open', config_changed: true },
    });
    expect(JSON.parse(audits[2]?.changes ?? '')).toEqual({
      before: { is_active: true },
      after: { is_active: false, config_changed: true },
    });
    const dump = JSON.stringify(audits);
    expect(dump).not.toContain(PASSWORD);
    expect(dump).not.toContain('n3w-pw!');
    expect(dump).not.toContain('replica');
  });

  it('validates update fields in order and maps a rename collision to 409', async () => {
    const a = await tx((x) => createDataSource(x, cipher, input('a1')));
    await tx((x) => createDataSource(x, cipher, input('b1')));
    await expect(tx((x) => updateDataSource(x, cipher, newId(), { name: '9' }))).rejects.toThrow(
      NotFoundError,
    );
    await expect(tx((x) => updateDataSource(x, cipher, a.id, { name: '9' }))).rejects.toThrow(
      'Datasource name must start with a letter',
    );
    await expect(tx((x) => updateDataSource(x, cipher, a.id, { config: [] }))).rejects.toThrow(
      'Invalid input: config must be a JSON object',
    );
    await expect(tx((x) => updateDataSource(x, cipher, a.id, { config: { port: 'x' } }))).rejects.toThrow(
      InvalidError,
    );
    await expect(tx((x) => updateDataSource(x, cipher, a.id, { name: 'b1' }))).rejects.toThrow(
      new ConflictError('Data source name already exists'),
    );
    expect((await getDataSource(db, a.id)).name).toBe('a1');
  });

  it('treats an all-null patch as empty: unchanged record, nothing to audit', async () => {
    const ds = await tx((x) => createDataSource(x, cipher, input('shop')));
    const patch = { name: null, is_active: null, config: null, access_mode: null };
    expect(isEmptyDataSourcePatch(patch)).toBe(true);
    expect(isEmptyDataSourcePatch({ is_active: false })).toBe(false);
    const failed = await tx((x) => updateDataSource(x, cipher, ds.id, patch)).catch((e: unknown) => e);
    expect((failed as Error).name).toBe('MissingAuditError');
    expect(await getDataSource(db, ds.id)).toEqual(ds);
  });

  it('deletes and audits the public summary; 404 for an unknown id', async () => {
    const ds = await tx((x) => createDataSource(x, cipher, input('shop')));
    const deleted = await tx((x) => deleteDataSource(x, ds.id));
    expect(deleted.name).toBe('shop');
    await expect(getDataSource(db, ds.id)).rejects.toThrow(NotFoundError);
    const last = (await auditRows()).at(-1);
    expect(last).toMatchObject({ resource_type: 'datasource', action: 'delete', resource_id: ds.id });
    expect(JSON.parse(last?.changes ?? '')).toEqual({
      before: { name: 'shop', ds_type: 'postgres', access_mode: 'policy_required', is_active: true },
    });
    await expect(tx((x) => deleteDataSource(x, ds.id))).rejects.toThrow(NotFoundError);
  });
});
