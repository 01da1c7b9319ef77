import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { appliedMigrations, LATEST_MIGRATION, migrateToLatest } from '../../src/store/migrate.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const ENTITY_TABLES = [
  'admin_audit_log',
  'attribute_definition',
  'column_anchor',
  'data_source',
  'data_source_access',
  'decision_function',
  'discovered_column',
  'discovered_schema',
  'discovered_table',
  'policy',
  'policy_assignment',
  'policy_version',
  'proxy_user',
  'query_audit_log',
  'role',
  'role_inheritance',
  'role_member',
  'table_relationship',
];

describe.each(STORE_ENGINES)('migrations on %s', (engine) => {
  let current: TestStore | undefined;
  afterEach(async () => {
    await current?.dispose();
    current = undefined;
  });

  it('creates every entity table and records the version', async () => {
    current = await openTestStore(engine, { migrate: false });
    const { store } = current;
    expect(await migrateToLatest(store)).toEqual(['001-initial', '002-query-audit-rows']);
    expect(await appliedMigrations(store)).toContain(LATEST_MIGRATION);
    const tables = (await store.db.introspection.getTables()).map((t) => t.name).sort();
    for (const table of ENTITY_TABLES) expect(tables).toContain(table);
  });

  it('is idempotent: a second run applies nothing', async () => {
    current = await openTestStore(engine);
    expect(await migrateToLatest(current.store)).toEqual([]);
  });

  it('enforces foreign keys (cascade) on both engines', async () => {
    current = await openTestStore(engine);
    const { db } = current.store;
    const ts = '2026-01-01T00:00:00.000000';
    await db
      .insertInto('role')
      .values({ id: 'r1', name: 'analyst', description: null, created_at: ts, updated_at: ts })
      .execute();
    await expect(
      db
        .insertInto('role_member')
        .values({ id: 'm1', role_id: 'r1', user_id: 'no-such-user', created_at: ts })
        .execute(),
    ).rejects.toThrow();
    const count = await db
      .selectFrom('role_member')
      .select(sql<number>`count(*)`.as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });
});

async function schemaShape(engine: (typeof STORE_ENGINES)[number]): Promise<string[]> {
  const opened = await openTestStore(engine);
  try {
    const tables = await opened.store.db.introspection.getTables();
    return tables
      .filter((t) => ENTITY_TABLES.includes(t.name))
      .map((t) => {
        const columns = t.columns.map((c) => `${c.name}:${c.isNullable ? 'null' : 'not null'}`).sort();
        return `${t.name}(${columns.join(', ')})`;
      })
      .sort();
  } finally {
    await opened.dispose();
  }
}

it('gives both engines the same tables, columns and nullability', async () => {
  const [sqlite, postgres] = await Promise.all(STORE_ENGINES.map(schemaShape));
  expect(sqlite).toHaveLength(ENTITY_TABLES.length);
  expect(postgres).toEqual(sqlite);
});
