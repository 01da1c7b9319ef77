/**
 * The proxy's own exchanges on an upstream connection that no session holds:
 * the pool's reset before a connection goes idle (`resetConnection`), and
 * small queries whose text answers the proxy reads itself (`controlQuery`,
 * used by tests to look at a pooled backend). Nothing here reaches a client.
 *
 * Listeners are attached for the exchange only and removed afterwards, so a
 * connection passes from session to pool to session without piling them up.
 * ParameterStatus messages update the connection's `parameters` (a reset
 * reports every GUC_REPORT value it changes back).
 */
import type { TransactionStatus } from './backend.js';
import { BufferReader } from './buffer.js';
import * as fe from './frontend.js';
import { parseNoticeFields, type UpstreamConnection } from './upstream.js';

export interface ControlResult {
  /** Transaction status of each ReadyForQuery, in order. */
  statuses: TransactionStatus[];
  /** DataRow values as text (NULL as null). */
  rows: (string | null)[][];
  /** The first ErrorResponse's fields, if any. */
  error?: Map<string, string>;
}

/**
 * Writes `payload` and reads until `readies` ReadyForQuery messages arrived.
 * Rejects when the connection closes, a frame is malformed, or `timeoutMs`
 * passes; the caller then destroys the connection (its state is unknown).
 */
export function controlExchange(
  conn: UpstreamConnection,
  payload: Buffer,
  readies: number,
  timeoutMs: number,
): Promise<ControlResult> {
  const { socket, reader } = conn;
  const result: ControlResult = { statuses: [], rows: [] };
  return new Promise<ControlResult>((resolve, reject) => {
    let finished = false;
    const finish = (err?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.off('data', onData).off('close', onClose);
      if (err) reject(err);
      else resolve(result);
    };
    const pump = () => {
      try {
        for (let f = reader.next(); f; f = reader.next()) {
          const r = new BufferReader(f.body);
          if (f.type === 'Z') {
            result.statuses.push(String.fromCharCode(f.body[0] ?? 0) as TransactionStatus);
            if (result.statuses.length === readies) {
              // Anything after the last ReadyForQuery belongs to no one: the connection is unusable.
              finish(
                reader.pending > 0 ? new Error('unexpected upstream data after ReadyForQuery') : undefined,
              );
              return;
            }
          } else if (f.type === 'E') result.error ??= parseNoticeFields(f.body);
          else if (f.type === 'S') conn.parameters.set(r.cstring(), r.cstring());
          else if (f.type === 'D') {
            const row: (string | null)[] = [];
            for (let n = r.int16(); n > 0; n--) {
              const len = r.int32();
              row.push(len < 0 ? null : r.bytes(len).toString('utf8'));
            }
            result.rows.push(row);
          }
        }
      } catch (err) {
        finish(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const onData = (chunk: Buffer) => {
      reader.push(chunk);
      pump();
    };
    const onClose = () => finish(new Error('upstream closed the connection'));
    const timer = setTimeout(
      () => finish(new Error(`no answer from upstream in ${timeoutMs} ms`)),
      timeoutMs,
    );
    if (socket.destroyed) return finish(new Error('upstream connection is closed'));
    socket.on('data', onData).on('close', onClose);
    socket.resume();
    socket.write(payload);
    pump(); // frames already buffered
  });
}

/** One simple query; its result rows as text. */
export function controlQuery(
  conn: UpstreamConnection,
  sql: string,
  timeoutMs = 5000,
): Promise<ControlResult> {
  return controlExchange(conn, fe.query(sql), 1, timeoutMs);
}

/**
 * Returns a connection to its state right after start-up: a Sync first (it
 * ends an extended-protocol batch the session left unsynced, and makes the
 * upstream stop skipping after an error), then `DISCARD ALL` (settings back
 * to the startup values, prepared statements, portals and cursors, temp
 * tables, advisory locks, LISTENs and plan caches dropped). DISCARD ALL
 * refuses to run inside a transaction block, so a session that left one open
 * fails the reset. True only when both answers came back clean, in 'I'.
 */
export async function resetConnection(conn: UpstreamConnection, timeoutMs: number): Promise<boolean> {
  const r = await controlExchange(conn, Buffer.concat([fe.sync(), fe.query('DISCARD ALL')]), 2, timeoutMs);
  return r.error === undefined && r.statuses.every((s) => s === 'I');
}
