/**
 * One client session (pgbouncer's "client"): start-up and authentication
 * (auth.ts), a dedicated upstream connection (upstream.ts, relay.ts), then
 * the message loop. The loop handles one message at a time: pipelined input
 * waits in the frame reader (and the kernel), which keeps responses in order.
 *
 * Upstream connections are per session, not pooled: session state (SET
 * values, transactions, cursors, prepared statements) then needs no reset
 * protocol, and one client can never see another's state. The cost is one
 * upstream backend per client; pooling is a later step of issue 4.
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
 * proxy's or the upstream's) messages are discarded until Sync.
 */
import { randomInt } from 'node:crypto';
import type net from 'node:net';
import type { QueryAuditQueue } from '../audit/query-audit-queue.js';
import type { Logger } from '../log.js';
import { SessionSettings, defaultSettings } from '../sql/settings.js';
import type { AuthThrottle } from './auth-throttle.js';
import { type AuthenticatedSession, startSession } from './auth.js';
import type { CancelRegistry } from './cancel.js';
import * as be from './backend.js';
import { ProtocolViolation } from './buffer.js';
import { ClientConnection, ClientGone } from './connection.js';
import { ExtendedSession } from './extended.js';
import { DemuxReader, ExtendedPipeline } from './extended-upstream.js';
import { parseQuery } from './frontend.js';
import { QueryRunner, REPORTED } from './query.js';
import { UpstreamGone, UpstreamRelay } from './relay.js';
import { connectUpstream, UpstreamConnectError } from './upstream.js';
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
}

const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H']);
const AUTH_TIMEOUT_MS = 60_000;

export class ClientSession {
  readonly conn: ClientConnection;
  private relay: UpstreamRelay | undefined;
  private extended: ExtendedSession | undefined;
  private closing = false;

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
      try {
        auth = await startSession(this.conn, this.ctx);
      } finally {
        clearTimeout(authTimer);
      }
      if (!auth) return;
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
      this.conn.close();
      this.relay?.close();
    }
  }

  /** Administrator shutdown: FATAL 57P01 to the client, then both sockets close. */
  terminate(): void {
    this.closing = true;
    this.conn.fatal({
      severity: 'FATAL',
      code: '57P01',
      message: 'terminating connection due to administrator command',
    });
    this.relay?.close();
  }

  private async connect(auth: AuthenticatedSession): Promise<QueryRunner | null> {
    const ds = auth.dataSource;
    let upstream;
    try {
      upstream = await connectUpstream({
        host: ds.host,
        port: ds.port,
        database: ds.database,
        username: ds.username,
        password: ds.password,
        sslmode: ds.sslmode,
      });
    } catch (err) {
      // The upstream's own words may name its roles or hosts: the client gets a generic text.
      const reason = err instanceof UpstreamConnectError ? err.message : String(err);
      this.ctx.logger.warn({ dataSource: ds.name, reason }, 'upstream connection failed');
      this.conn.fatal({
        severity: 'FATAL',
        code: '08006',
        message: 'could not connect to the upstream server',
      });
      return null;
    }
    if (this.conn.isClosed) {
      upstream.socket.destroy();
      return null;
    }
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
      writeUpstream: (raw) => void socket.write(raw),
      sendClient: (raw) => void this.conn.send(raw),
      onReady: (status, tag) => this.extended?.ready(status, tag),
    });
    const demux = new DemuxReader(upstream.reader, pipeline);
    this.relay = new UpstreamRelay({ ...upstream, reader: demux }, this.conn.socket, (gone) => {
      pipeline.abort(gone);
      if (this.closing) return;
      const said = gone.fields;
      this.conn.fatal({
        severity: 'FATAL',
        code: said?.get('C') === '57P01' ? '57P01' : '08006',
        message:
          said?.get('C') === '57P01'
            ? 'terminating connection due to administrator command'
            : 'server closed the connection unexpectedly',
      });
    });
    const runner = new QueryRunner(this.conn, this.relay, auth, settings, this.ctx.audit);
    this.extended = new ExtendedSession(auth, runner, pipeline, this.ctx.audit);
    await runner.applyStartupParameters(auth.parameters);
    // The key the client may cancel with maps to this session's upstream backend (cancel.ts).
    const cancelKey = this.ctx.cancel?.register(this, { upstream: ds, backendKey: upstream.backendKey }) ?? {
      processId: randomInt(1, 0x7fffffff),
      secretKey: randomInt(-0x80000000, 0x7fffffff),
    };
    const messages = [...REPORTED].map(([key, name]) => be.parameterStatus(name, settings.get(key) ?? 'off'));
    this.conn.send(
      ...messages,
      be.backendKeyData(cancelKey.processId, cancelKey.secretKey),
      be.readyForQuery('I'),
    );
    return runner;
  }

  private async loop(runner: QueryRunner): Promise<void> {
    const idleMs = this.ctx.idleTimeoutSecs * 1000;
    const extended = this.extended!;
    let discarding = false;
    for (;;) {
      const frame = await this.conn.next(idleMs);
      if (discarding && frame.type !== 'S') continue;
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
