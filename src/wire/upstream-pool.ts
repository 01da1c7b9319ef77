/**
 * The upstream connection pool of one data source (upstream-pools.ts keeps
 * one per distinct connection settings, owned by the proxy server).
 *
 * Session pooling (pgbouncer's pool_mode=session): a client session checks a
 * connection out for its whole life. Transaction pooling would hand the
 * backend to another client between transactions, but Rowgate sessions keep
 * state on their backend across transactions — SET values, prepared
 * statements (protocol and SQL), cursors WITH HOLD, temp tables — which a
 * second client would then see or lose. Pooling saves the backend start-up
 * (a fork) and authentication of a new upstream connection per client
 * connection: a short session costs about half (bench/connect.bench.ts).
 *
 * A connection comes back only when the session ended cleanly (client.ts
 * decides: ReadyForQuery 'I', nothing in flight); it is then reset
 * (upstream-control.ts: Sync + `DISCARD ALL`) and kept idle for `idleSecs`
 * once the reset answered 'I'. Anything else is closed. An idle connection
 * that closes, or says anything at all (a FATAL before a shutdown), is
 * dropped at once, so a restarted upstream never gets stale connections
 * handed out; checkout also skips sockets that are no longer open.
 *
 * At most `maxSize` connections exist per pool (in use, idle, opening or
 * being reset). A checkout that finds the pool full waits in FIFO order up
 * to `acquireTimeoutMs`, then fails with PoolExhausted; an aborted waiter
 * (its client left) leaves the queue.
 */
import type { Logger } from '../log.js';
import * as fe from './frontend.js';
import { resetConnection } from './upstream-control.js';
import { connectUpstream, type UpstreamConnection, type UpstreamSettings } from './upstream.js';

export interface PoolOptions {
  /** Most connections per data source: in use, idle, opening and resetting together. */
  maxSize: number;
  /** How long a cleanly returned connection stays idle for reuse; 0 = never reuse. */
  idleSecs: number;
  /** How long a checkout waits when the pool is full; default 10 s. */
  acquireTimeoutMs?: number;
  /** Bound on the reset exchange; default 5 s. */
  resetTimeoutMs?: number;
  logger?: Logger | undefined;
  /** Opens a connection; default connectUpstream. */
  connect?: (settings: UpstreamSettings) => Promise<UpstreamConnection>;
}

/** The pool stayed full for the whole wait. */
export class PoolExhausted extends Error {
  override readonly name = 'PoolExhausted';
}

/** The pool was closed (the proxy is stopping). */
export class PoolClosed extends Error {
  override readonly name = 'PoolClosed';
}

/** A checkout: an idle connection, or the right to open a new one. */
type Grant = UpstreamConnection | 'open';

interface Waiter {
  grant(g: Grant): void;
  fail(err: Error): void;
}

interface Idle {
  conn: UpstreamConnection;
  timer: NodeJS.Timeout;
  onGone: () => void;
}

/** Ends a connection politely (Terminate), and for sure after a second. */
export function closeUpstream(conn: UpstreamConnection): void {
  const { socket } = conn;
  if (!socket.destroyed) socket.end(fe.terminate());
  setTimeout(() => socket.destroy(), 1000).unref();
}

export class UpstreamPool {
  private readonly inUse = new Set<UpstreamConnection>();
  private readonly idle: Idle[] = [];
  private readonly waiters: Waiter[] = [];
  private opening = 0;
  private resetting = 0;
  private closed = false;

  constructor(
    readonly settings: UpstreamSettings,
    private readonly options: PoolOptions,
    /** Called whenever the pool holds nothing and nobody waits (the registry forgets it). */
    private readonly onEmpty: (pool: UpstreamPool) => void = () => undefined,
  ) {}

  get stats() {
    return {
      inUse: this.inUse.size,
      idle: this.idle.length,
      opening: this.opening,
      resetting: this.resetting,
      waiting: this.waiters.length,
    };
  }

  /** Connections currently checked out (tests look at their sockets). */
  checkedOut(): readonly UpstreamConnection[] {
    return [...this.inUse];
  }

  private get size(): number {
    return this.inUse.size + this.idle.length + this.opening + this.resetting;
  }

  /**
   * A connection for one session: an idle one, a new one, or the first one
   * freed while waiting. Rejects with PoolExhausted, PoolClosed, the abort
   * reason, or UpstreamConnectError.
   */
  async acquire(signal?: AbortSignal): Promise<UpstreamConnection> {
    if (this.closed) throw new PoolClosed('the upstream pool is closed');
    signal?.throwIfAborted();
    const grant = (this.waiters.length === 0 ? this.grantNow() : undefined) ?? (await this.enqueue(signal));
    if (grant !== 'open') return grant;
    let conn: UpstreamConnection;
    try {
      conn = await (this.options.connect ?? connectUpstream)(this.settings);
    } catch (err) {
      this.opening--;
      this.dispatch();
      throw err;
    }
    this.opening--;
    if (this.closed) {
      closeUpstream(conn);
      throw new PoolClosed('the upstream pool is closed');
    }
    this.inUse.add(conn);
    return conn;
  }

  /**
   * Gives a checked-out connection back. `reusable` only when the session
   * left it clean (see client.ts); it is then reset before anyone gets it.
   */
  release(conn: UpstreamConnection, reusable: boolean): void {
    if (!this.inUse.delete(conn)) return;
    const { socket } = conn;
    const open = !socket.destroyed && socket.writable && conn.reader.pending === 0;
    if (!reusable || !open || this.closed || this.options.idleSecs === 0) {
      this.discard(conn);
      return;
    }
    this.resetting++;
    void resetConnection(conn, this.options.resetTimeoutMs ?? 5000)
      .catch((err: unknown) => {
        this.options.logger?.debug({ err: String(err) }, 'upstream connection reset failed');
        return false;
      })
      .then((ok) => {
        this.resetting--;
        if (ok && !this.closed && !socket.destroyed) this.makeIdle(conn);
        else this.discard(conn);
      });
  }

  /** Refuses new checkouts and waiters, closes idle connections; in-use ones close on release. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.fail(new PoolClosed('the upstream pool is closed'));
    for (const entry of this.idle.splice(0)) this.forget(entry, true);
  }

  private grantNow(): Grant | undefined {
    for (let entry = this.idle.pop(); entry; entry = this.idle.pop()) {
      const { conn } = entry;
      this.forget(entry, false);
      const { socket } = conn;
      if (socket.destroyed || !socket.readable || !socket.writable || conn.reader.pending > 0) {
        socket.destroy();
        continue;
      }
      this.inUse.add(conn);
      return conn;
    }
    if (this.size < this.options.maxSize) {
      this.opening++;
      return 'open';
    }
    return undefined;
  }

  private enqueue(signal: AbortSignal | undefined): Promise<Grant> {
    return new Promise<Grant>((resolve, reject) => {
      const settled = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const leave = (err: unknown) => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        settled();
        reject(err);
        this.checkEmpty();
      };
      const onAbort = () => leave(signal?.reason);
      const timeoutMs = this.options.acquireTimeoutMs ?? 10_000;
      const timer = setTimeout(
        () => leave(new PoolExhausted(`no upstream connection free within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const waiter: Waiter = {
        grant: (g) => {
          settled();
          resolve(g);
        },
        fail: (err) => {
          settled();
          reject(err);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Hands freed capacity to the waiters, oldest first. */
  private dispatch(): void {
    while (this.waiters.length > 0 && !this.closed) {
      const grant = this.grantNow();
      if (!grant) break;
      this.waiters.shift()!.grant(grant);
    }
    this.checkEmpty();
  }

  private checkEmpty(): void {
    if (this.size === 0 && this.waiters.length === 0) this.onEmpty(this);
  }

  private discard(conn: UpstreamConnection): void {
    closeUpstream(conn);
    this.dispatch();
  }

  private makeIdle(conn: UpstreamConnection): void {
    const { socket } = conn;
    // Any byte or EOF while idle means the upstream is ending this backend (or misbehaving).
    const onGone = () => {
      const at = this.idle.indexOf(entry);
      if (at < 0) return;
      this.idle.splice(at, 1);
      this.forget(entry, false);
      socket.destroy();
      this.dispatch();
    };
    const timer = setTimeout(() => {
      const at = this.idle.indexOf(entry);
      if (at < 0) return;
      this.idle.splice(at, 1);
      this.forget(entry, true);
      this.dispatch();
    }, this.options.idleSecs * 1000).unref();
    const entry: Idle = { conn, timer, onGone };
    socket.on('data', onGone).on('end', onGone).on('close', onGone);
    socket.resume(); // flowing, so EOF and stray bytes are noticed while idle
    this.idle.push(entry);
    this.dispatch();
  }

  /** Detaches the pool's idle listeners; `close` also ends the connection. */
  private forget(entry: Idle, close: boolean): void {
    clearTimeout(entry.timer);
    const { socket } = entry.conn;
    socket.off('data', entry.onGone).off('end', entry.onGone).off('close', entry.onGone);
    socket.pause(); // the next owner resumes it once its own listeners are attached
    if (close) closeUpstream(entry.conn);
  }
}
