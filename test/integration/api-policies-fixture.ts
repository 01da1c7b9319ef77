/**
 * The policy tests' API: `openTestApi` of test/support/api.ts registers only
 * the foundation's resources, so this builds the same server (fresh migrated
 * store of the engine, seeded admin logged in, injected requests) with the
 * policy, policy-YAML and decision-function route modules added. Also seeds
 * what those tests need straight through the repositories: a data source
 * with a saved catalog, assignments, relationships and anchors.
 */
import { randomBytes } from 'node:crypto';
import { buildAdminServer } from '../../src/admin/server.js';
import { decisionFunctionRoutes } from '../../src/admin/routes/decision-functions.js';
import { policyIoRoutes } from '../../src/admin/routes/policy-io.js';
import { policyRoutes } from '../../src/admin/routes/policies.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import type { StoreEngine } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { saveCatalog } from '../../src/store/repos/catalog.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { assignPolicy, type NewAssignment } from '../../src/store/repos/policy-assignments.js';
import { createUser } from '../../src/store/repos/users.js';
import {
  ADMIN_PASSWORD,
  JWT_SECRET,
  type ApiResponse,
  type CallOptions,
  type TestApi,
} from '../support/api.js';
import { openTestStore } from '../support/stores.js';

export const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
export const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?$/;

const cipher = new SecretCipher(randomBytes(32));

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
  const testStore = await openTestStore(engine);
  const store = testStore.store;
  const app = await buildAdminServer({
    api: {
      store,
      jwt: { secret: JWT_SECRET, expiryHours: 24 },
      loginThrottle: { maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000 },
      routes: [policyRoutes, policyIoRoutes, decisionFunctionRoutes],
    },
  });

  const call = async (method: string, url: string, options: CallOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...options.headers };
    const token = options.token === undefined ? api.token : options.token;
    if (token !== null && headers.authorization === undefined) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
    }
    if (headers['content-type'] === '') delete headers['content-type'];
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload === undefined ? {} : { payload }),
    });
    const isJson = String(response.headers['content-type'] ?? '').startsWith('application/json');
    return {
      status: response.statusCode,
      headers: response.headers,
      text: response.body,
      json: isJson && response.body !== '' ? JSON.parse(response.body) : undefined,
    };
  };

  const seedUser: TestApi['seedUser'] = (username, seed = {}) =>
    auditedTransaction(store, SYSTEM_ACTOR_ID, (tx) =>
      createUser(tx, { username, password: seed.password ?? 'Secret123!', is_admin: seed.is_admin ?? false }),
    );
  const login = async (username: string, password: string) => {
    const r = await call('POST', '/api/v1/auth/login', { body: { username, password }, token: null });
    if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${r.text}`);
    return r.json.token as string;
  };
  const admin = await seedUser('admin', { password: ADMIN_PASSWORD, is_admin: true });
  const asAdmin = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(store, admin.id, work);

  const seedDataSource: PolicyTestApi['seedDataSource'] = async (name, tables, alias = {}) => {
    const ds = await asAdmin((tx) =>
      createDataSource(tx, cipher, {
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

  const api: PolicyTestApi = {
    app,
    store,
    admin,
    token: '',
    call,
    seedUser,
    login,
    asAdmin,
    seedDataSource,
    assign: async (input) => (await asAdmin((tx) => assignPolicy(tx, input))).id,
    dispose: async () => {
      await app.close();
      await testStore.dispose();
    },
  };
  api.token = await login('admin', ADMIN_PASSWORD);
  return api;
}
