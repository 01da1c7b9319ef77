/**
 * The query-audit queue against a real admin store, on both engines
 * (design §6): rows land with their fields, batching, flush/close, overflow
 * policy, store failures with retry, and recovery from a store closed under
 * the queue.
 */
import type { Kysely } from 'kysely';
import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueryAuditQueue, type QueryAuditRecord } from '../../src/audit/query-audit-queue.js';
import type { Store } from '../../src/store/db.js';
import { newId } from '../../src/store/ids.js';
import { listQueryAudit } from '../../src/store/repos/audit-log.js';
import type { Database } from '../../src/store/schema.js';
import { nowTimestamp } from '../../src/store/time.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const USER = newId();
const DS = newId();

function record(i: number, extra: Partial<QueryAuditRecord> = {}): QueryAuditRecord {
  return {
    user_id: USER,
    username: 'alice',
    data_source_id: DS,
    datasource_name: 'demo_ecommerce',
    original_query: `SELECT ${i} FROM public.orders`,
    rewritten_query: null,
    policies_applied: [],
    execution_time_ms: 1,
    client_info: 'psql',
    status: 'success',
    error_message: null,
    created_at: nowTimestamp(),
    ...extra,
  };
}

interface Instrumented {
  store: Store;
  /** INSERT statements attempted (one per batch below 1000 rows). */
  inserts: number;
  /** Fail this many of the next INSERTs. */
  failNext: number;
  /** The database INSERTs go to; replace it to bring a store back. */
  db: Kysely<Database>;
}

/** Wraps a store: counts INSERTs, can fail the next N, can swap its database. */
function instrument(store: Store): Instrumented {
  const state = { inserts: 0, failNext: 0, db: store.db } as Instrumented;
  const proxy = new Proxy(store.db, {
    get(_target, prop) {
      const real = state.db;
      if (prop === 'insertInto') {
        return (table: 'query_audit_log') => {
          state.inserts++;
          if (state.failNext > 0) {
            state.failNext--;
            throw new Error('audit store unavailable (test)');
          }
          return real.insertInto(table);
        };
      }
      const value: unknown = Reflect.get(real, prop, real);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
    },
  });
  state.store = { db: proxy, engine: store.engine, close: () => store.close() };
  return state;
}

function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { logger, lines };
}

async function storedQueries(db: Kysely<Database>): Promise<string[]> {
  const rows = await db
    .selectFrom('query_audit_log')
    .select(['original_query', 'created_at', 'id'])
    .execute();
  return rows.sort((a, b) => (a.created_at < b.created_at ? -1 : 1)).map((r) => r.original_query);
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => void unhandled.push(reason);
beforeAll(() => void process.on('unhandledRejection', onUnhandled));
afterAll(() => void process.off('unhandledRejection', onUnhandled));

describe.each(STORE_ENGINES)('query audit queue on %s', (engine) => {
  let t: TestStore;
  let queue: QueryAuditQueue | undefined;

  beforeEach(async () => {
    t = await openTestStore(engine);
    unhandled.length = 0;
  });

  afterEach(async () => {
    await queue?.close();
    queue = undefined;
    await t.dispose();
    expect(unhandled).toEqual([]);
  });

  it('writes rows with the fields of the record, rows returned included', async () => {
    queue = new QueryAuditQueue(t.store, { flushIntervalMs: 60_000 });
    const policies = [{ policy_id: newId(), version: 3, name: 'tenant-isolation' }];
    const success = record(1, {
      rewritten_query: 'SELECT 1 FROM (SELECT … WHERE tenant = $1) orders',
      policies_applied: policies,
      execution_time_ms: 12.6,
      rows: 42,
    });
    const denied = record(2, {
      original_query: 'DELETE FROM public.orders',
      execution_time_ms: null,
      client_info: null,
      status: 'denied',
      error_message: 'Only read-only queries are allowed',
    });
    const failed = record(3, { status: 'error', error_message: 'relation "x" does not exist' });
    expect(queue.enqueue(success)).toBe(true);
    expect(queue.enqueue(denied)).toBe(true);
    expect(queue.enqueue(failed)).toBe(true);
    expect(queue.stats).toMatchObject({ queued: 3, written: 0 });
    await queue.flush();
    expect(queue.stats).toMatchObject({ queued: 0, written: 3, dropped: 0, failedBatches: 0 });

    const { data, total } = await listQueryAudit(t.store.db, { page_size: 10 });
    expect(total).toBe(3);
    const byQuery = new Map(data.map((r) => [r.original_query, r]));
    expect(byQuery.get(success.original_query)).toEqual({
      id: expect.any(String),
      user_id: USER,
      username: 'alice',
      data_source_id: DS,
      datasource_name: 'demo_ecommerce',
      original_query: success.original_query,
      rewritten_query: success.rewritten_query,
      policies_applied: policies,
      execution_time_ms: 13,
      client_info: 'psql',
      created_at: success.created_at,
      status: 'success',
      error_message: null,
      rows_returned: 42,
    });
    expect(byQuery.get(denied.original_query)).toMatchObject({
      rows_returned: null,
      status: 'denied',
      error_message: 'Only read-only queries are allowed',
      execution_time_ms: null,
      client_info: null,
      rewritten_query: null,
      policies_applied: [],
      created_at: denied.created_at,
    });
    expect(byQuery.get(failed.original_query)).toMatchObject({
      status: 'error',
      error_message: 'relation "x" does not exist',
    });
  });

  it('writes one INSERT per full batch, never inside enqueue', async () => {
    const s = instrument(t.store);
    queue = new QueryAuditQueue(s.store, { batchSize: 100, flushIntervalMs: 60_000 });
    for (let i = 0; i < 1000; i++) queue.enqueue(record(i));
    expect(s.inserts).toBe(0); // enqueue only schedules; the write starts on a later turn
    await vi.waitFor(() => expect(queue?.stats.written).toBe(1000), { timeout: 10_000 });
    expect(s.inserts).toBe(10);
    expect((await storedQueries(t.store.db)).length).toBe(1000);
  });

  it('writes a partial batch on the timer, without flush', async () => {
    const s = instrument(t.store);
    queue = new QueryAuditQueue(s.store, { batchSize: 500, flushIntervalMs: 50 });
    for (let i = 0; i < 7; i++) queue.enqueue(record(i));
    await vi.waitFor(() => expect(queue?.stats.written).toBe(7), { timeout: 5_000 });
    expect(s.inserts).toBe(1);
  });

  it('close writes everything in order and refuses later records', async () => {
    const s = instrument(t.store);
    queue = new QueryAuditQueue(s.store, {
      batchSize: 500,
      flushIntervalMs: 60_000,
      logger: pino({ level: 'silent' }),
    });
    const n = 2345;
    for (let i = 0; i < n; i++) queue.enqueue(record(i));
    await queue.close();
    expect(queue.stats).toMatchObject({ queued: 0, written: n, dropped: 0 });
    expect(s.inserts).toBe(5);
    expect(await storedQueries(t.store.db)).toEqual(
      Array.from({ length: n }, (_, i) => `SELECT ${i} FROM public.orders`),
    );
    expect(queue.enqueue(record(n))).toBe(false);
    expect(queue.stats.rejected).toBe(1);
    await queue.close(); // idempotent
  });

  it('drop-oldest keeps the newest rows, counts and reports the drops, warns rate-limited', async () => {
    const { logger, lines } = captureLogger();
    const onDrop = vi.fn();
    queue = new QueryAuditQueue(t.store, {
      maxQueued: 10,
      batchSize: 1000,
      flushIntervalMs: 60_000,
      onDrop,
      logger,
    });
    for (let i = 0; i < 25; i++) expect(queue.enqueue(record(i))).toBe(true);
    expect(queue.stats).toMatchObject({ queued: 10, dropped: 15, rejected: 0 });
    expect(onDrop.mock.calls.reduce((sum, [n]) => sum + (n as number), 0)).toBe(15);
    await queue.flush();
    expect(await storedQueries(t.store.db)).toEqual(
      Array.from({ length: 10 }, (_, i) => `SELECT ${i + 15} FROM public.orders`),
    );
    const warnings = lines.filter((l) => l.level === 40 && typeof l.dropped === 'number');
    // The first drop warns at once; the next 14 are held back, then reported by flush.
    expect(warnings.map((w) => w.dropped)).toEqual([1, 14]);
    expect(warnings.at(-1)).toMatchObject({ totalDropped: 15, overflow: 'drop-oldest', maxQueued: 10 });
  });

  it('reject refuses new rows when full and keeps every accepted one', async () => {
    const { logger, lines } = captureLogger();
    const onDrop = vi.fn();
    queue = new QueryAuditQueue(t.store, {
      maxQueued: 10,
      batchSize: 1000,
      flushIntervalMs: 60_000,
      overflow: 'reject',
      onDrop,
      logger,
    });
    const accepted = Array.from({ length: 25 }, (_, i) => queue?.enqueue(record(i)));
    expect(accepted).toEqual([...Array<boolean>(10).fill(true), ...Array<boolean>(15).fill(false)]);
    expect(queue.stats).toMatchObject({ queued: 10, dropped: 0, rejected: 15 });
    expect(onDrop).not.toHaveBeenCalled();
    await queue.flush();
    expect(await storedQueries(t.store.db)).toEqual(
      Array.from({ length: 10 }, (_, i) => `SELECT ${i} FROM public.orders`),
    );
    expect(queue.enqueue(record(99))).toBe(true); // room again once written
    expect(lines.some((l) => l.level === 40 && l.rejected === 14)).toBe(true);
  });

  it('retries a failed INSERT with backoff and then writes the batch', async () => {
    const { logger, lines } = captureLogger();
    const s = instrument(t.store);
    s.failNext = 2;
    queue = new QueryAuditQueue(s.store, { batchSize: 50, flushIntervalMs: 20, retryBaseMs: 30, logger });
    for (let i = 0; i < 5; i++) queue.enqueue(record(i));
    const started = Date.now();
    await vi.waitFor(() => expect(queue?.stats.written).toBe(5), { timeout: 5_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(30 + 60 - 5); // two backoffs: 30 ms, 60 ms
    expect(queue.stats).toMatchObject({ failedAttempts: 2, failedBatches: 0, dropped: 0, queued: 0 });
    expect(s.inserts).toBe(3);
    expect(await storedQueries(t.store.db)).toEqual(
      Array.from({ length: 5 }, (_, i) => `SELECT ${i} FROM public.orders`),
    );
    expect(
      lines.filter((l) => l.msg === 'query audit batch write failed; will retry').map((l) => l.attempt),
    ).toEqual([1, 2]);
  });

  it('drops and counts a batch after maxAttempts failures; flush still resolves and later batches land', async () => {
    const onDrop = vi.fn();
    const s = instrument(t.store);
    s.failNext = 3;
    queue = new QueryAuditQueue(s.store, {
      batchSize: 4,
      flushIntervalMs: 60_000,
      maxAttempts: 3,
      retryBaseMs: 5,
      onDrop,
      logger: pino({ level: 'silent' }),
    });
    for (let i = 0; i < 6; i++) queue.enqueue(record(i));
    await queue.flush();
    expect(queue.stats).toMatchObject({
      written: 2,
      dropped: 4,
      failedBatches: 1,
      failedAttempts: 3,
      queued: 0,
    });
    expect(onDrop).toHaveBeenCalledWith(4);
    expect(await storedQueries(t.store.db)).toEqual([
      'SELECT 4 FROM public.orders',
      'SELECT 5 FROM public.orders',
    ]);
  });

  it('isolates a row the store can never accept instead of losing its batch', async () => {
    queue = new QueryAuditQueue(t.store, { flushIntervalMs: 60_000, logger: pino({ level: 'silent' }) });
    queue.enqueue(record(1));
    queue.enqueue(record(2, { status: 'bogus' as QueryAuditRecord['status'] }));
    queue.enqueue(record(3, { original_query: 'SELECT 3 -- nul \u0000 byte' }));
    await queue.flush();
    expect(queue.stats).toMatchObject({ written: 2, dropped: 1, failedBatches: 0 });
    expect(await storedQueries(t.store.db)).toEqual([
      'SELECT 1 FROM public.orders',
      'SELECT 3 -- nul \uFFFD byte',
    ]);
  });

  it('survives the store being closed under it and catches up when a store is back', async () => {
    const other = await openTestStore(engine);
    const s = instrument(other.store);
    const { logger } = captureLogger();
    queue = new QueryAuditQueue(s.store, { flushIntervalMs: 10, retryBaseMs: 10, maxAttempts: 50, logger });
    try {
      queue.enqueue(record(0));
      await vi.waitFor(() => expect(queue?.stats.written).toBe(1), { timeout: 5_000 });
      await other.store.close(); // a real failure: the driver is gone
      for (let i = 1; i <= 20; i++) queue.enqueue(record(i));
      await vi.waitFor(() => expect(queue?.stats.failedAttempts).toBeGreaterThanOrEqual(2), {
        timeout: 5_000,
      });
      expect(queue.stats).toMatchObject({ written: 1, queued: 20, dropped: 0 });
      s.db = t.store.db; // the store is back
      await queue.flush();
      expect(queue.stats).toMatchObject({ written: 21, queued: 0, dropped: 0, failedBatches: 0 });
      expect(await storedQueries(t.store.db)).toEqual(
        Array.from({ length: 20 }, (_, i) => `SELECT ${i + 1} FROM public.orders`),
      );
    } finally {
      await other.dispose().catch(() => undefined);
    }
  });
});
