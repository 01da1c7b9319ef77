/**
 * Query cancellation. Each session gets its own BackendKeyData (a process
 * id unique among live sessions and a random 32-bit secret) — never the
 * upstream's keys, which would let a client cancel other tenants' backends
 * directly at the upstream (threat model V117). A CancelRequest on the
 * proxy port is matched against this table and, when the secret matches,
 * turned into a CancelRequest for the session's upstream backend, sent over
 * a fresh connection to the same host and port with the same sslmode.
 *
 * As in PostgreSQL, nothing is ever answered to the cancel connection, and a
 * wrong key is indistinguishable from a right one on the wire.
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import type { Logger } from '../log.js';
import { Writer } from './buffer.js';
import { CANCEL_REQUEST_CODE } from './frames.js';
import { negotiateTls, type UpstreamSettings } from './upstream.js';

export interface CancelTarget {
  /** Where the session's upstream backend runs (host, port, sslmode are used). */
  upstream: Pick<UpstreamSettings, 'host' | 'port' | 'sslmode'>;
  /** The upstream's own BackendKeyData; absent when the upstream sent none (nothing to cancel). */
  backendKey: { processId: number; secretKey: number } | undefined;
}

export interface CancelKey {
  processId: number;
  secretKey: number;
}

interface Entry {
  secret: Buffer;
  owner: object;
  target: CancelTarget;
}

const CANCEL_TIMEOUT_MS = 5_000;

export class CancelRegistry {
  private readonly entries = new Map<number, Entry>();

  constructor(private readonly logger?: Logger) {}

  /** Number of registered sessions (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  has(processId: number): boolean {
    return this.entries.has(processId);
  }

  /**
   * Issues the key a session announces in BackendKeyData. `owner` is the
   * session object; `releaseOwner(owner)` drops its key when it ends.
   */
  register(owner: object, target: CancelTarget): CancelKey {
    let processId: number;
    do processId = randomInt(1, 0x7fffffff);
    while (this.entries.has(processId));
    const secret = randomBytes(4);
    this.entries.set(processId, { secret, owner, target });
    return { processId, secretKey: secret.readInt32BE(0) };
  }

  releaseOwner(owner: object): void {
    for (const [pid, entry] of this.entries) if (entry.owner === owner) this.entries.delete(pid);
  }

  /**
   * Handles a CancelRequest: true when the key matched and the upstream was
   * asked to cancel. Never throws; upstream failures are logged.
   */
  async cancel(processId: number, secretKey: number): Promise<boolean> {
    const entry = this.entries.get(processId);
    const given = Buffer.alloc(4);
    given.writeInt32BE(secretKey | 0, 0);
    // Compared in constant time even for an unknown pid, so timing tells nothing about the secret.
    const expected = entry?.secret ?? Buffer.alloc(4);
    if (!timingSafeEqual(given, expected) || !entry?.target.backendKey) return false;
    try {
      await sendUpstreamCancel(entry.target.upstream, entry.target.backendKey);
      return true;
    } catch (err) {
      this.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, 'upstream cancel failed');
      return false;
    }
  }
}

export function cancelRequest(key: CancelKey): Buffer {
  return new Writer().int32(CANCEL_REQUEST_CODE).int32(key.processId).int32(key.secretKey).message(null);
}

/** One CancelRequest over a new upstream connection; resolves once the upstream closed it. */
export async function sendUpstreamCancel(upstream: CancelTarget['upstream'], key: CancelKey): Promise<void> {
  const raw = net.connect({ host: upstream.host, port: upstream.port });
  let socket: net.Socket = raw;
  const timer = setTimeout(
    () => socket.destroy(new Error('timeout sending the upstream cancel')),
    CANCEL_TIMEOUT_MS,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      raw.once('connect', resolve);
      raw.once('error', reject);
    });
    if (upstream.sslmode !== 'disable') {
      socket = await negotiateTls(raw, {
        ...upstream,
        database: '',
        username: '',
        password: '',
      });
    }
    const closed = new Promise<void>((resolve, reject) => {
      socket.once('close', () => resolve());
      socket.once('error', reject);
    });
    socket.resume(); // PostgreSQL answers nothing; drain whatever comes so 'close' fires
    socket.write(cancelRequest(key));
    await closed;
  } finally {
    clearTimeout(timer);
    socket.destroy();
    raw.destroy();
  }
}
