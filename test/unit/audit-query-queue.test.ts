/**
 * The query-audit queue without a database: enqueue cost, ring order across
 * wrap-around, the bound while a failed batch waits for its retry, option
 * checks, and timers that never keep the process alive.
 */
import type { Kysely } from 'kysely';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import {
  QUERY_AUDIT_OVERFLOW_POLICY,
  QUERY_AUDIT_QUEUE_DEFAULTS,
  QueryAuditQueue,
  type QueryAuditRecord,
} from '../../src/audit/query-audit-queue.js';
import type { Store } from '../../src/store/db.js';
import type { Database } from '../../src/store/schema.js';

const silent = pino({ level: 'silent' });

function record(i: number): QueryAuditRecord {
  return {
    user_id: 'u',
    username: 'alice',
    data_source_id: 'd',
    datasource_name: 'shop',
    original_query: `q${i}`,
    rewritten_query: null,
    policies_applied: [],
    execution_time_ms: 0,
    client_info: null,
    status: 'success',
    error_message: null,
    created_at: '2026-01-01T00:00:00.000000',
  };
}

/** A store whose INSERTs land in an array; `fail` makes them throw. */
function fakeStore() {
  const state = { written: [] as string[], batches: [] as number[], fail: false, active: 0, maxActive: 0 };
  const db = {
    isTransaction: false,
    insertInto: () => ({
      values: (rows: { original_query: string }[]) => ({
        execute: async () => {
          state.active++;
          state.maxActive = Math.max(state.maxActive, state.active);
          await new Promise((r) => setTimeout(r, 1));
          state.active--;
          if (state.fail) throw new Error('down');
          state.batches.push(rows.length);
          state.written.push(...rows.map((r) => r.original_query));
          return [];
        },
      }),
    }),
  } as unknown as Kysely<Database>;
  const store: Store = { db, engine: 'sqlite', close: async () => undefined };
  return { store, state };
}

describe('QueryAuditQueue (no database)', () => {
  it('enqueue is synchronous and costs about a microsecond', () => {
    const { store, state } = fakeStore();
    const queue = new QueryAuditQueue(store, { maxQueued: 200_000, batchSize: 1_000_000, logger: silent });
    const r = record(0);
    for (let i = 0; i < 10_000; i++) queue.enqueue(r); // warm-up
    const n = 100_000;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) queue.enqueue(r);
    const perCallNs = Number(process.hrtime.bigint() - start) / n;
    expect(typeof queue.enqueue(r)).toBe('boolean'); // not a promise: nothing to await
    expect(perCallNs).toBeLessThan(5_000); // generous for a loaded CI box; ~50 ns measured locally
    expect(state.batches).toEqual([]);
    void queue.close();
  });

  it('keeps FIFO order across ring wrap-around, serializes writes, batches by batchSize', async () => {
    const { store, state } = fakeStore();
    const queue = new QueryAuditQueue(store, {
      maxQueued: 11,
      batchSize: 3,
      flushIntervalMs: 60_000,
      logger: silent,
    });
    const expected: string[] = [];
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 5; i++) {
        const r = record(round * 5 + i);
        queue.enqueue(r);
        expected.push(r.original_query);
      }
      if (round % 2 === 1) await queue.flush(); // 10 rows in a ring of 14: it wraps
    }
    await queue.close();
    expect(state.written).toEqual(expected);
    expect(state.maxActive).toBe(1);
    expect(Math.max(...state.batches)).toBe(3);
    expect(queue.stats).toMatchObject({ queued: 0, written: 100, dropped: 0 });
  });

  it('holds the bound while a failed batch waits: drop-oldest drops the failed rows first', async () => {
    const { store, state } = fakeStore();
    state.fail = true;
    const queue = new QueryAuditQueue(store, {
      maxQueued: 5,
      batchSize: 5,
      flushIntervalMs: 60_000,
      retryBaseMs: 500,
      maxAttempts: 100,
      logger: silent,
    });
    for (let i = 0; i < 5; i++) queue.enqueue(record(i));
    // The first attempt fails; the rows go back to the head.
    await vi.waitFor(() => expect(queue.stats).toMatchObject({ failedAttempts: 1, queued: 5 }), {
      timeout: 5_000,
    });
    for (let i = 5; i < 8; i++) queue.enqueue(record(i));
    expect(queue.stats).toMatchObject({ queued: 5, dropped: 3 });
    state.fail = false;
    await queue.close();
    expect(state.written).toEqual(['q3', 'q4', 'q5', 'q6', 'q7']);
  });

  it('rejects bad options and documents its policy', () => {
    const { store } = fakeStore();
    expect(() => new QueryAuditQueue(store, { maxQueued: 0 })).toThrow(RangeError);
    expect(() => new QueryAuditQueue(store, { batchSize: 1.5 })).toThrow(RangeError);
    expect(() => new QueryAuditQueue(store, { overflow: 'block' as 'reject' })).toThrow(RangeError);
    expect(QUERY_AUDIT_QUEUE_DEFAULTS).toMatchObject({
      maxQueued: 10_000,
      batchSize: 500,
      flushIntervalMs: 200,
      overflow: 'drop-oldest',
    });
    expect(QUERY_AUDIT_OVERFLOW_POLICY).toMatch(/drop-oldest/);
    expect(QUERY_AUDIT_OVERFLOW_POLICY).toMatch(/reject/);
  });

  it('never keeps the process alive with its timers', async () => {
    const { store, state } = fakeStore();
    const created: { delay: unknown; timer: NodeJS.Timeout }[] = [];
    const realInterval = globalThis.setInterval;
    const realTimeout = globalThis.setTimeout;
    const interval = vi.spyOn(globalThis, 'setInterval').mockImplementation(((
      fn: () => void,
      delay?: number,
    ) => {
      const timer = realInterval(fn, delay);
      created.push({ delay, timer });
      return timer;
    }) as typeof setInterval);
    const timeout = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((
      fn: () => void,
      delay?: number,
    ) => {
      const timer = realTimeout(fn, delay);
      created.push({ delay, timer });
      return timer;
    }) as typeof setTimeout);
    state.fail = true;
    const queue = new QueryAuditQueue(store, {
      flushIntervalMs: 7,
      retryBaseMs: 10_007,
      retryMaxMs: 60_000,
      logger: silent,
    });
    try {
      queue.enqueue(record(0));
      // A write failed: the retry timer is armed.
      await vi.waitFor(() => expect(queue.stats.failedAttempts).toBe(1), { timeout: 5_000 });
      const ours = created.filter((c) => c.delay === 7 || c.delay === 10_007);
      expect(ours.map((c) => c.delay).sort()).toEqual([10_007, 7]);
      expect(ours.every((c) => !c.timer.hasRef())).toBe(true);
    } finally {
      interval.mockRestore();
      timeout.mockRestore();
      for (const c of created) if (c.delay === 7) clearInterval(c.timer);
      for (const c of created) if (c.delay === 10_007) clearTimeout(c.timer);
    }
  });
});
