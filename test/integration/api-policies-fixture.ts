/**
 * The policy tests' API: `openTestApi` of test/support/api.ts with all
 * route modules, plus seeding straight through the repositories of what
 * those tests need: a data source with a saved catalog, policy assignments.
 */
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import type { StoreEngine } from '../../src/store/db.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { assignPolicy, type NewAssignment } from '../../src/store/repos/policy-assignments.js';
import { openTestApi, type TestApi } from '../support/api.js';

export { MISSING_ID, TS } from '../support/api.js';

export interface PolicyTestApi extends TestApi {
  /** Runs repository calls as the seeded admin, in one audited transaction. */
  asAdmin<T>(work: (tx: AuditedTx) => Promise<T>): Promise<T>;
  /** A data source whose stored catalog is `tables` (schema → table → column names). */
  seedDataSource(
    name: string,
    tables: Record<string, Record<string, string[]>>,
    alias?: Record<string, string>,
  ): Promise<string>;
  assign(input: NewAssignment): Promise<string>;
}

export async function openPolicyApi(engine: StoreEngine): Promise<PolicyTestApi> {
  const api = await openTestApi(engine, { routes: 'all' });
  const asAdmin = <T>(work: (tx: AuditedTx) => Promise<T>) =>
    auditedTransaction(api.store, api.admin.id, work);
  const seedDataSource: PolicyTestApi['seedDataSource'] = async (name, tables, alias = {}) => {
    const ds = await asAdmin((tx) =>
      createDataSource(tx, api.cipher, {
        name,
        ds_type: 'postgres',
        config: { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' },
      }),
    );
    const schemas = Object.entries(tables);
    await asAdmin((tx) =>
      saveCatalog(
        tx,
        ds.id,
        schemas.map(([schema_name, ts]) => ({
          schema_name,
          schema_alias: alias[schema_name] ?? null,
          is_selected: true,
          tables: Object.keys(ts).map((table_name) => ({
            table_name,
            table_type: 'TABLE',
            is_selected: true,
          })),
        })),
        schemas.flatMap(([schema_name, ts]) =>
          Object.entries(ts).map(([table_name, columns]) => ({
            schema_name,
            table_name,
            columns: columns.map((column_name, i) => ({
              column_name,
              ordinal_position: i + 1,
              data_type: 'text',
              udt_name: 'text',
              is_nullable: true,
            })),
          })),
        ),
      ),
    );
    return ds.id;
  };

  return Object.assign(api, {
    asAdmin,
    seedDataSource,
    assign: async (input: NewAssignment) => (await asAdmin((tx) => assignPolicy(tx, input))).id,
  });
}
