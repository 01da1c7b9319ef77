/**
 * The change feed of the management plane (issue 5, "Live propagation"):
 * every committed admin mutation becomes a change event naming what changed,
 * on this replica and — with the PostgreSQL admin store — on every other
 * replica sharing that store.
 *
 * - Local: the audited transactions' commit hook (`onCommitted`) delivers
 *   each committed change at once, as `origin: 'local'`.
 * - Across replicas (PostgreSQL store only): after the commit the change is
 *   published with `pg_notify` on one channel, through the store's pool, as a
 *   separate statement: a failed NOTIFY is logged and never fails the
 *   mutation (it has committed already). Each feed has a random id carried in
 *   the payload, so a replica ignores its own notifications and local
 *   subscribers hear each change exactly once. A dedicated LISTEN connection
 *   (change-listener.ts) receives the other replicas' changes as
 *   `origin: 'remote'`, and reconnects with backoff when it is lost.
 * - `resync: true` means "anything may have changed, refresh everything": sent
 *   for a change too big for one NOTIFY payload (change-payload.ts), for an
 *   unreadable payload, and emitted locally after the LISTEN connection came
 *   back (notifications sent meanwhile are lost).
 *
 * With the SQLite store the feed is local only: SQLite has no way to signal
 * another process, so several Rowgate replicas need the PostgreSQL store.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Logger } from '../log.js';
import { onCommitted } from './audited.js';
import { ChangeListener } from './change-listener.js';
import { decodeChange, encodeChange, type ChangeEntry } from './change-payload.js';
import type { Store } from './db.js';

export type { ChangeEntry } from './change-payload.js';

export interface Change {
  /** `local`: committed through this process's store; `remote`: another replica, or a resync. */
  origin: 'local' | 'remote';
  /** True: treat everything as changed (`entries` is then empty). */
  resync: boolean;
  entries: readonly ChangeEntry[];
}

export type ChangeSubscriber = (change: Change) => void;

export interface ChangeFeed {
  /** `local` on SQLite; `replicated` on PostgreSQL (LISTEN/NOTIFY). */
  readonly mode: 'local' | 'replicated';
  /** Resolves once remote changes can be received (at once for a local feed). */
  readonly ready: Promise<void>;
  /** Listeners run synchronously; a throwing listener is logged and does not affect others. */
  subscribe(listener: ChangeSubscriber): () => void;
  /** Stops listening; waits for NOTIFYs still being sent. Call before closing the store. */
  close(): Promise<void>;
}

export interface ChangeFeedOptions {
  /**
   * The PostgreSQL admin store's URL (config.store.target): required for a
   * PostgreSQL store, because the LISTEN session cannot come from the pool.
   */
  connectionString?: string;
  /** NOTIFY channel; default `rowgate_changes`. Replicas of one deployment must agree. */
  channel?: string;
  /** Reconnect and liveness settings of the LISTEN connection (tests shorten them). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  healthCheckMs?: number;
}

export const DEFAULT_CHANGE_CHANNEL = 'rowgate_changes';

export function startChangeFeed(store: Store, logger: Logger, options: ChangeFeedOptions = {}): ChangeFeed {
  const subscribers = new Set<ChangeSubscriber>();
  const emit = (change: Change): void => {
    for (const listener of [...subscribers]) {
      try {
        listener(change);
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'change feed: a subscriber failed');
      }
    }
  };
  const subscribe = (listener: ChangeSubscriber): (() => void) => {
    subscribers.add(listener);
    return () => void subscribers.delete(listener);
  };
  const localOnly = (change: { entries: readonly ChangeEntry[] }): Change => ({
    origin: 'local',
    resync: false,
    entries: change.entries.map(({ resourceType, resourceId, action }) => ({
      resourceType,
      resourceId,
      action,
    })),
  });

  if (store.engine !== 'postgres') {
    const stop = onCommitted(store, (change) => emit(localOnly(change)));
    return {
      mode: 'local',
      ready: Promise.resolve(),
      subscribe,
      close: async () => stop(),
    };
  }

  if (!options.connectionString) {
    throw new Error('the change feed of a PostgreSQL admin store needs its connection string');
  }
  const channel = options.channel ?? DEFAULT_CHANGE_CHANNEL;
  const feedId = randomUUID();
  const pending = new Set<Promise<void>>();

  const publish = (payload: string): void => {
    const sending = sql`SELECT pg_notify(${channel}, ${payload})`
      .execute(store.db)
      .then(
        () => undefined,
        (error: Error) =>
          logger.warn({ err: error.message }, 'change feed: NOTIFY failed; other replicas miss this change'),
      )
      .finally(() => pending.delete(sending));
    pending.add(sending);
  };

  const stopLocal = onCommitted(store, (committed) => {
    const change = localOnly(committed);
    emit(change);
    publish(encodeChange(feedId, change.entries));
  });

  const listener = new ChangeListener({
    connectionString: options.connectionString,
    channel,
    logger,
    ...(options.minBackoffMs !== undefined ? { minBackoffMs: options.minBackoffMs } : {}),
    ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
    ...(options.healthCheckMs !== undefined ? { healthCheckMs: options.healthCheckMs } : {}),
    onNotification: (payload) => {
      const decoded = decodeChange(payload);
      if (decoded.source === feedId) return;
      if (decoded.source === null) logger.warn('change feed: unreadable notification; resyncing');
      emit({ origin: 'remote', resync: decoded.resync, entries: decoded.entries });
    },
    onResync: () => emit({ origin: 'remote', resync: true, entries: [] }),
  });
  listener.start();

  return {
    mode: 'replicated',
    ready: listener.ready,
    subscribe,
    close: async () => {
      stopLocal();
      await listener.close();
      await Promise.allSettled([...pending]);
      subscribers.clear();
    },
  };
}
