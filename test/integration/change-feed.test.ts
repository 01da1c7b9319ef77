/**
 * The change feed across replicas: two Store instances on one PostgreSQL
 * admin database stand for two Rowgate processes (each feed has its own id,
 * exactly as two processes would).
 */
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditedTransaction } from '../../src/store/audited.js';
import { startChangeFeed, type Change, type ChangeFeed } from '../../src/store/change-feed.js';
import { openStore, type Store } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID, newId } from '../../src/store/ids.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { createRole } from '../../src/store/repos/roles.js';
import { createTestDatabase, dropTestDatabase } from '../support/postgres.js';
import { openTestStore } from '../support/stores.js';

function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/**
 * Collects a feed's events. `next` resolves with the first event after the
 * previously returned one that matches `predicate`, whether it already
 * arrived or arrives later.
 */
function recorder(feed: ChangeFeed) {
  const events: Change[] = [];
  let cursor = 0;
  let waiter: { predicate: (c: Change) => boolean; resolve: (c: Change) => void } | null = null;
  const scan = (): void => {
    if (!waiter) return;
    for (; cursor < events.length; cursor++) {
      const change = events[cursor] as Change;
      if (waiter.predicate(change)) {
        cursor += 1;
        const { resolve } = waiter;
        waiter = null;
        resolve(change);
        return;
      }
    }
  };
  feed.subscribe((change) => {
    events.push(change);
    scan();
  });
  const next = (predicate: (c: Change) => boolean, timeoutMs = 10_000) =>
    new Promise<Change>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching change event')), timeoutMs);
      waiter = {
        predicate,
        resolve: (c) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      scan();
    });
  return { events, next };
}

const audit = (store: Store, resourceId: string, resourceType = 'policy') =>
  auditedTransaction(store, SYSTEM_ACTOR_ID, async (tx) =>
    tx.audit({ resourceType, resourceId, action: 'update', changes: null }),
  );

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('change feed on a PostgreSQL admin store, two replicas', () => {
  let database: { name: string; url: string };
  let storeA: Store;
  let storeB: Store;
  let feedA: ChangeFeed;
  let feedB: ChangeFeed;
  let log: ReturnType<typeof capturingLogger>;

  beforeEach(async () => {
    database = await createTestDatabase('feed');
    storeA = openStore({ engine: 'postgres', target: database.url });
    storeB = openStore({ engine: 'postgres', target: database.url });
    await migrateToLatest(storeA);
    log = capturingLogger();
    const options = { connectionString: database.url, minBackoffMs: 50, maxBackoffMs: 400 };
    feedA = startChangeFeed(storeA, log.logger, options);
    feedB = startChangeFeed(storeB, log.logger, options);
    await Promise.all([feedA.ready, feedB.ready]);
  });

  afterEach(async () => {
    await feedA.close();
    await feedB.close();
    await storeA.close();
    await storeB.close();
    await dropTestDatabase(database.name);
  });

  it('delivers a commit through A to B as remote and to A as local exactly once', async () => {
    expect(feedA.mode).toBe('replicated');
    const a = recorder(feedA);
    const b = recorder(feedB);
    const role = await auditedTransaction(storeA, SYSTEM_ACTOR_ID, (tx) =>
      createRole(tx, { name: 'analysts' }),
    );
    const remote = await b.next((c) => c.origin === 'remote');
    expect(remote).toEqual({
      origin: 'remote',
      resync: false,
      entries: [{ resourceType: 'role', resourceId: role.id, action: 'create' }],
    });
    await sleep(300); // time for an echo of A's own notification, which must be ignored
    expect(a.events).toEqual([{ ...remote, origin: 'local' }]);
    expect(b.events).toHaveLength(1);
  });

  it('reaches the other replica within milliseconds (measured)', async () => {
    const b = recorder(feedB);
    let committedAt = 0; // A's local event fires right after the commit
    feedA.subscribe(() => (committedAt = performance.now()));
    const delays: number[] = [];
    for (let i = 0; i < 20; i++) {
      const id = newId();
      const arrived = b.next((c) => c.entries.some((e) => e.resourceId === id));
      await audit(storeA, id);
      await arrived;
      delays.push(performance.now() - committedAt);
    }
    delays.sort((x, y) => x - y);
    const median = delays[10] ?? NaN;
    const max = delays[19] ?? NaN;
    console.log(
      `change feed NOTIFY delay after commit: median ${median.toFixed(2)} ms, max ${max.toFixed(2)} ms`,
    );
    expect(max).toBeLessThan(1_000);
  });

  it('degrades a change too big for one NOTIFY to a resync event, and the mutation commits', async () => {
    const a = recorder(feedA);
    const b = recorder(feedB);
    const ids = Array.from({ length: 200 }, () => newId()); // ~200 × 60 bytes > 8000
    await auditedTransaction(storeA, SYSTEM_ACTOR_ID, async (tx) => {
      for (const id of ids)
        tx.audit({ resourceType: 'policy', resourceId: id, action: 'create', changes: null });
    });
    const remote = await b.next((c) => c.origin === 'remote');
    expect(remote).toEqual({ origin: 'remote', resync: true, entries: [] });
    expect(a.events).toHaveLength(1);
    expect(a.events[0]?.entries).toHaveLength(200);
    const rows = await storeB.db.selectFrom('admin_audit_log').select('resource_id').execute();
    expect(rows).toHaveLength(200);
  });

  it('reconnects after the LISTEN backend is terminated, emits a resync, and later events arrive', async () => {
    const a = recorder(feedA);
    const b = recorder(feedB);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ terminated: boolean }>(
        `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'rowgate-change-feed'`,
      );
      expect(rows).toHaveLength(2);
      expect(rows.every((r) => r.terminated)).toBe(true);
    } finally {
      await admin.end();
    }
    expect(await b.next((c) => c.resync)).toEqual({ origin: 'remote', resync: true, entries: [] });
    await a.next((c) => c.resync);
    const id = newId();
    await audit(storeA, id);
    const remote = await b.next((c) => c.origin === 'remote' && !c.resync);
    expect(remote.entries).toEqual([{ resourceType: 'policy', resourceId: id, action: 'update' }]);
    expect(log.lines.some((l) => l.msg === 'change feed: LISTEN connection lost')).toBe(true);
  });

  it('treats an unreadable notification on the channel as a resync', async () => {
    const b = recorder(feedB);
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(`NOTIFY rowgate_changes, 'not json'`);
    } finally {
      await admin.end();
    }
    expect(await b.next(() => true)).toEqual({ origin: 'remote', resync: true, entries: [] });
  });

  it('never fails the mutation when NOTIFY fails', async () => {
    // A channel name over 63 bytes: LISTEN truncates it, pg_notify refuses it.
    const feed = startChangeFeed(storeA, log.logger, {
      connectionString: database.url,
      channel: 'c'.repeat(80),
    });
    try {
      await feed.ready;
      const a = recorder(feed);
      const id = newId();
      await audit(storeA, id);
      expect(a.events).toEqual([
        {
          origin: 'local',
          resync: false,
          entries: [{ resourceType: 'policy', resourceId: id, action: 'update' }],
        },
      ]);
    } finally {
      await feed.close(); // waits for the failed NOTIFY to be logged
    }
    expect(log.lines.some((l) => l.msg.startsWith('change feed: NOTIFY failed'))).toBe(true);
    const rows = await storeA.db.selectFrom('admin_audit_log').select('resource_id').execute();
    expect(rows).toHaveLength(1);
  });
});

describe('change feed on a SQLite admin store', () => {
  it('is local only and delivers each commit once', async () => {
    const { store, dispose } = await openTestStore('sqlite');
    const feed = startChangeFeed(store, pino({ level: 'silent' }));
    try {
      expect(feed.mode).toBe('local');
      const a = recorder(feed);
      const id = newId();
      await audit(store, id, 'proxy_user');
      expect(a.events).toEqual([
        {
          origin: 'local',
          resync: false,
          entries: [{ resourceType: 'proxy_user', resourceId: id, action: 'update' }],
        },
      ]);
      await feed.close();
      await audit(store, newId());
      expect(a.events).toHaveLength(1);
    } finally {
      await dispose();
    }
  });

  it('refuses a PostgreSQL store without its connection string', async () => {
    const { store, dispose } = await openTestStore('postgres');
    try {
      expect(() => startChangeFeed(store, pino({ level: 'silent' }))).toThrow(/connection string/);
    } finally {
      await dispose();
    }
  });
});
