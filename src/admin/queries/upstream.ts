/**
 * Short-lived upstream connections for the admin routes that talk to a data
 * source's database directly: `POST /datasources/{id}/test` (§4.5) and
 * `GET /datasources/{id}/fk-suggestions` (§4.9).
 *
 * They reuse the discovery jobs' connection code (sslmode handling,
 * timeouts, and failure texts that never carry the password, detail or hint).
 * Stored settings that do not decode (only possible for rows written before
 * config validation existed, or after the encryption key changed) are a 500
 * with the decoder's message, as in BR (`missing port in config`); those
 * messages name a field, never a value.
 */
import type pg from 'pg';
import type { Logger } from '../../log.js';
import type { SecretCipher } from '../../secrets/cipher.js';
import type { Store } from '../../store/db.js';
import { NotFoundError } from '../../store/repo-errors.js';
import { getDataSourceConnection, type DataSourceConnection } from '../../store/repos/datasource-config.js';
import {
  connectUpstream,
  DEFAULT_UPSTREAM_TIMEOUTS,
  JobFailure,
  type UpstreamTimeouts,
} from '../../catalog/job-upstream.js';
import { ApiError } from '../errors.js';

export interface UpstreamAccess {
  store: Store;
  cipher: SecretCipher;
  logger: Logger;
  timeouts?: Partial<UpstreamTimeouts> | undefined;
}

/** The decoder's own messages, safe to show (they name a field, never a value). */
const SAFE_DECODE_ERROR = /^(missing \w+ in config|cannot decrypt secret: .*)$/;

/** Decrypted settings; 404 DS when the data source does not exist, 500 when they do not decode. */
export async function connectionSettings(
  access: UpstreamAccess,
  dataSourceId: string,
): Promise<DataSourceConnection> {
  try {
    return await getDataSourceConnection(access.store.db, access.cipher, { id: dataSourceId });
  } catch (error) {
    if (error instanceof NotFoundError) throw error;
    const message = (error as Error).message ?? '';
    if (SAFE_DECODE_ERROR.test(message)) throw new ApiError(500, message);
    throw error;
  }
}

/**
 * Connects, runs `work`, disconnects. A connection failure is a JobFailure
 * whose message (`Connection error: …`) is safe to show.
 */
export async function withUpstream<T>(
  access: UpstreamAccess,
  settings: DataSourceConnection,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const timeouts = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...access.timeouts };
  const client = await connectUpstream(settings, timeouts, access.logger);
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The safe text of a connection or query failure, without the `Connection error: ` prefix. */
export function connectionProblem(error: unknown): string | undefined {
  if (!(error instanceof JobFailure)) return undefined;
  return error.message.replace(/^Connection error: /, '');
}
