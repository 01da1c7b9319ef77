/**
 * The data plane's listener (pgbouncer's "pooler"): accepts TCP connections
 * on ROWGATE_PROXY_BIND_ADDR and runs one ClientSession per connection. A
 * failing socket only ever ends its own session.
 *
 * Process-wide state shared by the sessions lives here: the TLS context
 * (tls.ts), the cancel-key table (cancel.ts), the connection counters
 * (limits.ts) and the upstream pools (upstream-pool.ts). They reach
 * client.ts and auth.ts through the session context.
 *
 * Stop (`close`): the listener stops accepting at once (new connection
 * attempts are refused). With `drainMs` > 0 every session ends at its next
 * quiet point (client.ts `drain`: idle sessions at once, busy ones right
 * after the ReadyForQuery that ends their work) and whatever is left at the
 * deadline is terminated; without it, every session is terminated at once.
 * Terminated sessions get FATAL 57P01. The pools close last.
 */
import net from 'node:net';
import type { QueryAuditQueue } from '../audit/query-audit-queue.js';
import type { BindAddress, CleartextPasswordMode } from '../config/index.js';
import type { Logger } from '../log.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { AuthThrottle } from './auth-throttle.js';
import type { AuthContext } from './auth.js';
import { CancelRegistry } from './cancel.js';
import { ClientSession, type SessionContext } from './client.js';
import { ConnectionLimits } from './limits.js';
import { loadProxyTls, type ProxyTls, type ProxyTlsOptions } from './tls.js';
import { UpstreamPools } from './upstream-pools.js';
import { loadSessionAccess } from './session-access.js';
import { SessionRegistry } from './session-registry.js';
import type { ChangeFeed } from '../store/change-feed.js';

export interface ProxyServerOptions {
  bind: BindAddress;
  store: Store;
  cipher: SecretCipher;
  logger: Logger;
  audit?: QueryAuditQueue;
  /** 0 disables the idle timeout. */
  idleTimeoutSecs: number;
  throttle?: AuthThrottle;
  maxMessageLength?: number;
  /** Absent: no TLS (SSLRequest → 'N'). The runtime always passes it (generated certificate by default). */
  tls?: ProxyTlsOptions | undefined;
  /** 0 or absent = unlimited. */
  maxConnections?: number;
  /** 0 or absent = unlimited. */
  maxConnectionsPerUser?: number;
  /** Injected by tests; one per server otherwise. */
  cancel?: CancelRegistry;
  /** Cleartext password authentication besides SCRAM (ROWGATE_CLEARTEXT_PASSWORD); default 'off'. */
  cleartextPassword?: CleartextPasswordMode;
  /** Committed admin changes (this process and the other replicas); absent: this process's commits only. */
  changes?: ChangeFeed | undefined;
  /** Most upstream connections per data source (ROWGATE_UPSTREAM_POOL_SIZE); absent = unlimited. */
  upstreamPoolSize?: number;
  /** Seconds a clean upstream connection is kept for reuse (ROWGATE_UPSTREAM_POOL_IDLE_SECS); default 60, 0 = none. */
  upstreamPoolIdleSecs?: number;
  /** How long a session waits for a connection when its pool is full; default 10 s. */
  upstreamAcquireTimeoutMs?: number;
}

export interface CloseOptions {
  /** Let running statements finish for up to this many ms (see the header); default 0. */
  drainMs?: number;
}

export interface ProxyServer {
  /** The port actually bound (resolved when 0 was asked). */
  port: number;
  host: string;
  /** Number of live sessions. */
  readonly sessions: number;
  readonly tls: ProxyTls | undefined;
  /** The cancel-key table sessions register their BackendKeyData in. */
  readonly cancel: CancelRegistry;
  /** The upstream connection pools. */
  readonly pools: UpstreamPools;
  /** Stops accepting, ends every session (draining first if asked), resolves once all ended. */
  close(options?: CloseOptions): Promise<void>;
}

/** Starts listening; rejects with the listen error (the caller turns it into a bind error). */
export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const tls = options.tls ? await loadProxyTls(options.tls, options.logger) : undefined;
  const cancel = options.cancel ?? new CancelRegistry(options.logger);
  const limits = new ConnectionLimits({
    maxConnections: options.maxConnections ?? 0,
    maxConnectionsPerUser: options.maxConnectionsPerUser ?? 0,
  });
  const pools = new UpstreamPools({
    maxSize: options.upstreamPoolSize ?? Number.POSITIVE_INFINITY,
    idleSecs: options.upstreamPoolIdleSecs ?? 60,
    ...(options.upstreamAcquireTimeoutMs ? { acquireTimeoutMs: options.upstreamAcquireTimeoutMs } : {}),
    logger: options.logger,
  });
  // Open sessions follow admin changes: new policy sets before their next statement, lost access ends them.
  const sessions = new SessionRegistry(
    (userId, dataSourceId) => loadSessionAccess(options.store, options.cipher, userId, { id: dataSourceId }),
    options.logger,
  );
  const unfollow = sessions.follow(options.changes ?? options.store);
  // auth.ts reads tls / cancel / limits from the same object client.ts hands it.
  const ctx: SessionContext & AuthContext = {
    store: options.store,
    cipher: options.cipher,
    logger: options.logger,
    audit: options.audit,
    throttle: options.throttle ?? new AuthThrottle(),
    idleTimeoutSecs: options.idleTimeoutSecs,
    ...(options.maxMessageLength ? { maxMessageLength: options.maxMessageLength } : {}),
    tls,
    cancel,
    limits,
    cleartextPassword: options.cleartextPassword ?? 'off',
    pools,
    sessions,
  };
  const live = new Map<ClientSession, Promise<void>>();
  let lastCapWarning = 0;
  const server = net.createServer((socket) => {
    const session = new ClientSession(socket, ctx);
    if (!limits.open(session.conn)) {
      // Past the hard cap even start-up is refused: the socket closes before any byte is read.
      socket.destroy();
      const now = Date.now();
      if (now - lastCapWarning > 60_000) {
        lastCapWarning = now;
        options.logger.warn(
          { refused: limits.refusedAtStartup },
          'start-up cap reached: sockets closed unread',
        );
      }
      return;
    }
    const done = session.run().finally(() => {
      live.delete(session);
      limits.release(session.conn);
      cancel.releaseOwner(session);
    });
    live.set(session, done);
  });
  server.on('error', (err) => options.logger.error({ err }, 'proxy listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.bind.host, port: options.bind.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.bind.port;
  let closing: Promise<void> | undefined;
  return {
    port,
    host: options.bind.host,
    get sessions() {
      return live.size;
    },
    tls,
    cancel,
    pools,
    close(closeOptions = {}) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        unfollow();
        const drainMs = closeOptions.drainMs ?? 0;
        if (drainMs > 0 && live.size > 0) {
          options.logger.info({ sessions: live.size, drainMs }, 'draining proxy sessions');
          for (const session of live.keys()) session.drain();
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, drainMs)));
          await Promise.race([Promise.all([...live.values()]), deadline]);
          clearTimeout(timer);
          if (live.size > 0)
            options.logger.warn({ sessions: live.size }, 'terminating sessions still running');
        }
        for (const session of live.keys()) session.terminate();
        await Promise.all([...live.values()]);
        await stopped;
        pools.close();
      })();
      return closing;
    },
  };
}
