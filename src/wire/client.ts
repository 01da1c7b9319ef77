/**
 * One client session (pgbouncer's "client"): start-up and authentication
 * (auth.ts), an upstream connection checked out of the data source's pool
 * for the session's whole life (upstream-pool.ts: session pooling, reset by
 * DISCARD ALL; why not transaction pooling is written there), then the
 * message loop. The loop handles one message at a time: pipelined input
 * waits in the frame reader (and the kernel), which keeps responses in order.
 *
 * The connection goes back to the pool for reuse only when the session ends
 * cleanly: Terminate (or the client leaving) while the session waits for a
 * message, transaction status 'I', nothing in flight upstream, the relay
 * detached with no buffered byte. Anything else closes it.
 *
 * Simple query ('Q'): rewrite.ts turns the text into statements. Runs of
 * statements with upstream SQL are sent joined in ONE 'Q', so PostgreSQL's
 * implicit-transaction and stop-at-first-error semantics hold; SHOW is
 * answered and SET / RESET applied by the proxy (query.ts).
 *
 * Extended protocol (extended.ts, extended-upstream.ts): every message goes
 * upstream in order without waiting for answers (pipelining), and the
 * answers are relayed as they come. The relay reads the upstream through a
 * DemuxReader that hands frames to the extended pipeline while it has
 * messages in flight. Before the proxy answers anything itself (a 'Q'), the
 * pipeline is settled so responses stay in order. After a refusal (the
 * proxy's or the upstream's) messages are discarded until Sync. The next
 * client message is read only once the upstream socket can take more
 * (write backpressure: a client pipelining faster than the upstream reads
 * waits in the kernel, not in the proxy's memory).
 *
 * Shutdown: `terminate()` ends the session now (FATAL 57P01); `drain()` ends
 * it at the next point where nothing runs — waiting for a message, nothing
 * in flight, transaction status 'I' — so a running statement or pipeline
 * finishes and a transaction block may end first (server.ts bounds the wait).
 */
import { randomInt } from 'node:crypto';
import type net from 'node:net';
import type { QueryAuditQueue } from '../audit/query-audit-queue.js';
import type { Logger } from '../log.js';
import { SessionSettings, defaultSettings } from '../sql/settings.js';
import type { AuthThrottle } from './auth-throttle.js';
import { type AuthenticatedSession, startSession } from './auth.js';
import type { CancelRegistry } from './cancel.js';
import { auditRefusal } from './admission-audit.js';
import * as be from './backend.js';
import { batchedWrite } from './batched-write.js';
import { ProtocolViolation } from './buffer.js';
import { ClientConnection, ClientGone } from './connection.js';
import type { Frame } from './frames.js';
import { ExtendedSession } from './extended.js';
import { DemuxReader, ExtendedPipeline } from './extended-upstream.js';
import { parseQuery } from './frontend.js';
import { reportedBy } from './local-settings.js';
import { QueryRunner } from './query.js';
import { UpstreamGone, UpstreamRelay } from './relay.js';
import { type CheckedOut, checkOutUpstream } from './upstream-checkout.js';
import type { UpstreamPools } from './upstream-pools.js';
import type { RefreshableSession, SessionRegistry } from './session-registry.js';
import type { Store } from '../store/db.js';
import type { SecretCipher } from '../secrets/cipher.js';

export interface SessionContext {
  store: Store;
  cipher: SecretCipher;
  throttle: AuthThrottle;
  logger: Logger;
  audit?: QueryAuditQueue | undefined;
  /** 0 disables the idle timeout. */
  idleTimeoutSecs: number;
  maxMessageLength?: number;
  /** The proxy's cancel-key table (server.ts); absent in bare test setups. */
  cancel?: CancelRegistry | undefined;
  /** Upstream connection pools, one per data source (server.ts). */
  pools: UpstreamPools;
  /** Live policy refresh (session-registry.ts); absent in bare test setups. */
  sessions?: SessionRegistry | undefined;
}

const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H']);
/** Messages that run or prepare a statement: each first brings the policy set up to date. */
const STATEMENT = new Set(['Q', 'P', 'B', 'D', 'E']);
const AUTH_TIMEOUT_MS = 60_000;
const ADMIN_SHUTDOWN: be.Notice = {
  severity: 'FATAL',
  code: '57P01',
  message: 'terminating connection due to administrator command',
};

export class ClientSession {
  readonly conn: ClientConnection;
  private relay: UpstreamRelay | undefined;
  private extended: ExtendedSession | undefined;
  private runner: QueryRunner | undefined;
  /** The checked-out upstream connection and its pool, until released. */
  private upstream: CheckedOut | undefined;
  private readonly stopAcquire = new AbortController();
  private closing = false;
  private draining = false;
  /** Inside `conn.next()`: the client has the turn. */
  private waiting = false;
  /** The session ended by the client's Terminate or departure while it had the turn. */
  private endedCleanly = false;
  /** This session as the policy-refresh registry sees it, once authenticated. */
  private live: RefreshableSession | undefined;

  constructor(
    socket: net.Socket,
    private readonly ctx: SessionContext,
  ) {
    this.conn = new ClientConnection(socket, ctx.maxMessageLength);
  }

  /** Runs the session to its end; never rejects. */
  async run(): Promise<void> {
    try {
      const authTimer = setTimeout(() => this.conn.close(), AUTH_TIMEOUT_MS);
      let auth: AuthenticatedSession | null;
      // Read before the policy set is resolved: a change committed meanwhile is not missed.
      const resolvedAt = this.ctx.sessions?.generationNow;
      try {
        auth = await startSession(this.conn, this.ctx);
      } finally {
        clearTimeout(authTimer);
      }
      if (!auth || this.closing) return;
      this.follow(auth, resolvedAt);
      const runner = await this.connect(auth);
      if (runner) await this.loop(runner);
    } catch (err) {
      if (err instanceof ProtocolViolation) {
        this.conn.fatal({
          severity: 'FATAL',
          code: '08P01',
          message: `invalid frontend message: ${err.message}`,
        });
      } else if (!(err instanceof ClientGone) && !(err instanceof UpstreamGone)) {
        this.ctx.logger.error({ err }, 'client session failed');
        this.conn.fatal({ severity: 'FATAL', code: 'XX000', message: 'internal error' });
      }
    } finally {
      if (this.live) this.ctx.sessions?.remove(this.live);
      this.conn.close();
      this.releaseUpstream();
    }
  }

  /** A connection refused after authentication (no upstream connection) is audited like the others. */
  private auditRefused(auth: AuthenticatedSession, message: string, reason: string): void {
    const attempt = {
      address: this.conn.remoteAddress,
      username: auth.username,
      database: auth.dataSource.name,
      applicationName: auth.parameters.get('application_name'),
    };
    auditRefusal(this.ctx, attempt, message, reason, { userId: auth.userId });
  }

  /** Registers with the policy-refresh registry: new policy sets swap in, lost access ends the session. */
  private follow(auth: AuthenticatedSession, resolvedAt: number | undefined): void {
    if (!this.ctx.sessions) return;
    this.live = {
      userId: auth.userId,
      dataSourceId: auth.dataSource.id,
      applyPolicy: (policy, dataSource) => {
        auth.policy = policy;
        auth.dataSource = dataSource;
      },
      end: (notice) => this.terminate(notice),
    };
    this.ctx.sessions.add(this.live, resolvedAt);
  }

  /**
   * Ends the session now with `notice` (default: administrator shutdown,
   * FATAL 57P01); both sockets close and the upstream connection is not reused.
   */
  terminate(notice: be.Notice = ADMIN_SHUTDOWN): void {
    if (this.closing) return;
    this.closing = true;
    this.stopAcquire.abort(new ClientGone());
    this.conn.fatal(notice);
    this.relay?.close();
  }

  /** Graceful shutdown: terminate as soon as nothing runs (see the header); at once if idle. */
  drain(): void {
    this.draining = true;
    // Still starting (authentication, checkout): nothing of the client's runs yet.
    if (this.runner) this.endIfDrained();
    else this.terminate();
  }

  private endIfDrained(): void {
    if (this.draining && this.waiting && !this.relay?.busy && this.runner?.status === 'I') this.terminate();
  }

  /** Back to the pool if the session left the connection clean, else closed. */
  private releaseUpstream(): void {
    const held = this.upstream;
    if (!held) return;
    this.upstream = undefined;
    // No cancel for this session may reach the backend once another session can hold it.
    this.ctx.cancel?.releaseOwner(this);
    const atBoundary = this.relay ? this.relay.detach() : true;
    const clean = !this.relay || (this.endedCleanly && this.runner?.status === 'I');
    held.pool.release(held.conn, atBoundary && clean && !this.closing);
  }

  private async connect(auth: AuthenticatedSession): Promise<QueryRunner | null> {
    const ds = auth.dataSource;
    // A client that leaves while waiting for a free connection leaves the pool's queue.
    const leave = () => this.stopAcquire.abort(new ClientGone());
    this.conn.socket.once('close', leave);
    const checkedOut = await checkOutUpstream(
      this.ctx.pools,
      ds,
      this.conn,
      this.stopAcquire.signal,
      this.ctx.logger,
      (message, reason) => this.auditRefused(auth, message, reason),
    ).finally(() => this.conn.socket.off('close', leave));
    if (!checkedOut) return null;
    this.upstream = checkedOut;
    const upstream = checkedOut.conn;
    if (this.conn.isClosed) return null;
    const version = /^\d+(\.\d+)?/.exec(upstream.parameters.get('server_version') ?? '')?.[0];
    const settings = new SessionSettings(
      defaultSettings({
        userName: auth.username,
        ...(version ? { serverVersion: version.includes('.') ? version : `${version}.0` } : {}),
        timeZone: upstream.parameters.get('TimeZone') ?? 'UTC',
      }),
    );
    const socket = upstream.socket;
    const pipeline = new ExtendedPipeline({
      writeUpstream: (raw) => void batchedWrite(socket, raw),
      sendClient: (raw) => void this.conn.send(raw),
      onReady: (status) => {
        this.extended?.ready(status);
        if (this.draining) queueMicrotask(() => this.endIfDrained());
      },
    });
    const demux = new DemuxReader(upstream.reader, pipeline);
    const onGone = (gone: UpstreamGone) => {
      pipeline.abort(gone);
      if (this.closing) return;
      const said = gone.fields?.get('C') === '57P01';
      this.conn.fatal({
        severity: 'FATAL',
        code: said ? '57P01' : '08006',
        message: said
          ? 'terminating connection due to administrator command'
          : 'server closed the connection unexpectedly',
      });
    };
    this.relay = new UpstreamRelay(upstream, this.conn.socket, onGone, {
      frames: demux,
      inFlight: () => pipeline.active,
    });
    const runner = new QueryRunner(this.conn, this.relay, auth, settings, this.ctx.audit);
    this.extended = new ExtendedSession(auth, runner, pipeline, this.ctx.audit);
    await runner.applyStartupParameters(auth.parameters);
    // The key the client may cancel with maps to this connection's upstream backend (cancel.ts).
    const cancelKey = this.ctx.cancel?.register(this, { upstream: ds, backendKey: upstream.backendKey }) ?? {
      processId: randomInt(1, 0x7fffffff),
      secretKey: randomInt(-0x80000000, 0x7fffffff),
    };
    runner.backendPid = cancelKey.processId;
    const messages = [...reportedBy(settings)].map(([key, name]) =>
      be.parameterStatus(name, settings.get(key) ?? 'off'),
    );
    this.conn.send(
      ...messages,
      be.backendKeyData(cancelKey.processId, cancelKey.secretKey),
      be.readyForQuery('I'),
    );
    this.runner = runner;
    return runner;
  }

  /**
   * The next client message, once the upstream can take more. While waiting
   * the client has the turn: a draining session ends here, and a client
   * leaving here leaves the upstream connection clean.
   */
  private async nextMessage(): Promise<Frame> {
    const full = this.relay!.upstreamWritable();
    if (full) await full;
    this.waiting = true;
    try {
      this.endIfDrained();
      return await this.conn.next(this.ctx.idleTimeoutSecs * 1000);
    } catch (err) {
      if (err instanceof ClientGone && !this.closing) this.endedCleanly = true;
      throw err;
    } finally {
      this.waiting = false;
    }
  }

  private async loop(runner: QueryRunner): Promise<void> {
    const extended = this.extended!;
    let discarding = false;
    for (;;) {
      const frame = await this.nextMessage();
      if (discarding && frame.type !== 'S') continue;
      // A committed admin change since the last statement: this one runs under the new policies.
      const { live } = this;
      if (live && STATEMENT.has(frame.type) && this.ctx.sessions!.stale(live))
        if (!(await this.ctx.sessions!.current(live))) return;
      switch (frame.type) {
        case 'Q':
          // An unsynced pipeline that failed upstream discards the query, as PostgreSQL does.
          if (!(await extended.settle())) discarding = true;
          else await runner.simpleQuery(parseQuery(frame.body));
          break;
        case 'S':
          discarding = false;
          await extended.message(frame);
          break;
        case 'X':
          this.endedCleanly = true;
          return;
        case 'F':
          // FunctionCall would run a function by OID, past the rewriter and its allowlist.
          await extended.settle();
          this.conn.send(
            be.errorResponse({
              severity: 'ERROR',
              code: '0A000',
              message: 'function call protocol is not supported',
            }),
            be.readyForQuery(runner.status),
          );
          break;
        case 'd': // CopyData / CopyDone / CopyFail outside COPY: ignored, as PostgreSQL does
        case 'c':
        case 'f':
          break;
        default:
          if (EXTENDED.has(frame.type)) {
            if (!(await extended.message(frame))) discarding = true;
            break;
          }
          this.conn.fatal({
            severity: 'FATAL',
            code: '08P01',
            message: `invalid frontend message type ${frame.type.charCodeAt(0)}`,
          });
          return;
      }
    }
  }
}
