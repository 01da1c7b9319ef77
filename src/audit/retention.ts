/**
 * The audit retention job (issue 5, beyond BetweenRows): keeps the query and
 * admin audit logs within `config.auditRetention` — a maximum age and a
 * maximum row count per log, 0 meaning unlimited — by pruning once at start
 * and then every `pruneIntervalSecs`.
 *
 * - Runs never overlap: the next one is scheduled only after the previous one
 *   finished, and `runNow()` during a run joins that run.
 * - The timer is unref'd: the job never keeps the process alive.
 * - A failed run (store unreachable, …) is logged and retried at the next interval.
 * - `stop()` cancels the timer, asks a running pass to stop after its current
 *   chunk, and resolves once it has.
 * - Pruning is maintenance, not an admin mutation: it writes no admin audit
 *   row (that would itself grow the log it trims); it logs what it deleted.
 */
import type { AuditRetention } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/db.js';
import { pruneLog, type LogPruneResult } from './retention-prune.js';

export type { LogPruneResult } from './retention-prune.js';

export interface PruneResult {
  query_audit_log: LogPruneResult;
  admin_audit_log: LogPruneResult;
}

export interface AuditRetentionJob {
  /** Prunes now (or joins the running pass) and resolves with what was deleted. */
  runNow(): Promise<PruneResult>;
  /** Stops the schedule; resolves when a running pass has stopped. Idempotent. */
  stop(): Promise<void>;
}

export interface AuditRetentionOptions {
  /** Rows per DELETE statement (default 1000). */
  chunkSize?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

const DEFAULT_CHUNK_SIZE = 1000;

export function startAuditRetention(
  store: Store,
  retention: AuditRetention,
  logger: Logger,
  options: AuditRetentionOptions = {},
): AuditRetentionJob {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new RangeError('chunkSize must be a positive integer');
  const now = options.now ?? (() => new Date());
  const enabled =
    retention.queryMaxAgeDays > 0 ||
    retention.queryMaxRows > 0 ||
    retention.adminMaxAgeDays > 0 ||
    retention.adminMaxRows > 0;
  let stopped = false;
  let running: Promise<PruneResult> | undefined;
  let timer: NodeJS.Timeout | undefined;

  async function prune(): Promise<PruneResult> {
    const started = performance.now();
    const pass = { chunkSize, now: now(), stopped: () => stopped };
    const result: PruneResult = {
      query_audit_log: await pruneLog(
        store.db,
        'query_audit_log',
        { maxAgeDays: retention.queryMaxAgeDays, maxRows: retention.queryMaxRows },
        pass,
      ),
      admin_audit_log: stopped
        ? { byAge: 0, byRows: 0 }
        : await pruneLog(
            store.db,
            'admin_audit_log',
            { maxAgeDays: retention.adminMaxAgeDays, maxRows: retention.adminMaxRows },
            pass,
          ),
    };
    const total = Object.values(result).reduce((sum, r) => sum + r.byAge + r.byRows, 0);
    const ms = Math.round(performance.now() - started);
    if (total > 0) logger.info({ audit_pruned: result, ms }, `audit retention: deleted ${total} rows`);
    else logger.debug({ ms }, 'audit retention: nothing to delete');
    return result;
  }

  function runNow(): Promise<PruneResult> {
    if (stopped) return Promise.reject(new Error('audit retention is stopped'));
    if (!enabled) return Promise.resolve(emptyResult());
    running ??= prune().finally(() => {
      running = undefined;
    });
    return running;
  }

  function schedule(delayMs: number): void {
    if (stopped || !enabled) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (stopped) return;
      runNow()
        .catch((error: unknown) => {
          logger.error(
            { err: error instanceof Error ? error.message : String(error) },
            'audit retention: pruning failed; retrying at the next interval',
          );
        })
        .finally(() => schedule(retention.pruneIntervalSecs * 1000));
    }, delayMs);
    timer.unref();
  }

  if (enabled) {
    logger.info({ audit_retention: retention }, 'audit retention: pruning job started');
    schedule(0);
  }

  return {
    runNow,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      // A running pass stops after its current chunk; its outcome was logged by the caller of runNow.
      await running?.catch(() => undefined);
    },
  };
}

function emptyResult(): PruneResult {
  return { query_audit_log: { byAge: 0, byRows: 0 }, admin_audit_log: { byAge: 0, byRows: 0 } };
}
