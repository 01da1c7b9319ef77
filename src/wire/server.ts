/**
 * The data plane's listener (pgbouncer's "pooler" role, minus the pool):
 * accepts TCP connections on ROWGATE_PROXY_BIND_ADDR, runs one ClientSession
 * per connection, and on stop terminates every session with FATAL 57P01
 * before closing. A failing socket only ever ends its own session.
 */
import net from 'node:net';
import type { QueryAuditQueue } from '../audit/query-audit-queue.js';
import type { BindAddress } from '../config/index.js';
import type { Logger } from '../log.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { AuthThrottle } from './auth-throttle.js';
import { ClientSession, type SessionContext } from './client.js';

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
}

export interface ProxyServer {
  /** The port actually bound (resolved when 0 was asked). */
  port: number;
  host: string;
  /** Number of live sessions. */
  readonly sessions: number;
  /** Stops accepting, terminates every session, resolves once all sessions ended. */
  close(): Promise<void>;
}

/** Starts listening; rejects with the listen error (the caller turns it into a bind error). */
export async function startProxyServer(options: ProxyServerOptions): Promise<ProxyServer> {
  const ctx: SessionContext = {
    store: options.store,
    cipher: options.cipher,
    logger: options.logger,
    audit: options.audit,
    throttle: options.throttle ?? new AuthThrottle(),
    idleTimeoutSecs: options.idleTimeoutSecs,
    ...(options.maxMessageLength ? { maxMessageLength: options.maxMessageLength } : {}),
  };
  const live = new Map<ClientSession, Promise<void>>();
  const server = net.createServer((socket) => {
    const session = new ClientSession(socket, ctx);
    const done = session.run().finally(() => live.delete(session));
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
