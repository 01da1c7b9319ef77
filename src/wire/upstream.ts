/**
 * The upstream side: a raw protocol 3.0 client that opens one connection to
 * the data source's PostgreSQL (the pool, upstream-pool.ts, decides when).
 * It negotiates TLS as the data source's sslmode says, answers whichever
 * password authentication the server asks for (SCRAM-SHA-256, md5,
 * cleartext), pins `default_transaction_read_only=on` through the startup
 * options (so `DISCARD ALL`/`RESET ALL` return to it: startup options are
 * the reset values), and stops at the first ReadyForQuery. From then on
 * whoever checked the connection out owns the socket and the frame reader
 * (which may already hold bytes).
 *
 * The upstream's ParameterStatus values and BackendKeyData are kept here for
 * the proxy's own use only; they are never forwarded (threat model V117).
 * The frame reader remembers the last "terminating connection" message the
 * upstream sent (FATAL, or the WARNING of an immediate shutdown), so the
 * session can tell the client why the connection ended (57P01 vs 08006).
 */
import { DEFAULT_SETTINGS_LIMITS } from '../sql/settings.js';
import { isIP } from 'node:net';
import net from 'node:net';
import tls from 'node:tls';
import type { SslMode } from '../store/repos/datasource-config.js';
import { BufferReader } from './buffer.js';
import { type Frame, FrameReader } from './frames.js';
import * as fe from './frontend.js';
import { md5Password, ScramClient } from './scram-client.js';

export interface UpstreamSettings {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  sslmode: SslMode;
  applicationName?: string;
  connectTimeoutMs?: number;
}

export type UpstreamSocket = net.Socket | tls.TLSSocket;

/** A FrameReader that notes why the upstream is about to close the connection. */
export class UpstreamFrameReader extends FrameReader {
  /** Fields of the last FATAL error, or of a 57Pxx shutdown warning, seen on this connection. */
  lastFatal: Map<string, string> | undefined;

  override next(): Frame | null {
    const frame = super.next();
    if (frame && (frame.type === 'E' || frame.type === 'N')) this.watch(frame);
    return frame;
  }

  private watch(frame: Frame): void {
    let fields: Map<string, string>;
    try {
      fields = parseNoticeFields(frame.body);
    } catch {
      return; // malformed: the consumer of the frame deals with it
    }
    const severity = fields.get('V') ?? fields.get('S');
    // An immediate shutdown only sends a WARNING (57P01) before the backend exits.
    if (severity === 'FATAL' || (fields.get('C') ?? '').startsWith('57P')) this.lastFatal = fields;
  }
}

export interface UpstreamConnection {
  socket: UpstreamSocket;
  /** Holds any bytes received after the first ReadyForQuery. */
  reader: UpstreamFrameReader;
  parameters: Map<string, string>;
  /** The upstream backend's BackendKeyData: what a CancelRequest for this session must carry. */
  backendKey?: { processId: number; secretKey: number } | undefined;
}

/** Error / notice fields by their one-letter code (S, V, C, M, D, H, P, …). */
export function parseNoticeFields(body: Buffer): Map<string, string> {
  const r = new BufferReader(body);
  const fields = new Map<string, string>();
  for (let code = r.byte(); code !== 0; code = r.byte()) fields.set(String.fromCharCode(code), r.cstring());
  return fields;
}

/** A failed connection attempt; `fields` when the upstream itself answered with an ErrorResponse. */
export class UpstreamConnectError extends Error {
  override readonly name = 'UpstreamConnectError';
  constructor(
    message: string,
    readonly fields?: Map<string, string>,
  ) {
    super(message);
  }
}

export async function connectUpstream(settings: UpstreamSettings): Promise<UpstreamConnection> {
  const timeoutMs = settings.connectTimeoutMs ?? 10_000;
  let socket: UpstreamSocket = net.connect({ host: settings.host, port: settings.port });
  socket.setNoDelay(true);
  // For the socket's whole life, whoever owns it learns of failures from 'close', which follows
  // every error: this guard keeps an error from ever being unhandled, in any phase.
  socket.on('error', ignoreError);
  const timer = setTimeout(
    () => socket.destroy(new Error(`timeout after ${timeoutMs} ms connecting upstream`)),
    timeoutMs,
  );
  try {
    await nextEvent(socket, 'connect');
    if (settings.sslmode !== 'disable') {
      const secured = await negotiateTls(socket, settings);
      if (secured !== socket) secured.on('error', ignoreError);
      socket = secured;
    }
    return await startup(socket, settings);
  } catch (err) {
    socket.destroy();
    if (err instanceof UpstreamConnectError) throw err;
    throw new UpstreamConnectError(err instanceof Error ? err.message : String(err));
  } finally {
    clearTimeout(timer);
  }
}

/** SSLRequest and handshake as `sslmode` says (also used for upstream CancelRequests, cancel.ts). */
export async function negotiateTls(socket: net.Socket, settings: UpstreamSettings): Promise<UpstreamSocket> {
  socket.write(fe.sslRequest());
  const answer = await nextEvent<Buffer>(socket, 'data', 'upstream closed during SSL negotiation');
  // More than one byte would be data injected before the handshake (CVE-2021-23214).
  if (answer.length !== 1) throw new Error('unexpected data after the upstream SSL response');
  if (answer[0] !== 0x53 /* S */) {
    if (settings.sslmode === 'prefer') return socket;
    throw new Error('upstream server does not support SSL, but sslmode requires it');
  }
  const verify = settings.sslmode === 'verify-full';
  const secure = tls.connect({
    socket,
    rejectUnauthorized: verify,
    ...(isIP(settings.host) === 0 ? { servername: settings.host } : {}),
  });
  await nextEvent(secure, 'secureConnect');
  return secure;
}

const ignoreError = (): void => undefined;

/**
 * The next `event` (its first argument); rejects on 'error', or on 'close'
 * with `closedMessage`. Removes its listeners either way: a pooled socket
 * lives long, and nothing of its start-up may stay attached.
 */
function nextEvent<T = void>(socket: net.Socket, event: string, closedMessage?: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const done = () => {
      socket.off(event, onEvent).off('error', onError).off('close', onClose);
    };
    const onEvent = (value: T) => {
      done();
      resolve(value);
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => onError(new Error(closedMessage ?? 'upstream closed the connection'));
    socket.on(event, onEvent).on('error', onError);
    if (closedMessage) socket.on('close', onClose);
  });
}

/**
 * Pinned as the connection's defaults, so DISCARD ALL and RESET return to
 * them: read-only, and the timeouts the proxy shows a new session (their caps).
 * A client may lower a timeout (SET, checked by settings.ts), never lift it.
 * JIT is off: the filtered catalog subqueries are cheap to run but estimated
 * expensive, and JIT compilation made single catalog queries take seconds
 * (information_schema.element_types 3–11 s on PostgreSQL 15, 0.12 s without).
 */
const UPSTREAM_SESSION_OPTIONS = [
  '-c default_transaction_read_only=on',
  '-c jit=off',
  `-c statement_timeout=${DEFAULT_SETTINGS_LIMITS.maxStatementTimeoutMs}`,
  `-c lock_timeout=${DEFAULT_SETTINGS_LIMITS.maxLockTimeoutMs}`,
  `-c idle_in_transaction_session_timeout=${DEFAULT_SETTINGS_LIMITS.maxIdleInTransactionSessionTimeoutMs}`,
].join(' ');

async function startup(socket: UpstreamSocket, settings: UpstreamSettings): Promise<UpstreamConnection> {
  const reader = new UpstreamFrameReader();
  const frames = frameQueue(socket, reader);
  socket.write(
    fe.startupMessage({
      user: settings.username,
      database: settings.database,
      client_encoding: 'UTF8',
      application_name: settings.applicationName ?? 'rowgate',
      options: UPSTREAM_SESSION_OPTIONS,
    }),
  );
  const parameters = new Map<string, string>();
  let backendKey: UpstreamConnection['backendKey'];
  let scram: ScramClient | undefined;
  try {
    for (;;) {
      const frame = await frames.next();
      const r = new BufferReader(frame.body);
      switch (frame.type) {
        case 'R': {
          const kind = r.int32();
          if (kind === 0) break;
          if (kind === 3) socket.write(fe.passwordMessage(settings.password));
          else if (kind === 5)
            socket.write(fe.passwordMessage(md5Password(settings.username, settings.password, r.bytes(4))));
          else if (kind === 10) {
            const mechanisms: string[] = [];
            for (let m = r.cstring(); m !== ''; m = r.cstring()) mechanisms.push(m);
            if (!mechanisms.includes('SCRAM-SHA-256'))
              throw new Error('upstream offers no supported SASL mechanism');
            scram = new ScramClient(settings.password);
            socket.write(fe.saslInitialResponse('SCRAM-SHA-256', scram.first()));
          } else if (kind === 11 && scram)
            socket.write(fe.saslResponse(scram.final(r.rest().toString('utf8'))));
          else if (kind === 12 && scram) scram.verify(r.rest().toString('utf8'));
          else throw new Error(`unsupported upstream authentication request ${kind}`);
          break;
        }
        case 'S':
          parameters.set(r.cstring(), r.cstring());
          break;
        case 'E': {
          const fields = parseNoticeFields(frame.body);
          throw new UpstreamConnectError(fields.get('M') ?? 'upstream error', fields);
        }
        case 'K':
          backendKey = { processId: r.int32(), secretKey: r.int32() };
          break;
        case 'Z':
          return { socket, reader, parameters, backendKey };
        default: // NoticeResponse, NegotiateProtocolVersion: nothing to act on
          break;
      }
    }
  } finally {
    frames.detach();
  }
}

/** Awaitable frames from a socket during startup; `detach` hands the socket back. */
function frameQueue(socket: UpstreamSocket, reader: FrameReader) {
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const notify = () => wake?.();
  const onData = (chunk: Buffer) => {
    reader.push(chunk);
    notify();
  };
  const onError = (err: Error) => {
    failure = err;
    notify();
  };
  const onClose = () => onError(new Error('upstream closed the connection during startup'));
  socket.on('data', onData).on('error', onError).on('close', onClose);
  return {
    async next(): Promise<Frame> {
      for (;;) {
        const frame = reader.next();
        if (frame) return frame;
        if (failure) throw failure;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    detach(): void {
      // Paused until the owner attaches its own listeners, so no byte is lost in between.
      socket.pause();
      socket.off('data', onData).off('error', onError).off('close', onClose);
    },
  };
}
