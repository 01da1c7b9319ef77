/**
 * A session's checkout of its upstream connection: the data source's pool
 * (upstream-pools.ts), a wait the client can end by leaving, and — when no
 * connection can be had — the PostgreSQL-style FATAL the client gets
 * instead. The upstream's own words (role names, hosts, auth failures) go to
 * the log and the admin-only query audit (`onRefused`); the client learns
 * nothing about the upstream.
 */
import type { ClientConnection } from './connection.js';
import type { Logger } from '../log.js';
import type { DataSourceConnection } from '../store/repos/datasource-config.js';
import { PoolClosed, PoolExhausted, type UpstreamPool } from './upstream-pool.js';
import type { UpstreamPools } from './upstream-pools.js';
import { UpstreamConnectError, type UpstreamConnection } from './upstream.js';

export interface CheckedOut {
  conn: UpstreamConnection;
  pool: UpstreamPool;
}

/**
 * Null when the client got a FATAL (or left); `stop` aborts the wait (the
 * session ends it when the client's socket closes or on shutdown).
 */
export async function checkOutUpstream(
  pools: UpstreamPools,
  ds: DataSourceConnection,
  client: ClientConnection,
  stop: AbortSignal,
  logger: Logger,
  /** Told what the client was sent and why, for the audit of refused connections. */
  onRefused?: (message: string, reason: string) => void,
): Promise<CheckedOut | null> {
  try {
    const pool = pools.for({
      host: ds.host,
      port: ds.port,
      database: ds.database,
      username: ds.username,
      password: ds.password,
      sslmode: ds.sslmode,
    });
    return { conn: await pool.acquire(stop), pool };
  } catch (err) {
    if (!client.isClosed) {
      const { message, reason } = refuse(client, ds.name, err, logger);
      onRefused?.(message, reason);
    }
    return null;
  }
}

/** Sends the FATAL; returns its message and the internal reason. */
function refuse(
  client: ClientConnection,
  dataSource: string,
  err: unknown,
  logger: Logger,
): { message: string; reason: string } {
  const send = (code: string, message: string, reason: string) => {
    client.fatal({ severity: 'FATAL', code, message });
    return { message, reason };
  };
  if (err instanceof PoolExhausted) {
    logger.warn({ dataSource }, 'upstream pool exhausted');
    // PostgreSQL's wording for a database at its connection limit (datconnlimit).
    return send('53300', `too many connections for database "${dataSource}"`, 'upstream pool full');
  }
  if (err instanceof PoolClosed) {
    return send('57P03', 'the database system is shutting down', 'proxy shutting down');
  }
  const reason = err instanceof UpstreamConnectError ? err.message : String(err);
  logger.warn({ dataSource, reason }, 'upstream connection failed');
  return send('08006', 'could not connect to the upstream server', `upstream: ${reason}`);
}
