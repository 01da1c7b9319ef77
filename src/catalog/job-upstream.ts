/**
 * The upstream connection of a discovery job (api-contract §8.1) and the
 * translation of its failures into the job's public error text.
 *
 * TLS follows the data source's sslmode: `disable` → none, `prefer` → TLS
 * when the server offers it, `require` → TLS without certificate checks (as
 * BR), `verify-full` → TLS with certificate and host-name checks. Timeouts:
 * 30 s to connect, 60 s per statement (server-side statement_timeout plus a
 * client-side bound in case the server stops answering).
 *
 * Failure texts start with `Connection error: ` or `Query error: ` (§8.1).
 * They carry a short description, and for errors the upstream server raised
 * its primary message and SQLSTATE — never detail, hint, internal query,
 * driver stack or connection secrets. Anything unrecognised becomes a
 * generic text; the full error goes to the log only.
 */
import { isIP } from 'node:net';
import pg from 'pg';
import type { Logger } from '../log.js';
import type { DataSourceConnection } from '../store/repos/datasource-config.js';

/** The job was cancelled while its connection attempt was pending. */
export class JobCancelledWhileConnecting extends Error {
  override readonly name = 'JobCancelledWhileConnecting';
}

/** A failure whose message is safe to show in the job object and the SSE stream. */
export class JobFailure extends Error {
  override readonly name = 'JobFailure';
}

export interface UpstreamTimeouts {
  connectMs: number;
  statementMs: number;
}

export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = { connectMs: 30_000, statementMs: 60_000 };

const NO_SSL = /does not support SSL/i;

export async function connectUpstream(
  ds: DataSourceConnection,
  timeouts: UpstreamTimeouts,
  logger: Logger,
  signal?: AbortSignal,
): Promise<pg.Client> {
  const where = `${ds.host}:${ds.port}`;
  const attempt = async (ssl: pg.ClientConfig['ssl']): Promise<pg.Client> => {
    const client = new pg.Client({
      host: ds.host,
      port: ds.port,
      database: ds.database,
      user: ds.username,
      password: ds.password,
      ssl,
      connectionTimeoutMillis: timeouts.connectMs,
      statement_timeout: timeouts.statementMs,
      query_timeout: timeouts.statementMs + 5_000,
      application_name: 'rowgate-discovery',
    });
    // An upstream that drops the connection mid-job emits 'error'; without a listener it would crash the process.
    client.on('error', (error) =>
      logger.debug({ err: error.message }, 'discovery: upstream connection error'),
    );
    // Cancelling the job must not wait for a connect that hangs (a server that
    // accepts and never answers): stop waiting at once; the abandoned attempt
    // ends by itself at the connect timeout.
    let onAbort = () => undefined as void;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(new JobCancelledWhileConnecting());
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    aborted.catch(() => undefined);
    const connecting = client.connect();
    try {
      await Promise.race([connecting, aborted]);
      return client;
    } catch (error) {
      connecting.then(() => client.end()).catch(() => undefined);
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };
  const verified = { rejectUnauthorized: true, ...(isIP(ds.host) === 0 ? { servername: ds.host } : {}) };
  try {
    switch (ds.sslmode) {
      case 'disable':
        return await attempt(false);
      case 'prefer':
        try {
          return await attempt({ rejectUnauthorized: false });
        } catch (error) {
          if (!NO_SSL.test((error as Error).message)) throw error;
          return await attempt(false);
        }
      case 'verify-full':
        return await attempt(verified);
      default:
        return await attempt({ rejectUnauthorized: false });
    }
  } catch (error) {
    if (error instanceof JobCancelledWhileConnecting) throw error;
    logger.warn(
      { err: (error as Error).message, dataSource: ds.name },
      'discovery: upstream connection failed',
    );
    throw new JobFailure(`Connection error: ${describeConnectError(error, where, ds.sslmode, timeouts)}`);
  }
}

type ErrorLike = Error & { code?: unknown };

function isServerError(error: ErrorLike): error is ErrorLike & { code: string } {
  return error instanceof pg.DatabaseError && typeof error.code === 'string';
}

function describeConnectError(
  raw: unknown,
  where: string,
  sslmode: string,
  timeouts: UpstreamTimeouts,
): string {
  const error = raw as ErrorLike;
  if (isServerError(error)) return `${error.message} (SQLSTATE ${error.code})`;
  const code = typeof error.code === 'string' ? error.code : '';
  const message = error.message ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return `connection refused (${where})`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host not found (${where})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `host unreachable (${where})`;
    case 'ETIMEDOUT':
      return `timed out (${where})`;
    case 'ECONNRESET':
      return `connection reset by the server (${where})`;
  }
  if (NO_SSL.test(message)) return `the server does not support SSL, but sslmode is ${sslmode}`;
  if (/timeout/i.test(message)) return `timed out after ${timeouts.connectMs / 1000} s (${where})`;
  if (/CERT|SSL|TLS/.test(code) || /certificate/i.test(message)) {
    return `TLS certificate verification failed${code ? ` (${code})` : ''}`;
  }
  if (/terminated|closed|ended/i.test(message)) return `the server closed the connection (${where})`;
  return `could not connect (${where})`;
}

/** A failed upstream query as a JobFailure (`Query error: …`); JobFailures pass through. */
export function queryFailure(raw: unknown, logger: Logger): JobFailure {
  if (raw instanceof JobFailure) return raw;
  const error = raw as ErrorLike;
  logger.warn({ err: error?.message }, 'discovery: upstream query failed');
  if (isServerError(error)) return new JobFailure(`Query error: ${error.message} (SQLSTATE ${error.code})`);
  const message = error?.message ?? '';
  if (/timeout/i.test(message)) return new JobFailure('Query error: the upstream did not answer in time');
  if (/terminated|closed|ended|ECONNRESET/i.test(message)) {
    return new JobFailure('Query error: the upstream connection was lost');
  }
  return new JobFailure('Query error: unexpected failure while reading the upstream catalog');
}
