/**
 * The dedicated LISTEN connection of the change feed (change-feed.ts) on a
 * PostgreSQL admin store.
 *
 * LISTEN needs one session that stays open, so this is a plain node-postgres
 * Client outside the store's pool. The connection is lost when the admin
 * PostgreSQL restarts, when an operator terminates the backend, or silently
 * when the network drops packets (caught by a periodic `SELECT 1` with a
 * timeout). Every loss is followed by reconnect attempts with exponential
 * backoff and jitter, forever, until `close()`. Notifications sent while no
 * connection listened are gone for good, so every (re)connection except the
 * very first successful attempt is reported through `onResync`.
 */
import pg from 'pg';
import type { Logger } from '../log.js';

export interface ChangeListenerOptions {
  connectionString: string;
  channel: string;
  logger: Logger;
  onNotification(payload: string): void;
  /** Called after a reconnection: notifications may have been missed. */
  onResync(): void;
  /** First reconnect delay; doubles per failed attempt up to `maxBackoffMs`. Default 100 ms. */
  minBackoffMs?: number;
  /** Default 5000 ms. */
  maxBackoffMs?: number;
  /** Interval of the liveness probe; default 30 s. */
  healthCheckMs?: number;
}

export class ChangeListener {
  private client: pg.Client | null = null;
  private closed = false;
  private failures = 0;
  private firstAttempt = true;
  private retryTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private readyResolve!: () => void;
  /** Resolves once the first LISTEN is in place (or the listener is closed). */
  readonly ready: Promise<void> = new Promise((resolve) => (this.readyResolve = resolve));

  constructor(private readonly options: ChangeListenerOptions) {}

  start(): void {
    void this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.readyResolve();
    const client = this.client;
    this.client = null;
    if (client) await client.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    this.retryTimer = null;
    if (this.closed) return;
    const { connectionString, channel, logger } = this.options;
    const healthCheckMs = this.options.healthCheckMs ?? 30_000;
    const client = new pg.Client({
      connectionString,
      keepAlive: true,
      connectionTimeoutMillis: 10_000,
      query_timeout: Math.max(1_000, Math.min(healthCheckMs, 10_000)),
      application_name: 'rowgate-change-feed',
    });
    // Registered before connect: an error event without a listener would crash the process.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel === channel && this.client === client) {
        this.deliver(() => this.options.onNotification(message.payload ?? ''));
      }
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    } catch (error) {
      this.lost(client, error as Error);
      return;
    }
    if (this.closed || this.client !== client) return;
    const reconnected = !this.firstAttempt;
    this.firstAttempt = false;
    if (this.failures > 0)
      logger.info({ attempts: this.failures }, 'change feed: LISTEN connection restored');
    this.failures = 0;
    this.readyResolve();
    this.healthTimer = setInterval(() => void this.probe(client), healthCheckMs);
    this.healthTimer.unref();
    if (reconnected) this.deliver(() => this.options.onResync());
  }

  /** A throwing callback must not unwind into the driver's socket handler. */
  private deliver(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.options.logger.error({ err: (error as Error).message }, 'change feed: delivery failed');
    }
  }

  private async probe(client: pg.Client): Promise<void> {
    try {
      await client.query('SELECT 1');
    } catch (error) {
      this.lost(client, error as Error);
    }
  }

  /** Drops `client` (once) and schedules the next attempt. */
  private lost(client: pg.Client, error: Error): void {
    if (this.client !== client) return; // an old connection's late events
    this.client = null;
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = null;
    this.firstAttempt = false;
    client.end().catch(() => undefined);
    if (this.closed) return;
    const min = this.options.minBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 5_000;
    const delay = Math.min(max, min * 2 ** Math.min(this.failures, 16)) * (0.8 + Math.random() * 0.4);
    this.failures += 1;
    const log = { err: error.message, attempt: this.failures, retryInMs: Math.round(delay) };
    if (this.failures === 1) this.options.logger.warn(log, 'change feed: LISTEN connection lost');
    else this.options.logger.debug(log, 'change feed: LISTEN reconnect failed');
    this.retryTimer = setTimeout(() => void this.connect(), delay);
    this.retryTimer.unref();
  }
}
