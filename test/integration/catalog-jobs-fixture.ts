/**
 * Shared set-up of the discovery-job tests: a fresh upstream database with a
 * small catalog (tables, a view, a materialized view, an unsupported column
 * type, two schemas), an admin store holding a data source for it, and a
 * job runner.
 */
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';
import { pino } from 'pino';
import { inject } from 'vitest';
import {
  DiscoveryJobs,
  type DiscoveryJobsOptions,
  type JobEvent,
  type JobView,
} from '../../src/catalog/jobs.js';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction } from '../../src/store/audited.js';
import type { StoreEngine } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';
import { openTestStore, type TestStore } from '../support/stores.js';

export const UPSTREAM_SCHEMA = `
  CREATE TABLE public.orders (
    id serial PRIMARY KEY, status text NOT NULL, amount numeric(10,2), created timestamptz);
  CREATE TABLE public.customers (id int PRIMARY KEY, name varchar(40));
  CREATE VIEW public.big_orders AS SELECT id, amount FROM public.orders WHERE amount > 100;
  CREATE SCHEMA sales;
  CREATE TABLE sales.regions (code char(2) PRIMARY KEY, area point);
  CREATE MATERIALIZED VIEW sales.totals AS SELECT status, sum(amount) AS total FROM public.orders GROUP BY status;
`;

export interface JobsFixture {
  store: TestStore['store'];
  jobs: DiscoveryJobs;
  cipher: SecretCipher;
  dataSourceId: string;
  upstreamUrl: string;
  /** Runs SQL on the upstream database. */
  upstream(sql: string): Promise<void>;
  /** Adds another data source with these connection settings overrides. */
  addDataSource(name: string, config: Record<string, unknown>): Promise<string>;
  /** Submits a job and waits for its end. */
  run(body: unknown, dataSourceId?: string): Promise<JobView>;
  dispose(): Promise<void>;
}

export async function openJobsFixture(
  engine: StoreEngine = 'sqlite',
  options: Partial<DiscoveryJobsOptions> = {},
): Promise<JobsFixture> {
  const server = inject('postgres');
  const database = await createTestDatabase('upstream');
  const testStore = await openTestStore(engine);
  const cipher = SecretCipher.fromHex(randomBytes(32).toString('hex'));
  const upstream = async (sql: string) => {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await upstream(UPSTREAM_SCHEMA);
  const baseConfig = {
    host: server.host,
    port: server.port,
    database: database.name,
    username: server.user,
    password: server.password,
    sslmode: 'disable',
  };
  const addDataSource = async (name: string, config: Record<string, unknown>) =>
    (
      await auditedTransaction(testStore.store, SYSTEM_ACTOR_ID, (tx) =>
        createDataSource(tx, cipher, { name, ds_type: 'postgres', config: { ...baseConfig, ...config } }),
      )
    ).id;
  const dataSourceId = await addDataSource('warehouse', {});
  const jobs = new DiscoveryJobs({
    store: testStore.store,
    cipher,
    logger: pino({ level: 'silent' }),
    ...options,
  });
  return {
    store: testStore.store,
    jobs,
    cipher,
    dataSourceId,
    upstreamUrl: database.url,
    upstream,
    addDataSource,
    run: async (body, id = dataSourceId) => {
      const { job_id } = await jobs.submit(id, body);
      const view = await jobs.wait(job_id);
      if (!view) throw new Error('job vanished');
      return view;
    },
    dispose: async () => {
      await jobs.close();
      await testStore.dispose();
      await dropTestDatabase(database.name);
    },
  };
}

/** A save_catalog body selecting public's tables and view, and sales.regions. */
export function defaultSelection() {
  return {
    action: 'save_catalog',
    schemas: [
      {
        schema_name: 'public',
        is_selected: true,
        tables: [
          { table_name: 'orders', table_type: 'TABLE', is_selected: true },
          { table_name: 'customers', table_type: 'TABLE', is_selected: true },
          { table_name: 'big_orders', table_type: 'VIEW', is_selected: true },
        ],
      },
      {
        schema_name: 'sales',
        schema_alias: 's',
        is_selected: true,
        tables: [{ table_name: 'regions', table_type: 'TABLE', is_selected: true }],
      },
    ],
  };
}

/** A TCP server that accepts connections and never answers: an upstream that hangs. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export async function collect(iterator: AsyncIterableIterator<JobEvent> | undefined): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  if (!iterator) throw new Error('no event stream');
  for await (const event of iterator) events.push(event);
  return events;
}
