/**
 * Management-API tests without a network: `openTestApi(engine)` builds the
 * admin server on a fresh, migrated store of that engine, seeds one admin and
 * logs it in; `call()` injects a request (JSON body, bearer token by default)
 * and returns the response with its body parsed when it is JSON.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildAdminServer, type AdminServerOptions } from '../../src/admin/server.js';
import type { AuthThrottleOptions } from '../../src/wire/auth-throttle.js';
import { auditedTransaction } from '../../src/store/audited.js';
import type { Store, StoreEngine } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { createUser, type User } from '../../src/store/repos/users.js';
import { openTestStore } from './stores.js';

export const JWT_SECRET = 'api-test-secret';
export const ADMIN_PASSWORD = 'Admin123!';

export interface CallOptions {
  /** Serialised as JSON unless it is a string (sent as is). */
  body?: unknown;
  /** Defaults to the seeded admin's token; `null` sends no Authorization header. */
  token?: string | null;
  /** `content-type: ''` sends the body without a content type. */
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: LightMyRequestResponse['headers'];
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface TestApi {
  app: FastifyInstance;
  store: Store;
  admin: User;
  token: string;
  call(method: string, url: string, options?: CallOptions): Promise<ApiResponse>;
  /** Creates a user straight in the store (no API rules); returns it. */
  seedUser(username: string, options?: { password?: string; is_admin?: boolean }): Promise<User>;
  /** Logs in through the API; returns the token (throws unless 200). */
  login(username: string, password: string): Promise<string>;
  dispose(): Promise<void>;
}

export interface TestApiOptions {
  corsAllowedOrigins?: string[];
  loginThrottle?: Partial<AuthThrottleOptions>;
  jwtExpiryHours?: number;
  server?: Partial<AdminServerOptions>;
}

export async function openTestApi(engine: StoreEngine, options: TestApiOptions = {}): Promise<TestApi> {
  const testStore = await openTestStore(engine);
  const store = testStore.store;
  const app = await buildAdminServer({
    api: {
      store,
      jwt: { secret: JWT_SECRET, expiryHours: options.jwtExpiryHours ?? 24 },
      loginThrottle: options.loginThrottle ?? { maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000 },
    },
    corsAllowedOrigins: options.corsAllowedOrigins ?? [],
    ...options.server,
  });

  const call = async (method: string, url: string, callOptions: CallOptions = {}): Promise<ApiResponse> => {
    const headers: Record<string, string> = { ...callOptions.headers };
    const token = callOptions.token === undefined ? api.token : callOptions.token;
    if (token !== null && headers.authorization === undefined) headers.authorization = `Bearer ${token}`;
    let payload: string | undefined;
    if (callOptions.body !== undefined) {
      payload = typeof callOptions.body === 'string' ? callOptions.body : JSON.stringify(callOptions.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
    }
    if (headers['content-type'] === '') delete headers['content-type']; // a body without a type
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
      createUser(tx, {
        username,
        password: seed.password ?? 'Secret123!',
        is_admin: seed.is_admin ?? false,
      }),
    );

  const login = async (username: string, password: string) => {
    const response = await call('POST', '/api/v1/auth/login', { body: { username, password }, token: null });
    if (response.status !== 200) throw new Error(`login ${username}: ${response.status} ${response.text}`);
    return response.json.token as string;
  };

  const admin = await seedUser('admin', { password: ADMIN_PASSWORD, is_admin: true });
  const api: TestApi = {
    app,
    store,
    admin,
    token: '',
    call,
    seedUser,
    login,
    dispose: async () => {
      await app.close();
      await testStore.dispose();
    },
  };
  api.token = await login('admin', ADMIN_PASSWORD);
  return api;
}

/** Every admin audit row of one resource, oldest first, `changes` parsed. */
export async function auditRowsOf(store: Store, resourceType: string, resourceId?: string) {
  let query = store.db.selectFrom('admin_audit_log').selectAll().where('resource_type', '=', resourceType);
  if (resourceId !== undefined) query = query.where('resource_id', '=', resourceId);
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ ...r, changes: r.changes === null ? null : (JSON.parse(r.changes) as unknown) }));
}
