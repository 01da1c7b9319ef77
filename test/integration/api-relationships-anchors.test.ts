/**
 * Column anchors (api-contract §4.9) on both store engines: both shapes
 * (FK walk and same-table alias) with deterministic ids, every check in the
 * contract's order with its message, the 409 duplicate, list order, scoped
 * delete, and the audit rows (delete records relationship_id, not
 * actual_column_name).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { anchorId } from '../../src/store/ids.js';
import { STORE_ENGINES } from '../support/stores.js';
import {
  auditRowsOf,
  expectNoSecretLeak,
  fullSelection,
  MISSING_ID,
  openDataSourceApi,
  tableIds,
  TS,
  type DataSourceApi,
} from './api-datasources-support.js';

describe.each(STORE_ENGINES)('API column anchors on %s', (engine) => {
  let api: DataSourceApi;
  let ds: string;
  let t: Record<string, string>;
  let relId: string;
  beforeEach(async () => {
    api = await openDataSourceApi(engine);
    ds = await api.createDataSource();
    expect((await api.runJob(ds, fullSelection())).status).toBe('completed');
    t = await tableIds(api, ds);
    const rel = await api.call('POST', `/api/v1/datasources/${ds}/relationships`, {
      body: {
        child_table_id: t['public.payments'],
        child_column_name: 'order_id',
        parent_table_id: t['public.orders'],
        parent_column_name: 'id',
      },
    });
    relId = rel.json.id;
  });
  afterEach(async () => {
    await expectNoSecretLeak(api);
    await api.dispose();
  });

  const url = (suffix = '', target = ds) => `/api/v1/datasources/${target}/column-anchors${suffix}`;
  const create = (body: unknown, target = ds) => api.call('POST', url('', target), { body });

  it('creates both shapes (201) with deterministic ids, lists them oldest first, audits {after}', async () => {
    const walk = await create({
      child_table_id: t['public.payments'],
      resolved_column_name: 'status',
      relationship_id: relId.toUpperCase(),
      actual_column_name: '   ',
    });
    expect(walk.status).toBe(201);
    expect(walk.json).toEqual({
      id: anchorId(ds, t['public.payments'] as string, 'status'),
      data_source_id: ds,
      child_table_id: t['public.payments'],
      child_table_name: 'payments',
      resolved_column_name: 'status',
      relationship_id: relId,
      actual_column_name: null,
      designated_at: expect.stringMatching(TS),
      designated_by: api.admin.id,
    });
    const alias = await create({
      child_table_id: t['public.orders'],
      resolved_column_name: ' tenant',
      actual_column_name: '  note ',
      relationship_id: null,
    });
    expect(alias.json).toMatchObject({
      resolved_column_name: ' tenant',
      actual_column_name: 'note',
      relationship_id: null,
    });
    const list = await api.call('GET', url());
    expect(list.json.map((a: { id: string }) => a.id)).toEqual([walk.json.id, alias.json.id]);
    const audit = await auditRowsOf(api.store, 'column_anchor');
    expect(audit.map((a) => a.changes)).toEqual([
      {
        after: {
          data_source_id: ds,
          child_table_id: t['public.payments'],
          resolved_column_name: 'status',
          relationship_id: relId,
        },
      },
      {
        after: {
          data_source_id: ds,
          child_table_id: t['public.orders'],
          resolved_column_name: ' tenant',
          actual_column_name: 'note',
        },
      },
    ]);
  });

  it('checks every rule in the contract order', async () => {
    const other = await api.createDataSource('other');
    await api.runJob(other, fullSelection());
    const ot = await tableIds(api, other);
    const foreignRel = await api.call('POST', `/api/v1/datasources/${other}/relationships`, {
      body: {
        child_table_id: ot['public.payments'],
        child_column_name: 'order_id',
        parent_table_id: ot['public.orders'],
        parent_column_name: 'id',
      },
    });
    const payments = t['public.payments'];
    const cases: [Record<string, unknown>, string | undefined, number, string][] = [
      [{ child_table_id: MISSING_ID, resolved_column_name: '' }, MISSING_ID, 404, 'Data source not found'],
      [
        { child_table_id: MISSING_ID, resolved_column_name: '  ' },
        undefined,
        422,
        'resolved_column_name must be non-empty',
      ],
      [
        {
          child_table_id: MISSING_ID,
          resolved_column_name: 'org',
          relationship_id: relId,
          actual_column_name: 'x',
        },
        undefined,
        422,
        "Provide exactly one of 'relationship_id' or 'actual_column_name', not both",
      ],
      [
        { child_table_id: MISSING_ID, resolved_column_name: 'org', actual_column_name: ' ' },
        undefined,
        422,
        "Provide exactly one of 'relationship_id' (FK walk) or 'actual_column_name' (same-table alias)",
      ],
      [
        { child_table_id: MISSING_ID, resolved_column_name: 'org', relationship_id: MISSING_ID },
        undefined,
        404,
        'Table not found',
      ],
      [
        { child_table_id: ot['public.payments'], resolved_column_name: 'org', relationship_id: MISSING_ID },
        undefined,
        404,
        'Table not found in this datasource',
      ],
      [
        { child_table_id: payments, resolved_column_name: 'org', relationship_id: MISSING_ID },
        undefined,
        404,
        'Relationship not found',
      ],
      [
        { child_table_id: payments, resolved_column_name: 'org', relationship_id: foreignRel.json.id },
        undefined,
        404,
        'Relationship does not belong to this datasource',
      ],
      [
        { child_table_id: t['public.orders'], resolved_column_name: 'org', relationship_id: relId },
        undefined,
        422,
        'relationship.child_table_id does not match anchor.child_table_id',
      ],
    ];
    for (const [body, target, status, message] of cases) {
      const r = await create(body, target);
      expect([r.status, r.json], message).toEqual([status, { error: message }]);
    }
    expect(
      (await create({ child_table_id: payments, resolved_column_name: 'org', relationship_id: relId }))
        .status,
    ).toBe(201);
    const dup = await create({
      child_table_id: payments,
      resolved_column_name: 'org',
      actual_column_name: 'amount',
    });
    expect([dup.status, dup.json]).toEqual([
      409,
      { error: "An anchor for column 'org' on this table already exists." },
    ]);
    const missing = await create({ child_table_id: payments });
    expect([missing.status, missing.text]).toEqual([
      422,
      'Failed to deserialize the JSON body into the target type: missing field `resolved_column_name`',
    ]);
    expect(await auditRowsOf(api.store, 'column_anchor')).toHaveLength(1);
    const noDs = await api.call('GET', url('', MISSING_ID));
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);
  });

  it('deletes an anchor of this data source only (204), auditing {before} without actual_column_name', async () => {
    const alias = (
      await create({
        child_table_id: t['public.orders'],
        resolved_column_name: 'tenant',
        actual_column_name: 'note',
      })
    ).json;
    const other = await api.createDataSource('other');
    const elsewhere = await api.call('DELETE', url(`/${alias.id}`, other));
    expect([elsewhere.status, elsewhere.json]).toEqual([404, { error: 'Column anchor not found' }]);
    const noDs = await api.call('DELETE', url(`/${alias.id}`, MISSING_ID));
    expect([noDs.status, noDs.json]).toEqual([404, { error: 'Data source not found' }]);
    const bad = await api.call('DELETE', url('/x'));
    expect([bad.status, bad.text]).toEqual([400, 'Invalid URL: Cannot parse `x` to a UUID']);
    const ok = await api.call('DELETE', url(`/${alias.id}`));
    expect([ok.status, ok.text]).toEqual([204, '']);
    expect((await api.call('GET', url())).json).toEqual([]);
    expect((await auditRowsOf(api.store, 'column_anchor', alias.id)).at(-1)).toMatchObject({
      action: 'delete',
      actor_id: api.admin.id,
      changes: {
        before: {
          data_source_id: ds,
          child_table_id: t['public.orders'],
          resolved_column_name: 'tenant',
          relationship_id: null,
        },
      },
    });
    const again = await api.call('DELETE', url(`/${alias.id}`));
    expect([again.status, again.json]).toEqual([404, { error: 'Column anchor not found' }]);
  });
});
