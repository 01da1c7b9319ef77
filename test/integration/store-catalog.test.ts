import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { columnId, newId, schemaId, tableId } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import {
  arrowTypeFor,
  arrowTypeForColumn,
  getCatalog,
  loadSelectedCatalog,
  saveCatalog,
  type BaseType,
  type SchemaSelection,
  type UpstreamTableColumns,
} from '../../src/store/repos/catalog.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createColumnAnchor, createRelationship } from '../../src/store/repos/relationships.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const cipher = new SecretCipher(randomBytes(32));
const ADMIN = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';

describe('arrowTypeFor', () => {
  it.each([
    ['int2', 'smallint', 'Int16'],
    ['int4', 'integer', 'Int32'],
    ['int8', 'bigint', 'Int64'],
    ['float4', 'real', 'Float32'],
    ['float8', 'double precision', 'Float64'],
    ['bool', 'boolean', 'Boolean'],
    ['text', 'text', 'Utf8'],
    ['varchar', 'character varying', 'Utf8'],
    ['bpchar', 'character', 'Utf8'],
    ['name', 'name', 'Utf8'],
    ['uuid', 'uuid', 'Utf8'],
    ['jsonb', 'jsonb', 'Utf8'],
    ['date', 'date', 'Date32'],
    ['timestamp', 'timestamp without time zone', 'Timestamp(Microsecond,None)'],
    ['timestamptz', 'timestamp with time zone', 'Timestamp(Microsecond,Some("UTC"))'],
    ['numeric', 'numeric', 'Decimal128(38,10)'],
    ['numeric', 'numeric(10,2)', 'Decimal128(10,2)'],
    ['numeric', 'numeric(12)', 'Decimal128(12,0)'],
    ['_int4', 'ARRAY', 'List(Int32)'],
    [null, 'integer', 'Int32'],
    [null, 'timestamp with time zone', 'Timestamp(Microsecond,Some("UTC"))'],
    ['mood', 'USER-DEFINED', null],
    ['tsvector', 'tsvector', null],
    ['_mood', 'ARRAY', null],
  ])('%s / %s → %s', (udt, dataType, expected) => {
    expect(arrowTypeFor(udt, dataType)).toBe(expected);
  });

  it('uses explicit precision and scale, Decimal256 above 38 digits', () => {
    expect(arrowTypeFor('numeric', 'numeric', 10, 2)).toBe('Decimal128(10,2)');
    expect(arrowTypeFor('numeric', 'numeric', 50, 4)).toBe('Decimal256(50,4)');
  });
});

describe('arrowTypeForColumn', () => {
  const base = (name: string, kind: BaseType['kind'], is_array = false): BaseType => ({
    name,
    kind,
    is_array,
  });
  it.each([
    ['enum', base('mood', 'enum'), 'Utf8'],
    ['array of enum', base('mood', 'enum', true), 'List(Utf8)'],
    ['enum named like a built-in', base('int4', 'enum'), 'Utf8'],
    ['enum whose name starts with _', base('_mood', 'enum'), 'Utf8'],
    ['domain over text', base('text', 'builtin'), 'Utf8'],
    ['domain over int4', base('int4', 'builtin'), 'Int32'],
    ['array of a domain over int8', base('int8', 'builtin', true), 'List(Int64)'],
    ['array of numeric', base('numeric', 'builtin', true), 'List(Decimal128(38,10))'],
    ['regclass', base('regclass', 'builtin'), null],
    ['int2vector (not a true array)', base('int2vector', 'builtin'), null],
    ['citext', base('citext', 'extension'), 'Utf8'],
    ['array of citext', base('citext', 'extension', true), 'List(Utf8)'],
    ['geometry', base('geometry', 'extension'), null],
    ['a user base type named like a built-in', base('text', 'extension'), null],
    ['composite', base('address', 'unsupported'), null],
    ['composite named like a built-in', base('text', 'unsupported'), null],
    ['array of composite', base('address', 'unsupported', true), null],
    ['range', base('int4range', 'unsupported'), null],
  ])('%s → %s', (_what, baseType, expected) => {
    // udt_name / data_type as information_schema spells them never decide once base_type is known.
    expect(arrowTypeForColumn({ udt_name: 'text', data_type: 'USER-DEFINED', base_type: baseType })).toBe(
      expected,
    );
  });

  it('takes a domain or column precision for a scalar numeric only', () => {
    const numeric = base('numeric', 'builtin');
    expect(arrowTypeForColumn({ base_type: numeric, numeric_precision: 10, numeric_scale: 2 })).toBe(
      'Decimal128(10,2)',
    );
    expect(arrowTypeForColumn({ base_type: numeric, numeric_precision: 5, numeric_scale: -2 })).toBe(
      'Decimal128(5,-2)',
    );
    expect(arrowTypeForColumn({ base_type: numeric })).toBe('Decimal128(38,10)');
  });

  it('falls back to the udt name without a base type: an enum stays unsupported', () => {
    expect(arrowTypeForColumn({ udt_name: 'mood', data_type: 'USER-DEFINED' })).toBeNull();
    expect(arrowTypeForColumn({ udt_name: 'int4', data_type: 'integer' })).toBe('Int32');
    expect(arrowTypeForColumn({ udt_name: 'numeric', numeric_precision: 12, numeric_scale: 3 })).toBe(
      'Decimal128(12,3)',
    );
  });
});

const col = (column_name: string, ordinal_position: number, udt_name: string, data_type = udt_name) => ({
  column_name,
  ordinal_position,
  udt_name,
  data_type,
  is_nullable: ordinal_position !== 1,
});

const UPSTREAM: UpstreamTableColumns[] = [
  {
    schema_name: 'public',
    table_name: 'orders',
    columns: [col('id', 1, 'int4', 'integer'), col('customer_id', 2, 'int4'), col('status', 3, 'text')],
  },
  { schema_name: 'public', table_name: 'customers', columns: [col('id', 1, 'int4'), col('ssn', 2, 'text')] },
  { schema_name: 'sales', table_name: 'leads', columns: [col('id', 1, 'int8'), col('mood', 2, 'mood')] },
];

function selection(overrides: Partial<Record<string, boolean>> = {}): SchemaSelection[] {
  return [
    {
      schema_name: 'public',
      schema_alias: '',
      is_selected: true,
      tables: [
        {
          table_name: 'orders',
          table_type: 'TABLE',
          is_selected: true,
          columns: [{ column_name: 'status', is_selected: overrides.status ?? false }],
        },
        { table_name: 'customers', table_type: 'TABLE', is_selected: overrides.customers ?? true },
      ],
    },
    {
      schema_name: 'sales',
      schema_alias: 's',
      is_selected: overrides.sales ?? true,
      tables: [{ table_name: 'leads', table_type: 'VIEW', is_selected: true }],
    },
  ];
}

describe.each(STORE_ENGINES)('catalog on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;
  let dsId: string;
  const tx = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(t.store, ADMIN, work);
  const save = (schemas: SchemaSelection[], upstream = UPSTREAM) =>
    tx((x) => saveCatalog(x, dsId, schemas, upstream));

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
    const config = { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' };
    dsId = (await tx((x) => createDataSource(x, cipher, { name: 'shop', ds_type: 'postgres', config }))).id;
  });
  afterEach(async () => t.dispose());

  it('saves with deterministic v5 ids and returns the §4.8 tree in a stable order', async () => {
    const result = await save(selection());
    expect(result).toEqual({
      schemas_selected: 2,
      tables_selected: 3,
      columns_selected: 6,
      schemas_removed: 0,
      tables_removed: 0,
    });
    const catalog = await getCatalog(db, dsId);
    const pub = schemaId(dsId, 'public');
    const orders = tableId(pub, 'orders');
    expect(catalog.schemas.map((s) => [s.id, s.schema_name, s.schema_alias, s.is_selected])).toEqual([
      [pub, 'public', null, true],
      [schemaId(dsId, 'sales'), 'sales', 's', true],
    ]);
    expect(catalog.schemas[0]?.tables.map((tb) => tb.table_name)).toEqual(['customers', 'orders']);
    const ordersTable = catalog.schemas[0]?.tables[1];
    expect(ordersTable).toMatchObject({ id: orders, table_type: 'TABLE', is_selected: true });
    expect(ordersTable?.columns).toEqual([
      {
        id: columnId(orders, 'id'),
        column_name: 'id',
        ordinal_position: 1,
        data_type: 'integer',
        is_nullable: false,
        column_default: null,
        arrow_type: 'Int32',
        is_selected: true,
      },
      expect.objectContaining({ column_name: 'customer_id', is_selected: true, is_nullable: true }),
      expect.objectContaining({ column_name: 'status', is_selected: false, arrow_type: 'Utf8' }),
    ]);
    const stored = await db
      .selectFrom('discovered_column')
      .select(['udt_name'])
      .where('id', '=', columnId(orders, 'id'))
      .executeTakeFirstOrThrow();
    expect(stored.udt_name).toBe('int4');

    const audit = await db
      .selectFrom('admin_audit_log')
      .selectAll()
      .where('action', '=', 'save_catalog')
      .executeTakeFirstOrThrow();
    expect(audit).toMatchObject({ resource_type: 'datasource', resource_id: dsId });
    expect(JSON.parse(audit.changes ?? '')).toEqual({
      schemas_selected: 2,
      tables_selected: 3,
      columns_selected: 6,
    });
  });

  it('exposes only selected rows with a known arrow_type', async () => {
    await save(selection());
    const selected = await loadSelectedCatalog(db, dsId);
    expect(selected.data_source_id).toBe(dsId);
    expect(selected.schemas.map((s) => [s.schema_name, s.effective_name])).toEqual([
      ['public', 'public'],
      ['sales', 's'],
    ]);
    const orders = selected.schemas[0]?.tables.find((tb) => tb.table_name === 'orders');
    expect(orders?.columns.map((c) => c.column_name)).toEqual(['id', 'customer_id']); // status deselected
    expect(orders?.columns[0]).toMatchObject({ udt_name: 'int4', arrow_type: 'Int32', is_nullable: false });
    expect(selected.schemas[1]?.tables[0]?.columns.map((c) => c.column_name)).toEqual(['id']); // enum hidden

    await save(selection({ sales: false, customers: false }));
    const narrowed = await loadSelectedCatalog(db, dsId);
    expect(narrowed.schemas.map((s) => s.schema_name)).toEqual(['public']);
    expect(narrowed.schemas[0]?.tables.map((tb) => tb.table_name)).toEqual(['orders']);
    expect((await getCatalog(db, dsId)).schemas).toHaveLength(2); // stored, just not selected
  });

  it('removes unlisted tables and schemas, keeps columns, re-selects unmentioned columns', async () => {
    await save(selection());
    const result = await save(
      [
        {
          schema_name: 'public',
          is_selected: true,
          tables: [{ table_name: 'orders', table_type: 'TABLE', is_selected: true }],
        },
      ],
      UPSTREAM.slice(0, 1),
    );
    expect(result).toMatchObject({ schemas_removed: 1, tables_removed: 2, columns_selected: 3 });
    const catalog = await getCatalog(db, dsId);
    expect(catalog.schemas.map((s) => s.schema_name)).toEqual(['public']);
    expect(catalog.schemas[0]?.tables.map((tb) => tb.table_name)).toEqual(['orders']);
    expect(catalog.schemas[0]?.tables[0]?.columns.every((c) => c.is_selected)).toBe(true);
    expect(await db.selectFrom('discovered_column').select('id').execute()).toHaveLength(3);
  });

  it('applies explicit column flags to stored rows when upstream columns are unavailable', async () => {
    await save(selection({ status: true }));
    await save(selection({ status: false }), []);
    const orders = (await getCatalog(db, dsId)).schemas[0]?.tables.find((tb) => tb.table_name === 'orders');
    expect(orders?.columns.map((c) => [c.column_name, c.is_selected])).toEqual([
      ['id', true],
      ['customer_id', true],
      ['status', false],
    ]);
  });

  it('rejects duplicate effective schema names and unknown data sources', async () => {
    const dup: SchemaSelection[] = [
      { schema_name: 'public', is_selected: true, tables: [] },
      { schema_name: 'other', schema_alias: 'public', is_selected: true, tables: [] },
    ];
    await expect(save(dup)).rejects.toThrow(
      new InvalidError(
        'schemas',
        "Duplicate effective schema name 'public': each schema must have a unique name or alias",
      ),
    );
    await expect(tx((x) => saveCatalog(x, newId(), []))).rejects.toThrow(NotFoundError);
    await expect(getCatalog(db, newId())).rejects.toThrow('Data source not found');
    expect(await db.selectFrom('discovered_schema').select('id').execute()).toHaveLength(0);
  });

  it('refuses to remove a parent table an anchor depends on (restrict), and rolls back', async () => {
    await save(selection());
    const pub = schemaId(dsId, 'public');
    const orders = tableId(pub, 'orders');
    const customers = tableId(pub, 'customers');
    const rel = await tx((x) =>
      createRelationship(x, dsId, {
        child_table_id: orders,
        child_column_name: 'customer_id',
        parent_table_id: customers,
        parent_column_name: 'id',
      }),
    );
    await tx((x) =>
      createColumnAnchor(x, dsId, {
        child_table_id: orders,
        resolved_column_name: 'org',
        relationship_id: rel.id,
      }),
    );
    const withoutCustomers = selection();
    (withoutCustomers[0] as SchemaSelection).tables.splice(1, 1);
    const error = await save(withoutCustomers).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as Error).message).toBe(
      "Cannot remove table 'public.customers': 1 column anchor(s) use a relationship to it; remove the anchors first.",
    );
    expect((await getCatalog(db, dsId)).schemas[0]?.tables.map((tb) => tb.table_name)).toEqual([
      'customers',
      'orders',
    ]);

    // Removing the anchor's own (child) table takes the anchor and relationship with it.
    const withoutOrders = selection();
    (withoutOrders[0] as SchemaSelection).tables.splice(0, 1);
    await save(withoutOrders);
    expect(await db.selectFrom('column_anchor').select('id').execute()).toHaveLength(0);
    expect(await db.selectFrom('table_relationship').select('id').execute()).toHaveLength(0);
  });
});
