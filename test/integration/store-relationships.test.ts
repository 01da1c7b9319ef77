import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { anchorId, newId, relationshipId, schemaId, tableId } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import {
  createColumnAnchor,
  createRelationship,
  deleteColumnAnchor,
  deleteRelationship,
  findRelationship,
  listColumnAnchors,
  listRelationships,
  type NewRelationship,
} from '../../src/store/repos/relationships.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const cipher = new SecretCipher(randomBytes(32));
const ADMIN = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const config = { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' };
const column = (column_name: string, ordinal_position: number) => ({
  column_name,
  ordinal_position,
  data_type: 'integer',
  udt_name: 'int4',
  is_nullable: false,
});

describe.each(STORE_ENGINES)('relationships and anchors on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;
  let ds: string;
  let other: string;
  let payments: string;
  let orders: string;
  let foreignTable: string;
  const tx = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(t.store, ADMIN, work);
  const audits = (type: string) =>
    db
      .selectFrom('admin_audit_log')
      .selectAll()
      .where('resource_type', '=', type)
      .orderBy('created_at')
      .execute();
  const link = (extra: Partial<NewRelationship> = {}): NewRelationship => ({
    child_table_id: payments,
    child_column_name: 'order_id',
    parent_table_id: orders,
    parent_column_name: 'id',
    ...extra,
  });

  async function seed(dataSourceId: string): Promise<void> {
    await tx((x) =>
      saveCatalog(
        x,
        dataSourceId,
        [
          {
            schema_name: 'public',
            is_selected: true,
            tables: [
              { table_name: 'orders', table_type: 'TABLE', is_selected: true },
              { table_name: 'payments', table_type: 'TABLE', is_selected: true },
            ],
          },
        ],
        [
          { schema_name: 'public', table_name: 'orders', columns: [column('id', 1), column('org', 2)] },
          {
            schema_name: 'public',
            table_name: 'payments',
            columns: [column('id', 1), column('order_id', 2)],
          },
        ],
      ),
    );
  }

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
    ds = (await tx((x) => createDataSource(x, cipher, { name: 'shop', ds_type: 'postgres', config }))).id;
    other = (await tx((x) => createDataSource(x, cipher, { name: 'crm', ds_type: 'postgres', config }))).id;
    await seed(ds);
    await seed(other);
    orders = tableId(schemaId(ds, 'public'), 'orders');
    payments = tableId(schemaId(ds, 'public'), 'payments');
    foreignTable = tableId(schemaId(other, 'public'), 'orders');
  });
  afterEach(async () => t.dispose());

  it('creates a relationship with a deterministic id, names joined, audited; find returns it after', async () => {
    expect(await findRelationship(db, ds, link())).toBeNull();
    const rel = await tx((x) => createRelationship(x, ds, link()));
    expect(rel).toEqual({
      id: relationshipId(ds, payments, 'order_id', orders, 'id'),
      data_source_id: ds,
      child_table_id: payments,
      child_table_name: 'payments',
      child_schema_name: 'public',
      child_column_name: 'order_id',
      parent_table_id: orders,
      parent_table_name: 'orders',
      parent_schema_name: 'public',
      parent_column_name: 'id',
      created_at: expect.any(String),
      created_by: ADMIN,
    });
    expect(await findRelationship(db, ds, link())).toEqual(rel);
    await expect(tx((x) => createRelationship(x, ds, link()))).rejects.toThrow(ConflictError);
    const [audit] = await audits('table_relationship');
    expect(audit).toMatchObject({ action: 'create', resource_id: rel.id });
    expect(JSON.parse(audit?.changes ?? '')).toEqual({
      after: {
        data_source_id: ds,
        child_table_id: payments,
        child_column_name: 'order_id',
        parent_table_id: orders,
        parent_column_name: 'id',
      },
    });
  });

  it.each([
    ['same table', { parent_table_id: 'CHILD' }, InvalidError, 'child_table and parent_table must differ'],
    ['unknown child', { child_table_id: 'UNKNOWN' }, NotFoundError, 'Table not found'],
    ['foreign parent', { parent_table_id: 'FOREIGN' }, NotFoundError, 'Table not found in this datasource'],
    [
      'column case',
      { child_column_name: 'Order_ID' },
      InvalidError,
      "Column 'Order_ID' not found on the selected table",
    ],
    [
      'parent column',
      { parent_column_name: 'nope' },
      InvalidError,
      "Column 'nope' not found on the selected table",
    ],
  ] as const)('refuses %s', async (_label, override, type, message) => {
    const resolve = (v: string) =>
      v === 'CHILD' ? payments : v === 'FOREIGN' ? foreignTable : v === 'UNKNOWN' ? newId() : v;
    const input = Object.fromEntries(
      Object.entries(link(override as Partial<NewRelationship>)).map(([k, v]) => [k, resolve(v)]),
    ) as unknown as NewRelationship;
    const error = await tx((x) => createRelationship(x, ds, input)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message.startsWith(message)).toBe(true);
    await expect(findRelationship(db, ds, input)).rejects.toThrow(type);
  });

  it('lists by data source and child table; deletes scoped, refused while anchored', async () => {
    const rel = await tx((x) => createRelationship(x, ds, link()));
    const reverse = await tx((x) =>
      createRelationship(
        x,
        ds,
        link({
          child_table_id: orders,
          child_column_name: 'id',
          parent_table_id: payments,
          parent_column_name: 'order_id',
        }),
      ),
    );
    expect((await listRelationships(db, ds)).map((r) => r.id)).toEqual([rel.id, reverse.id]);
    expect((await listRelationships(db, ds, orders)).map((r) => r.id)).toEqual([reverse.id]);
    expect(await listRelationships(db, other)).toEqual([]);
    await expect(listRelationships(db, newId())).rejects.toThrow('Data source not found');

    await tx((x) =>
      createColumnAnchor(x, ds, {
        child_table_id: payments,
        resolved_column_name: 'org',
        relationship_id: rel.id,
      }),
    );
    await expect(tx((x) => deleteRelationship(x, ds, rel.id))).rejects.toThrow(
      new ConflictError('This relationship is used by 1 column anchor(s); remove the anchors first.'),
    );
    await expect(tx((x) => deleteRelationship(x, other, reverse.id))).rejects.toThrow(
      new NotFoundError('Relationship not found'),
    );
    await tx((x) => deleteRelationship(x, ds, reverse.id));
    expect((await listRelationships(db, ds)).map((r) => r.id)).toEqual([rel.id]);
    const deleted = (await audits('table_relationship')).find((a) => a.action === 'delete');
    expect(JSON.parse(deleted?.changes ?? '')).toEqual({
      before: {
        data_source_id: ds,
        child_table_id: orders,
        child_column_name: 'id',
        parent_table_id: payments,
        parent_column_name: 'order_id',
      },
    });
  });

  it('creates anchors of both shapes with the XOR rule and audits only the shape key', async () => {
    const rel = await tx((x) => createRelationship(x, ds, link()));
    const walk = await tx((x) =>
      createColumnAnchor(x, ds, {
        child_table_id: payments,
        resolved_column_name: 'org',
        relationship_id: rel.id,
        actual_column_name: '  ',
      }),
    );
    expect(walk).toEqual({
      id: anchorId(ds, payments, 'org'),
      data_source_id: ds,
      child_table_id: payments,
      child_table_name: 'payments',
      resolved_column_name: 'org',
      relationship_id: rel.id,
      actual_column_name: null,
      designated_at: expect.any(String),
      designated_by: ADMIN,
    });
    const alias = await tx((x) =>
      createColumnAnchor(x, ds, {
        child_table_id: orders,
        resolved_column_name: 'tenant',
        actual_column_name: ' org ',
      }),
    );
    expect(alias).toMatchObject({ relationship_id: null, actual_column_name: 'org' });
    expect((await listColumnAnchors(db, ds)).map((a) => a.id)).toEqual([walk.id, alias.id]);
    expect(await listColumnAnchors(db, other)).toEqual([]);

    const created = (await audits('column_anchor')).map((a) => JSON.parse(a.changes ?? ''));
    expect(created).toEqual([
      {
        after: {
          data_source_id: ds,
          child_table_id: payments,
          resolved_column_name: 'org',
          relationship_id: rel.id,
        },
      },
      {
        after: {
          data_source_id: ds,
          child_table_id: orders,
          resolved_column_name: 'tenant',
          actual_column_name: 'org',
        },
      },
    ]);
  });

  it('refuses bad anchors with the contract messages', async () => {
    const rel = await tx((x) => createRelationship(x, ds, link()));
    const otherPayments = tableId(schemaId(other, 'public'), 'payments');
    const foreignRel = await tx((x) =>
      createRelationship(x, other, link({ child_table_id: otherPayments, parent_table_id: foreignTable })),
    );
    const cases: [Parameters<typeof createColumnAnchor>[2], new (...a: never[]) => Error, string][] = [
      [
        { child_table_id: payments, resolved_column_name: ' ', relationship_id: rel.id },
        InvalidError,
        'resolved_column_name must be non-empty',
      ],
      [
        {
          child_table_id: payments,
          resolved_column_name: 'org',
          relationship_id: rel.id,
          actual_column_name: 'x',
        },
        InvalidError,
        "Provide exactly one of 'relationship_id' or 'actual_column_name', not both",
      ],
      [
        { child_table_id: payments, resolved_column_name: 'org' },
        InvalidError,
        "Provide exactly one of 'relationship_id' (FK walk) or 'actual_column_name' (same-table alias)",
      ],
      [
        { child_table_id: foreignTable, resolved_column_name: 'org', actual_column_name: 'x' },
        NotFoundError,
        'Table not found in this datasource',
      ],
      [
        { child_table_id: payments, resolved_column_name: 'org', relationship_id: newId() },
        NotFoundError,
        'Relationship not found',
      ],
      [
        { child_table_id: payments, resolved_column_name: 'org', relationship_id: foreignRel.id },
        NotFoundError,
        'Relationship does not belong to this datasource',
      ],
      [
        { child_table_id: orders, resolved_column_name: 'org', relationship_id: rel.id },
        InvalidError,
        'relationship.child_table_id does not match anchor.child_table_id',
      ],
    ];
    for (const [input, type, message] of cases) {
      const error = await tx((x) => createColumnAnchor(x, ds, input)).catch((e: unknown) => e);
      expect(error, message).toBeInstanceOf(type);
      expect((error as Error).message).toBe(message);
    }
    await tx((x) =>
      createColumnAnchor(x, ds, {
        child_table_id: payments,
        resolved_column_name: 'org',
        actual_column_name: 'id',
      }),
    );
    await expect(
      tx((x) =>
        createColumnAnchor(x, ds, {
          child_table_id: payments,
          resolved_column_name: 'org',
          relationship_id: rel.id,
        }),
      ),
    ).rejects.toThrow(new ConflictError("An anchor for column 'org' on this table already exists."));
    await expect(
      tx((x) =>
        createColumnAnchor(x, newId(), {
          child_table_id: payments,
          resolved_column_name: 'o',
          actual_column_name: 'id',
        }),
      ),
    ).rejects.toThrow('Data source not found');
  });

  it('deletes anchors scoped to the data source and audits the before shape', async () => {
    const rel = await tx((x) => createRelationship(x, ds, link()));
    const anchor = await tx((x) =>
      createColumnAnchor(x, ds, {
        child_table_id: payments,
        resolved_column_name: 'org',
        relationship_id: rel.id,
      }),
    );
    await expect(tx((x) => deleteColumnAnchor(x, other, anchor.id))).rejects.toThrow(
      new NotFoundError('Column anchor not found'),
    );
    await tx((x) => deleteColumnAnchor(x, ds, anchor.id));
    expect(await listColumnAnchors(db, ds)).toEqual([]);
    const deleted = (await audits('column_anchor')).find((a) => a.action === 'delete');
    expect(deleted?.resource_id).toBe(anchor.id);
    expect(JSON.parse(deleted?.changes ?? '')).toEqual({
      before: {
        data_source_id: ds,
        child_table_id: payments,
        resolved_column_name: 'org',
        relationship_id: rel.id,
      },
    });
    await tx((x) => deleteRelationship(x, ds, rel.id)); // no longer anchored
    expect(await listRelationships(db, ds)).toEqual([]);
  });
});
