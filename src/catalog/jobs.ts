/**
 * The discovery job runner (api-contract §4.8, §8.1): the engine behind
 * `POST/GET/DELETE /datasources/{id}/discover[/{job_id}[/events]]`.
 *
 * - `submit` checks the data source (NotFoundError → 404) and the one running
 *   job per data source (ConflictError → 409 `Discovery already in progress
 *   (job_id: …)`), then runs the job in the background and returns its id.
 * - A job ends `completed` with the action's result, or `failed` with a text
 *   that is safe to show: `Connection error: …`, `Query error: …`, a
 *   validation message, or `cancelled`. Unexpected internal errors are logged
 *   and shown as a generic text.
 * - `cancel` marks a running job failed/`cancelled` at once and frees the
 *   data source's slot; the worker stops at its next step (its upstream
 *   connection is closed under it, and a pending catalog write rolls back),
 *   and then the stream emits `{"type":"cancelled"}`.
 * - Events for SSE: `subscribe`/`events` (job-events.ts, phases in
 *   job-types.ts): `progress` (connecting → querying → saving), then
 *   `result` + `done`, or `error`, or `cancelled`.
 * - Jobs live in memory (lost on restart, as in BR). Unlike BR, finished jobs
 *   are pruned: kept `retainMs` (default 1 h) and at most `maxFinished`
 *   (default 1000, oldest first).
 */
import type pg from 'pg';
import type { Logger } from '../log.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { newId, SYSTEM_ACTOR_ID } from '../store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../store/repo-errors.js';
import { getDataSourceConnection } from '../store/repos/datasource-config.js';
import { requireDataSource } from '../store/repos/datasources.js';
import {
  JobCancelled,
  runDiscoverColumns,
  runDiscoverSchemas,
  runDiscoverTables,
  runSaveCatalog,
  type ActionContext,
} from './job-actions.js';
import { JobEventChannel } from './job-events.js';
import { parseDiscoverRequest, type DiscoverRequest, type JobEvent, type JobView } from './job-types.js';
import {
  connectUpstream,
  DEFAULT_UPSTREAM_TIMEOUTS,
  JobFailure,
  queryFailure,
  type UpstreamTimeouts,
} from './job-upstream.js';
import { runSyncCatalog } from './sync.js';

export type { DiscoverRequest, JobEvent, JobView } from './job-types.js';
export { parseDiscoverRequest } from './job-types.js';

export interface DiscoveryJobsOptions {
  store: Store;
  cipher: SecretCipher;
  logger: Logger;
  timeouts?: Partial<UpstreamTimeouts>;
  retainMs?: number;
  maxFinished?: number;
}

interface Job {
  view: JobView;
  dataSourceId: string;
  events: JobEventChannel;
  abort: AbortController;
  finishedAt: number | null;
  /** Resolves when the worker has stopped. */
  settled: Promise<void>;
}

const INTERNAL_ERROR = 'Internal error while running the discovery job';

export class DiscoveryJobs {
  private readonly jobs = new Map<string, Job>();
  /** data source id → its running job's id. */
  private readonly running = new Map<string, string>();
  private readonly timeouts: UpstreamTimeouts;

  constructor(private readonly options: DiscoveryJobsOptions) {
    this.timeouts = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...options.timeouts };
  }

  /** Starts a job; `request` may be the raw body (validated here, InvalidError → 422). */
  async submit(
    dataSourceId: string,
    request: unknown,
    actorId: string = SYSTEM_ACTOR_ID,
  ): Promise<{ job_id: string }> {
    const parsed = parseDiscoverRequest(request);
    await requireDataSource(this.options.store.db, dataSourceId);
    const current = this.running.get(dataSourceId);
    if (current) throw new ConflictError(`Discovery already in progress (job_id: ${current})`);
    this.prune();
    const id = newId();
    let settle!: () => void;
    const job: Job = {
      view: { job_id: id, action: parsed.action, status: 'running', result: null, error: null },
      dataSourceId,
      events: new JobEventChannel(),
      abort: new AbortController(),
      finishedAt: null,
      settled: new Promise((resolve) => (settle = resolve)),
    };
    this.jobs.set(id, job);
    this.running.set(dataSourceId, id);
    // Started on the next tick so the caller can subscribe to the events before the first one.
    setImmediate(() => {
      this.run(job, parsed, actorId)
        .catch((error: Error) =>
          this.options.logger.error({ err: error.message }, 'discovery job runner failed'),
        )
        .finally(settle);
    });
    return { job_id: id };
  }

  /** The job object of the status endpoint; undefined → 404 `Job not found`. */
  get(jobId: string): JobView | undefined {
    this.prune();
    const job = this.jobs.get(jobId);
    return job ? { ...job.view } : undefined;
  }

  /** True when a running job was cancelled (204); false → 404 `Job not found or not running`. */
  cancel(jobId: string): boolean {
    const job = this.jobs.get(jobId);
    if (!job || job.view.status !== 'running') return false;
    this.finish(job, { status: 'failed', result: null, error: 'cancelled' });
    job.abort.abort();
    return true;
  }

  /** Listener for the job's events; undefined when the job is unknown. */
  subscribe(jobId: string, listener: (event: JobEvent) => void): (() => void) | undefined {
    return this.jobs.get(jobId)?.events.subscribe(listener);
  }

  /** The job's events as an async iterator ending after the terminal event; undefined when unknown. */
  events(jobId: string, signal?: AbortSignal): AsyncIterableIterator<JobEvent> | undefined {
    return this.jobs.get(jobId)?.events.stream(signal);
  }

  /** Resolves with the final job object once the worker has stopped. */
  async wait(jobId: string): Promise<JobView | undefined> {
    const job = this.jobs.get(jobId);
    if (!job) return undefined;
    await job.settled;
    return { ...job.view };
  }

  /** Cancels every running job and waits for the workers (shutdown). */
  async close(): Promise<void> {
    const jobs = [...this.jobs.values()];
    for (const job of jobs) this.cancel(job.view.job_id);
    await Promise.all(jobs.map((j) => j.settled));
  }

  private async run(job: Job, request: DiscoverRequest, actorId: string): Promise<void> {
    const { store, cipher, logger } = this.options;
    const signal = job.abort.signal;
    let client: pg.Client | null = null;
    const closeClient = () => void client?.end().catch(() => undefined);
    signal.addEventListener('abort', closeClient, { once: true });
    const ctx: ActionContext = {
      store,
      dataSourceId: job.dataSourceId,
      actorId,
      logger,
      signal,
      progress: (phase, detail) => job.events.emit({ type: 'progress', phase, detail }),
      upstream: async (work) => {
        if (signal.aborted) throw new JobCancelled('cancelled');
        if (!client) {
          const ds = await getDataSourceConnection(store.db, cipher, { id: job.dataSourceId }).catch(
            (error: Error) => {
              if (error instanceof NotFoundError) throw error;
              logger.error({ err: error.message }, 'discovery: stored connection settings unreadable');
              throw new JobFailure(
                "Connection error: the data source's stored connection settings cannot be read",
              );
            },
          );
          if (signal.aborted) throw new JobCancelled('cancelled');
          job.events.emit({
            type: 'progress',
            phase: 'connecting',
            detail: `Connecting to ${ds.host}:${ds.port}/${ds.database}`,
          });
          client = await connectUpstream(ds, this.timeouts, logger, signal).catch((error: unknown) => {
            throw signal.aborted ? new JobCancelled('cancelled') : error;
          });
          if (signal.aborted) {
            closeClient();
            throw new JobCancelled('cancelled');
          }
        }
        try {
          return await work(client);
        } catch (error) {
          if (signal.aborted) throw new JobCancelled('cancelled');
          throw queryFailure(error, logger);
        }
      },
    };
    let outcome: Pick<JobView, 'status' | 'result' | 'error'>;
    try {
      outcome = { status: 'completed', result: await this.dispatch(ctx, request), error: null };
    } catch (error) {
      outcome = { status: 'failed', result: null, error: this.failureText(error, signal) };
    } finally {
      signal.removeEventListener('abort', closeClient);
      closeClient();
    }
    if (signal.aborted) {
      job.events.end([{ type: 'cancelled' }]);
      return;
    }
    this.finish(job, outcome);
    job.events.end(
      outcome.status === 'completed'
        ? [{ type: 'result', data: outcome.result }, { type: 'done' }]
        : [{ type: 'error', message: outcome.error ?? INTERNAL_ERROR }],
    );
  }

  private dispatch(ctx: ActionContext, request: DiscoverRequest): Promise<unknown> {
    switch (request.action) {
      case 'discover_schemas':
        return runDiscoverSchemas(ctx);
      case 'discover_tables':
        return runDiscoverTables(ctx, request.schemas);
      case 'discover_columns':
        return runDiscoverColumns(ctx, request.tables);
      case 'save_catalog':
        return runSaveCatalog(ctx, request.schemas);
      case 'sync_catalog':
        return runSyncCatalog(ctx);
    }
  }

  private failureText(error: unknown, signal: AbortSignal): string {
    if (signal.aborted || error instanceof JobCancelled) return 'cancelled';
    if (
      error instanceof JobFailure ||
      error instanceof InvalidError ||
      error instanceof ConflictError ||
      error instanceof NotFoundError
    ) {
      return error.message;
    }
    this.options.logger.error(
      { err: (error as Error)?.message, stack: (error as Error)?.stack },
      'discovery job failed unexpectedly',
    );
    return INTERNAL_ERROR;
  }

  private finish(job: Job, outcome: Pick<JobView, 'status' | 'result' | 'error'>): void {
    job.view = { ...job.view, ...outcome };
    job.finishedAt = Date.now();
    if (this.running.get(job.dataSourceId) === job.view.job_id) this.running.delete(job.dataSourceId);
  }

  private prune(): void {
    const retainMs = this.options.retainMs ?? 3_600_000;
    const maxFinished = this.options.maxFinished ?? 1_000;
    const cutoff = Date.now() - retainMs;
    const finished: [string, Job][] = [];
    for (const entry of this.jobs) {
      const finishedAt = entry[1].finishedAt;
      if (finishedAt === null) continue;
      if (finishedAt < cutoff) this.jobs.delete(entry[0]);
      else finished.push(entry);
    }
    // Map iteration is insertion order, i.e. oldest job first.
    for (const [id] of finished.slice(0, Math.max(0, finished.length - maxFinished))) this.jobs.delete(id);
  }
}
