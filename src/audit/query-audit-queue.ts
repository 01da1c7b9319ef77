/**
 * The query-audit writer (design §6, api-contract §5.12 / §10.1, issue 4
 * "Session lifecycle and audit").
 *
 * The data plane calls `enqueue()` once per statement (and per refused
 * connection attempt). `enqueue` is synchronous, O(1), never awaits and never
 * throws: it appends to a bounded ring buffer and, when a batch is full,
 * schedules a write on a later turn of the event loop. A background writer
 * drains the ring in batches — on a timer every `flushIntervalMs`, or sooner
 * when `batchSize` rows are waiting — with one multi-row INSERT per batch
 * (`insertQueryAuditBatch`). Writes are serialized: never two at once.
 * A crash therefore loses at most what is queued (≤ one interval's worth or
 * one batch under load); `flush()`/`close()` write everything on graceful
 * shutdown.
 *
 * Overflow policy (QUERY_AUDIT_OVERFLOW_POLICY, for the README):
 *  - `drop-oldest` (default): when `maxQueued` rows wait, the oldest waiting
 *    row is discarded to make room for the new one, so the most recent
 *    activity is always kept and the query path is never slowed by a slow or
 *    unavailable audit store. Every drop is counted (`stats.dropped`),
 *    reported to `onDrop`, and logged as a warning with the dropped count
 *    (rate-limited: at most one warning per `dropLogIntervalMs`, with the
 *    total since the previous warning).
 *  - `reject`: when `maxQueued` rows wait, `enqueue` returns false and keeps
 *    nothing; the caller is expected to refuse the statement (fail closed:
 *    no statement runs unaudited). Counted in `stats.rejected`, logged
 *    rate-limited. Rows already accepted are never discarded for room.
 * The hard memory bound is `maxQueued + batchSize` records: a batch being
 *  written, or put back after a failed write, may sit beside a full queue.
 *
 * Store failures: a failed batch INSERT is put back at the head of the queue
 * (order kept) and retried with exponential backoff (`retryBaseMs` doubling,
 * capped at `retryMaxMs`) up to `maxAttempts` attempts; under `drop-oldest`
 * the queue bound still applies while it waits, so the failed rows are the
 * first to go if the queue fills. After the last attempt the batch is
 * dropped and counted (`stats.failedBatches`, `stats.dropped`). Rows that can
 * never be written (unknown status, missing required text, policies that do
 * not serialize to JSON) are isolated after a failure and dropped alone, so
 * one bad row does not poison its batch. No promise is ever left rejected,
 * and every timer is unref'd: the queue never keeps the process alive
 * (`close()` holds it open only while it drains).
 *
 * `rows` (rows returned, issue 4) lands in `rows_returned` (migration 002),
 * clamped to the int4 range like the execution time.
 */
import { createLogger, type Logger } from '../log.js';
import type { Store } from '../store/db.js';
import {
  insertQueryAuditBatch,
  type NewQueryAudit,
  type QueryAuditStatus,
} from '../store/repos/audit-log.js';
import type { Timestamp } from '../store/schema.js';

/** What the data plane knows about one audited statement. */
export interface QueryAuditRecord {
  user_id: string;
  username: string;
  data_source_id: string;
  datasource_name: string;
  /** The statement text as received. */
  original_query: string;
  /** Only when some policy effect was applied; else null (§10.1). */
  rewritten_query: string | null;
  /** Every enabled effective policy with its version (§10.1); `[]` if none. */
  policies_applied: unknown[];
  /** Null only for rejected write statements (§10.1). Rounded to an integer when written. */
  execution_time_ms: number | null;
  /** The client's `application_name`. */
  client_info: string | null;
  status: QueryAuditStatus;
  /** Null on success. */
  error_message: string | null;
  /** Rows returned; stored as `rows_returned`. */
  rows?: number | null;
  /** `nowTimestamp()` taken when the statement finished. */
  created_at: Timestamp;
}

export type QueryAuditOverflow = 'drop-oldest' | 'reject';

export interface QueryAuditQueueOptions {
  /** Rows waiting before the overflow policy applies. */
  maxQueued: number;
  /** Rows per INSERT; reaching it triggers a write before the timer. */
  batchSize: number;
  /** Timer period of the background writer. */
  flushIntervalMs: number;
  overflow: QueryAuditOverflow;
  /** Attempts per batch (first try included) before it is dropped. */
  maxAttempts: number;
  /** First retry delay; doubles per failed attempt. */
  retryBaseMs: number;
  retryMaxMs: number;
  /** Minimum gap between two drop/reject warnings. */
  dropLogIntervalMs: number;
  /** Called with the number of accepted rows just discarded (overflow or failed store). */
  onDrop?: (dropped: number) => void;
  logger?: Logger;
}

export interface QueryAuditQueueStats {
  /** Rows accepted and not yet written or dropped (queued + being written). */
  queued: number;
  written: number;
  /** Accepted rows discarded: overflow (drop-oldest), exhausted retries, unwritable rows. */
  dropped: number;
  /** Rows refused by `enqueue` (overflow under `reject`, or after `close()`). */
  rejected: number;
  /** Batches given up after `maxAttempts` failed INSERTs. */
  failedBatches: number;
  /** Failed INSERT attempts, retried or not. */
  failedAttempts: number;
}

export const QUERY_AUDIT_QUEUE_DEFAULTS: Readonly<Omit<QueryAuditQueueOptions, 'onDrop' | 'logger'>> =
  Object.freeze({
    maxQueued: 10_000,
    batchSize: 500,
    flushIntervalMs: 200,
    overflow: 'drop-oldest',
    maxAttempts: 5,
    retryBaseMs: 100,
    retryMaxMs: 5_000,
    dropLogIntervalMs: 10_000,
  });

/** The overflow policy in one paragraph, for the README and `--help`. */
export const QUERY_AUDIT_OVERFLOW_POLICY =
  'Query audit rows are written asynchronously in batches (default: every 200 ms or every 500 rows) ' +
  'from a bounded queue (default 10,000 rows); a crash loses at most the rows still queued. ' +
  "When the queue is full the default policy 'drop-oldest' discards the oldest waiting row for the new one " +
  '(counted and logged as a rate-limited warning with the dropped count), so queries never wait for the audit store. ' +
  "The policy 'reject' instead refuses the new row so that the statement is refused (fail closed). " +
  'A failed batch is retried with exponential backoff (5 attempts by default), kept at the head of the queue ' +
  'within its bound, then dropped and counted. Graceful shutdown (SIGTERM) writes everything queued.';

const STATUSES: ReadonlySet<string> = new Set<QueryAuditStatus>(['success', 'error', 'denied']);
const INT4_MAX = 2_147_483_647;

/** Fixed-capacity FIFO with O(1) push, shift and unshift. */
class Ring<T> {
  private readonly buf: (T | undefined)[];
  private head = 0;
  size = 0;

  constructor(readonly capacity: number) {
    this.buf = new Array<T | undefined>(capacity);
  }

  push(item: T): void {
    this.buf[(this.head + this.size) % this.capacity] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size--;
    return item;
  }

  /** Puts items back at the head, keeping their order. The caller ensures room. */
  unshiftAll(items: readonly T[]): void {
    for (let i = items.length - 1; i >= 0; i--) {
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.buf[this.head] = items[i];
      this.size++;
    }
  }

  take(n: number): T[] {
    const out: T[] = [];
    while (out.length < n && this.size > 0) out.push(this.shift() as T);
    return out;
  }
}

export class QueryAuditQueue {
  private readonly opts: Omit<QueryAuditQueueOptions, 'onDrop' | 'logger'>;
  private readonly onDrop: ((dropped: number) => void) | undefined;
  private readonly logger: Logger;
  private readonly ring: Ring<QueryAuditRecord>;
  private readonly timer: NodeJS.Timeout;
  private retryTimer: NodeJS.Timeout | undefined;
  private kickPending = false;
  private draining: Promise<void> | null = null;
  private inFlight = 0;
  /** Consecutive failed attempts of the batch at the head. */
  private failures = 0;
  /** No background write before this time (ms since epoch) after a failure. */
  private retryAt = 0;
  private closing: Promise<void> | null = null;
  private accepted = 0;
  private written = 0;
  private dropped = 0;
  private rejected = 0;
  private failedBatches = 0;
  private failedAttempts = 0;
  private unloggedDropped = 0;
  private unloggedRejected = 0;
  private lastDropLog = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    options: Partial<QueryAuditQueueOptions> = {},
  ) {
    const { onDrop, logger, ...rest } = options;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    this.opts = { ...QUERY_AUDIT_QUEUE_DEFAULTS, ...defined };
    const positive = (name: 'maxQueued' | 'batchSize' | 'flushIntervalMs' | 'maxAttempts') => {
      const v = this.opts[name];
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`QueryAuditQueue: ${name} must be a positive integer`);
    };
    positive('maxQueued');
    positive('batchSize');
    positive('flushIntervalMs');
    positive('maxAttempts');
    if (this.opts.overflow !== 'drop-oldest' && this.opts.overflow !== 'reject') {
      throw new RangeError(`QueryAuditQueue: unknown overflow policy '${String(this.opts.overflow)}'`);
    }
    this.onDrop = onDrop;
    this.logger = logger ?? createLogger('warn');
    this.ring = new Ring(this.opts.maxQueued + this.opts.batchSize);
    this.timer = setInterval(() => this.tick(), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  get stats(): QueryAuditQueueStats {
    return {
      queued: this.ring.size + this.inFlight,
      written: this.written,
      dropped: this.dropped,
      rejected: this.rejected,
      failedBatches: this.failedBatches,
      failedAttempts: this.failedAttempts,
    };
  }

  /**
   * Queues one record. Never blocks and never throws: O(1) on the query path.
   * Returns false when the record was not kept — queue full under the
   * `reject` policy, or the queue is closed — so the caller can refuse the
   * statement.
   */
  enqueue(record: QueryAuditRecord): boolean {
    try {
      if (this.closing !== null) {
        this.rejected++;
        this.unloggedRejected++;
        this.maybeLogDrops();
        return false;
      }
      if (this.ring.size >= this.opts.maxQueued) {
        if (this.opts.overflow === 'reject') {
          this.rejected++;
          this.unloggedRejected++;
          this.maybeLogDrops();
          return false;
        }
        let n = 0;
        while (this.ring.size >= this.opts.maxQueued) {
          this.ring.shift();
          n++;
        }
        this.discard(n);
      }
      this.ring.push(record);
      this.accepted++;
      if (this.ring.size >= this.opts.batchSize) this.scheduleKick();
      return true;
    } catch {
      // Unreachable in practice (a throwing onDrop is already contained); the query path must never see it.
      return false;
    }
  }

  /**
   * Writes every row accepted before the call (retrying failed batches with
   * backoff, dropping a batch after `maxAttempts`). Never rejects.
   */
  async flush(): Promise<void> {
    const target = this.accepted;
    for (;;) {
      if (this.draining !== null) {
        await this.draining;
        continue;
      }
      if (this.written + this.dropped >= target || this.ring.size === 0) break;
      const wait = this.retryAt - Date.now();
      // Ref'd on purpose: a shutdown flush keeps the process alive until it is done.
      if (wait > 0) await new Promise<void>((resolve) => setTimeout(resolve, wait));
      else await this.startDrain();
    }
    this.maybeLogDrops(true);
  }

  /** Stops the timers after a final flush; later `enqueue` calls return false. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.timer);
      await this.flush();
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.maybeLogDrops(true);
    })();
    return this.closing;
  }

  private tick(): void {
    this.maybeLogDrops();
    this.kick();
  }

  private scheduleKick(): void {
    if (this.kickPending || this.draining !== null) return;
    this.kickPending = true;
    setImmediate(() => {
      this.kickPending = false;
      this.kick();
    });
  }

  /** Starts a background drain unless one runs, the queue is empty, or a retry is pending. */
  private kick(): void {
    if (this.draining !== null || this.ring.size === 0 || Date.now() < this.retryAt) return;
    void this.startDrain();
  }

  private startDrain(): Promise<void> {
    this.draining ??= this.drain()
      .catch((err: unknown) => this.logger.error({ err }, 'query audit writer failed'))
      .finally(() => {
        this.draining = null;
      });
    return this.draining;
  }

  private async drain(): Promise<void> {
    while (this.ring.size > 0 && Date.now() >= this.retryAt) {
      if (!(await this.writeBatch())) return;
    }
  }

  /** Writes one batch from the head. False after a failure (retry pending). */
  private async writeBatch(): Promise<boolean> {
    const batch = this.ring.take(this.opts.batchSize);
    this.inFlight = batch.length;
    try {
      await insertQueryAuditBatch(this.store.db, batch.map(toRow));
      this.inFlight = 0;
      this.written += batch.length;
      this.failures = 0;
      this.retryAt = 0;
      return true;
    } catch (err) {
      this.inFlight = 0;
      this.failedAttempts++;
      const good = batch.filter(writable);
      if (good.length < batch.length) {
        // Unwritable rows failed the batch: drop them alone and retry the rest at once.
        this.logger.error(
          { dropped: batch.length - good.length },
          'query audit rows dropped: not writable (bad status, text or policies_applied)',
        );
        this.discard(batch.length - good.length);
        this.requeue(good);
        return true;
      }
      this.failures++;
      const delay = Math.min(this.opts.retryBaseMs * 2 ** (this.failures - 1), this.opts.retryMaxMs);
      this.retryAt = Date.now() + delay;
      if (this.failures >= this.opts.maxAttempts) {
        this.failures = 0;
        this.failedBatches++;
        this.logger.error(
          { err, rows: batch.length, attempts: this.opts.maxAttempts },
          'query audit batch dropped after failed writes',
        );
        this.discard(batch.length);
      } else {
        this.logger.warn(
          { err, rows: batch.length, attempt: this.failures, retryInMs: delay },
          'query audit batch write failed; will retry',
        );
        this.requeue(batch);
      }
      this.scheduleRetry(delay);
      return false;
    }
  }

  /** Puts rows back at the head; under drop-oldest, the bound then drops the oldest. */
  private requeue(rows: QueryAuditRecord[]): void {
    this.ring.unshiftAll(rows);
    if (this.opts.overflow === 'drop-oldest' && this.ring.size > this.opts.maxQueued) {
      let n = 0;
      while (this.ring.size > this.opts.maxQueued) {
        this.ring.shift();
        n++;
      }
      this.discard(n);
    }
  }

  private scheduleRetry(delay: number): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, delay);
    this.retryTimer.unref();
  }

  private discard(n: number): void {
    if (n <= 0) return;
    this.dropped += n;
    this.unloggedDropped += n;
    if (this.onDrop !== undefined) {
      try {
        this.onDrop(n);
      } catch (err) {
        this.logger.error({ err }, 'query audit onDrop callback threw');
      }
    }
    this.maybeLogDrops();
  }

  /** One warning per `dropLogIntervalMs` at most, carrying the counts since the last one. */
  private maybeLogDrops(force = false): void {
    if (this.unloggedDropped === 0 && this.unloggedRejected === 0) return;
    const now = Date.now();
    if (!force && now - this.lastDropLog < this.opts.dropLogIntervalMs) return;
    this.lastDropLog = now;
    this.logger.warn(
      {
        dropped: this.unloggedDropped,
        rejected: this.unloggedRejected,
        totalDropped: this.dropped,
        totalRejected: this.rejected,
        overflow: this.opts.overflow,
        maxQueued: this.opts.maxQueued,
      },
      'query audit rows lost: queue full or audit store failing',
    );
    this.unloggedDropped = 0;
    this.unloggedRejected = 0;
  }
}

function toRow(r: QueryAuditRecord): NewQueryAudit {
  const ms = r.execution_time_ms;
  return {
    user_id: text(r.user_id),
    username: text(r.username),
    data_source_id: text(r.data_source_id),
    datasource_name: text(r.datasource_name),
    original_query: text(r.original_query),
    rewritten_query: optionalText(r.rewritten_query),
    policies_applied: Array.isArray(r.policies_applied) ? r.policies_applied : [],
    execution_time_ms: typeof ms === 'number' && Number.isFinite(ms) ? clampInt4(ms) : null,
    client_info: optionalText(r.client_info),
    created_at: r.created_at,
    status: r.status,
    error_message: optionalText(r.error_message),
    rows_returned: typeof r.rows === 'number' && Number.isFinite(r.rows) ? clampInt4(r.rows) : null,
  };
}

function clampInt4(n: number): number {
  return Math.min(Math.max(Math.round(n), 0), INT4_MAX);
}

/** PostgreSQL text cannot hold NUL; the same row must land on both engines. */
function text(s: string): string {
  return typeof s === 'string' && s.includes('\u0000') ? s.replaceAll('\u0000', '\uFFFD') : s;
}

function optionalText(s: string | null | undefined): string | null {
  return typeof s === 'string' ? text(s) : null;
}

/** Checked only after a failed INSERT: can this row ever be written? */
function writable(r: QueryAuditRecord): boolean {
  try {
    const required = [
      r.user_id,
      r.username,
      r.data_source_id,
      r.datasource_name,
      r.original_query,
      r.created_at,
    ];
    if (!required.every((s) => typeof s === 'string')) return false;
    if (!STATUSES.has(r.status)) return false;
    JSON.stringify(r.policies_applied ?? []);
    return true;
  } catch {
    return false;
  }
}
