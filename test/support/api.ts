/**
 * Management-API tests without a network: `openTestApi(engine)` builds the
 * admin server on a fresh, migrated store of that engine (the foundation's
 * routes, or with `routes: 'all'` every module a running Rowgate mounts, the
 * data-source ones on a random secrets cipher), seeds one admin and logs it
 * in; `call()` injects a request (JSON body, bearer token by
 * default), records the response body in `responses` and returns the
 * response with its body parsed when it is JSON.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { ApiRoutes } from '../../src/admin/context.js';
import { dataSourceRouteModules } from '../../src/admin/routes/datasource-deps.js';
import { buildAdminServer, type AdminServerOptions } from '../../src/admin/server.js';
import { createLogger } from '../../src/log.js';
import { ADMIN_ROUTE_MODULES } from '../../src/runtime/admin-routes.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import type { AuthThrottleOptions } from '../../src/wire/auth-throttle.js';
import { auditedTransaction } from '../../src/store/audited.js';
import type { Store, StoreEngine } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { createUser, type User } from '../../src/store/repos/users.js';
import { openTestStore } from './stores.js';

export const JWT_SECRET = 'api-test-secret';
export const ADMIN_PASSWORD = 'Admin123!';
/** A well-formed id that no resource has. */
export const MISSING_ID = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
/** A timestamp as the API writes it (milliseconds on SQLite, microseconds on PostgreSQL). */
export const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?$/;

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
  /** The cipher of the store's secrets (data-source passwords). */
  cipher: SecretCipher;
  admin: User;
  token: string;
  /** Every response body so far (for the secret-absence checks). */
  responses: string[];
  call(method: string, url: string, options?: CallOptions): Promise<ApiResponse>;
  /** Creates a user straight in the store (no API rules); returns it. */
  seedUser(username: string, options?: { password?: string; is_admin?: boolean }): Promise<User>;
  /** Logs in through the API; returns the token (throws unless 200). */
  login(username: string, password: string): Promise<string>;
  /** Closes the admin server (idempotent; dispose calls it too). */
  closeServer(): Promise<void>;
  dispose(): Promise<void>;
}

export interface TestApiOptions {
  corsAllowedOrigins?: string[];
  loginThrottle?: Partial<AuthThrottleOptions>;
  jwtExpiryHours?: number;
  /**
   * The route modules after the foundation's (default none); 'all' = those
   * `adminServerOptions` mounts: ADMIN_ROUTE_MODULES and the data-source modules.
   */
  routes?: ApiRoutes[] | 'all';
  /** Keep-alive interval of discovery event streams (default 15 s). */
  eventPingMs?: number;
  server?: Partial<AdminServerOptions>;
}

export async function openTestApi(engine: StoreEngine, options: TestApiOptions = {}): Promise<TestApi> {
  const testStore = await openTestStore(engine);
  const store = testStore.store;
  const cipher = new SecretCipher(randomBytes(32));
  const routes = options.routes === 'all' ? allRouteModules(cipher, options.eventPingMs) : options.routes;
  const app = await buildAdminServer({
    api: {
      store,
      jwt: { secret: JWT_SECRET, expiryHours: options.jwtExpiryHours ?? 24 },
      loginThrottle: options.loginThrottle ?? { maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000 },
      routes: routes ?? [],
    },
    corsAllowedOrigins: options.corsAllowedOrigins ?? [],
    ...options.server,
  });
  const responses: string[] = [];

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
    responses.push(response.body);
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

  let closing: Promise<void> | undefined;
  const closeServer = () => (closing ??= app.close());

  const admin = await seedUser('admin', { password: ADMIN_PASSWORD, is_admin: true });
  const api: TestApi = {
    app,
    store,
    cipher,
    admin,
    token: '',
    responses,
    call,
    seedUser,
    login,
    closeServer,
    dispose: async () => {
      await closeServer();
      await testStore.dispose();
    },
  };
  api.token = await login('admin', ADMIN_PASSWORD);
  return api;
}

/** What `adminServerOptions` of src/runtime/admin-routes.ts mounts after the foundation's routes. */
function allRouteModules(cipher: SecretCipher, eventPingMs: number | undefined): ApiRoutes[] {
  return [
    ...ADMIN_ROUTE_MODULES,
    ...dataSourceRouteModules({
      cipher,
      logger: createLogger('silent'),
      // Short enough for the tests of unreachable or hanging upstream servers.
      upstreamTimeouts: { connectMs: 5_000, statementMs: 10_000 },
      eventPingMs,
    }),
  ];
}

/** Every admin audit row of one resource, oldest first, `changes` parsed. */
export async function auditRowsOf(store: Store, resourceType: string, resourceId?: string) {
  let query = store.db.selectFrom('admin_audit_log').selectAll().where('resource_type', '=', resourceType);
  if (resourceId !== undefined) query = query.where('resource_id', '=', resourceId);
  const rows = await query.orderBy('created_at').orderBy('id').execute();
  return rows.map((r) => ({ ...r, changes: r.changes === null ? null : (JSON.parse(r.changes) as unknown) }));
}

/** The OpenAPI document's operations as `[path, method]`, of the paths `keep` accepts, in document order. */
export function documentedOperations(
  doc: { paths: Record<string, object> },
  keep: (path: string) => boolean = () => true,
): [path: string, method: string][] {
  return Object.entries(doc.paths)
    .filter(([path]) => keep(path))
    .flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => [path, method] as [string, string]),
    );
}

/**
 * The garbage-input walk: each operation with each id in its path
 * parameters, each query string and, unless it is a GET, each body.
 */
export function* garbageRequests(
  operations: readonly (readonly [path: string, method: string])[],
  garbage: { ids: readonly string[]; queries: readonly string[]; bodies: readonly string[] },
): Generator<{ method: string; url: string; body: string | undefined }> {
  for (const [path, method] of operations) {
    for (const id of garbage.ids) {
      for (const query of garbage.queries) {
        for (const body of method === 'get' ? [undefined] : garbage.bodies) {
          yield { method: method.toUpperCase(), url: path.replace(/\{[a-z_]+\}/g, id) + query, body };
        }
      }
    }
  }
}
