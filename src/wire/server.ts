/**
 * The data plane's listener (pgbouncer's "pooler" role, minus the pool):
 * accepts TCP connections on ROWGATE_PROXY_BIND_ADDR, runs one ClientSession
 * per connection, and on stop terminates every session with FATAL 57P01
 * before closing. A failing socket only ever ends its own session.
 *
 * Process-wide state shared by the sessions lives here: the TLS context
 * (tls.ts), the cancel-key table (cancel.ts) and the connection counters
 * (limits.ts). They reach auth.ts through the session context.
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
  /** Stops accepting, terminates every session, resolves once all sessions ended. */
  close(): Promise<void>;
}

/** Starts listening; rejects with the listen error (the caller turns it into a bind error). */
export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const tls = options.tls ? await loadProxyTls(options.tls, options.logger) : undefined;
  const cancel = options.cancel ?? new CancelRegistry(options.logger);
  const limits = new ConnectionLimits({
    maxConnections: options.maxConnections ?? 0,
    maxConnectionsPerUser: options.maxConnectionsPerUser ?? 0,
  });
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
  };
  const live = new Map<ClientSession, Promise<void>>();
  const server = net.createServer((socket) => {
    const session = new ClientSession(socket, ctx);
    if (!limits.open(session.conn)) {
      // Past the hard cap even start-up is refused: the socket closes before any byte is read.
      socket.destroy();
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
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const session of live.keys()) session.terminate();
        await Promise.all([...live.values()]);
        await stopped;
      })();
      return closing;
    },
  };
}
