/**
 * Audit retention job (issue 5) on both store engines: age and row-count
 * limits per log, 0 = unlimited, chunked deletes, start-up run and interval,
 * no overlapping runs, stop() waiting for a running pass, failures logged
 * and retried, and no admin audit row of its own.
 */
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startAuditRetention, type AuditRetentionJob } from '../../src/audit/retention.js';
import type { AuditRetention } from '../../src/config/index.js';
import type { Logger } from '../../src/log.js';
import type { Store } from '../../src/store/db.js';
import { newId } from '../../src/store/ids.js';
import { dateToTimestamp } from '../../src/store/time.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const NOW = new Date('2026-03-01T12:00:00Z');
const DAY = 86_400_000;
const UNLIMITED: AuditRetention = {
  queryMaxAgeDays: 0,
  queryMaxRows: 0,
  adminMaxAgeDays: 0,
  adminMaxRows: 0,
  pruneIntervalSecs: 3600,
};

interface Logged {
  level: string;
  data: unknown;
  message: string;
}

function captureLogger(): { logger: Logger; lines: Logged[] } {
  const lines: Logged[] = [];
  const at = (level: string) => (data: unknown, message: string) => void lines.push({ level, data, message });
  const logger = { info: at('info'), debug: at('debug'), error: at('error'), warn: at('warn') };
  return { logger: logger as unknown as Logger, lines };
}

/** One query-audit row per age (in ms before NOW); returns their ids. */
async function insertQueryRows(store: Store, agesMs: number[]): Promise<string[]> {
  const rows = agesMs.map((age) => ({
    id: newId(),
    user_id: newId(),
    username: 'alice',
    data_source_id: newId(),
    datasource_name: 'prod',
    original_query: 'SELECT 1',
    created_at: dateToTimestamp(new Date(NOW.getTime() - age)),
  }));
  for (let i = 0; i < rows.length; i += 500)
    await store.db
      .insertInto('query_audit_log')
      .values(rows.slice(i, i + 500))
      .execute();
  return rows.map((r) => r.id);
}

async function insertAdminRows(store: Store, agesMs: number[]): Promise<string[]> {
  const rows = agesMs.map((age) => ({
    id: newId(),
    resource_type: 'policy',
    resource_id: newId(),
    action: 'update',
    actor_id: newId(),
    created_at: dateToTimestamp(new Date(NOW.getTime() - age)),
  }));
  await store.db.insertInto('admin_audit_log').values(rows).execute();
  return rows.map((r) => r.id);
}

const ids = async (store: Store, table: 'query_audit_log' | 'admin_audit_log') =>
  (await store.db.selectFrom(table).select('id').execute()).map((r) => r.id).sort();

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(STORE_ENGINES)('audit retention on %s', (engine) => {
  let t: TestStore;
  let job: AuditRetentionJob | undefined;
  const start = (retention: Partial<AuditRetention>, chunkSize = 3, logger = captureLogger().logger) =>
    (job = startAuditRetention(t.store, { ...UNLIMITED, ...retention }, logger, {
      chunkSize,
      now: () => NOW,
    }));

  beforeEach(async () => {
    t = await openTestStore(engine);
  });
  afterEach(async () => {
    await job?.stop();
    job = undefined;
    await t.dispose();
  });

  it('deletes rows older than the maximum age per log, in chunks, keeping the rest', async () => {
    // Ages 0.5 … 19.5 days; with a 10-day limit the ten oldest go (more than three chunks).
    const ages = Array.from({ length: 20 }, (_, i) => (i + 0.5) * DAY);
    const query = await insertQueryRows(t.store, ages);
    const admin = await insertAdminRows(t.store, ages);
    const { logger, lines } = captureLogger();
    start({ queryMaxAgeDays: 10, adminMaxAgeDays: 3 }, 3, logger);
    const result = await job!.runNow();
    const total = await job!.runNow(); // joins or follows the start-up run: nothing more either way
    expect(result.query_audit_log.byAge + total.query_audit_log.byAge).toBe(10);
    expect(result.admin_audit_log.byAge + total.admin_audit_log.byAge).toBe(17);
    expect(await ids(t.store, 'query_audit_log')).toEqual(query.slice(0, 10).sort());
    expect(await ids(t.store, 'admin_audit_log')).toEqual(admin.slice(0, 3).sort());
    // No admin audit row of its own; the deletion is logged instead.
    expect(await t.store.db.selectFrom('admin_audit_log').select('id').execute()).toHaveLength(3);
    await until(async () => lines.some((l) => l.message.includes('deleted')));
    const info = lines.find((l) => l.message.includes('deleted'))!;
    expect(info.level).toBe('info');
    expect(info.data).toMatchObject({ audit_pruned: expect.any(Object) as unknown });
  });

  it('keeps only the newest rows beyond the row cap, including rows sharing the edge timestamp', async () => {
    // Seven rows at the same instant around the edge: ids decide which of them stay.
    const ages = [0, 1, 2, 3, 5, 5, 5, 5, 5, 5, 5, 9, 10, 11].map((m) => m * 60_000);
    const query = await insertQueryRows(t.store, ages);
    start({ queryMaxRows: 8 });
    await job!.runNow();
    await until(async () => (await ids(t.store, 'query_audit_log')).length === 8);
    const rows = await t.store.db
      .selectFrom('query_audit_log')
      .select(['id', 'created_at'])
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    const expected = query
      .map((id, i) => ({ id, age: ages[i]! }))
      .sort((a, b) => a.age - b.age || (a.id < b.id ? 1 : -1))
      .slice(0, 8)
      .map((r) => r.id);
    expect(rows.map((r) => r.id)).toEqual(expected);
    expect((await job!.runNow()).query_audit_log).toEqual({ byAge: 0, byRows: 0 });
  });

  it('applies age and count together and leaves an unlimited log alone', async () => {
    const query = await insertQueryRows(
      t.store,
      [1, 2, 3, 4, 40, 50].map((d) => d * DAY),
    );
    const admin = await insertAdminRows(
      t.store,
      [1, 400, 4000].map((d) => d * DAY),
    );
    start({ queryMaxAgeDays: 30, queryMaxRows: 3 });
    await job!.runNow();
    await until(async () => (await ids(t.store, 'query_audit_log')).length === 3);
    expect(await ids(t.store, 'query_audit_log')).toEqual(query.slice(0, 3).sort());
    expect(await ids(t.store, 'admin_audit_log')).toEqual(admin.sort());
  });

  it('does nothing and schedules nothing when every limit is 0', async () => {
    await insertQueryRows(t.store, [1000 * DAY]);
    await insertAdminRows(t.store, [1000 * DAY]);
    const { logger, lines } = captureLogger();
    start({}, 3, logger);
    expect(await job!.runNow()).toEqual({
      query_audit_log: { byAge: 0, byRows: 0 },
      admin_audit_log: { byAge: 0, byRows: 0 },
    });
    expect(lines).toEqual([]);
    expect(await ids(t.store, 'query_audit_log')).toHaveLength(1);
    expect(await ids(t.store, 'admin_audit_log')).toHaveLength(1);
  });

  it('runs once at start and then every interval', async () => {
    await insertQueryRows(t.store, [5 * DAY, 6 * DAY]);
    start({ queryMaxAgeDays: 1, pruneIntervalSecs: 1 });
    await until(async () => (await ids(t.store, 'query_audit_log')).length === 0);
    await insertQueryRows(t.store, [7 * DAY]);
    await until(async () => (await ids(t.store, 'query_audit_log')).length === 0, 3000);
  });

  it('never overlaps runs: a second runNow joins the running one', async () => {
    await insertQueryRows(
      t.store,
      Array.from({ length: 300 }, (_, i) => (10 + i / 100) * DAY),
    );
    start({ queryMaxAgeDays: 1 }, 10);
    const first = job!.runNow();
    const second = job!.runNow();
    expect(second).toBe(first);
    const result = await first;
    // The start-up run may have deleted some first; together they deleted exactly all.
    const after = await job!.runNow();
    expect(after.query_audit_log.byAge).toBe(0);
    expect(result.query_audit_log.byAge).toBeLessThanOrEqual(300);
    expect(await ids(t.store, 'query_audit_log')).toEqual([]);
  });

  it('stop() waits for the running pass, which stops after its current chunk', async () => {
    await insertQueryRows(
      t.store,
      Array.from({ length: 2000 }, (_, i) => (10 + i / 1000) * DAY),
    );
    start({ queryMaxAgeDays: 1 }, 5);
    const running = job!.runNow();
    await job!.stop();
    const result = await running;
    const left = (await ids(t.store, 'query_audit_log')).length;
    expect(left).toBeGreaterThan(0);
    expect(left + result.query_audit_log.byAge).toBe(2000);
    await new Promise((r) => setTimeout(r, 100));
    expect((await ids(t.store, 'query_audit_log')).length).toBe(left);
    await expect(job!.runNow()).rejects.toThrow('audit retention is stopped');
  });

  it('logs a failed run and retries at the next interval', async () => {
    await insertQueryRows(t.store, [5 * DAY]);
    await sql`ALTER TABLE query_audit_log RENAME TO query_audit_log_hidden`.execute(t.store.db);
    const { logger, lines } = captureLogger();
    start({ queryMaxAgeDays: 1, pruneIntervalSecs: 1 }, 3, logger);
    await until(async () => lines.some((l) => l.level === 'error'));
    expect(lines.find((l) => l.level === 'error')?.message).toMatch(/pruning failed; retrying/);
    await sql`ALTER TABLE query_audit_log_hidden RENAME TO query_audit_log`.execute(t.store.db);
    await until(async () => (await ids(t.store, 'query_audit_log')).length === 0, 3000);
  });
});
