/**
 * The upstream half of a session (pgbouncer's "server"): sends one simple
 * Query and relays the backend messages to the client as the bytes
 * received, until ReadyForQuery. It decodes only what the proxy acts on:
 *
 *  RowDescription   table OID and column number zeroed in place (V146): the
 *                   secured subquery's numbering would reveal hidden columns
 *  ErrorResponse,   raw fields kept for the audit; the client gets a
 *  NoticeResponse   rebuilt message (sanitize.ts): upstream ran the
 *                   rewritten text, whose names and positions are not the
 *                   user's to see (V116)
 *  CommandComplete  tags kept (audit, transaction end)
 *  ReadyForQuery    transaction status; forwarded only when the caller asks
 *  ParameterStatus, BackendKeyData   dropped: the proxy reports its own (V117)
 *
 * Backpressure both ways: when the client socket's buffer is full the
 * upstream socket is paused until 'drain', so a large result never
 * accumulates in memory; `upstreamWritable()` lets the session stop reading
 * client messages while the upstream socket's buffer is full.
 *
 * The connection is pooled (upstream-pool.ts), so the relay only borrows
 * the socket: `detach()` removes every listener it added (on both sockets)
 * and says whether the connection is left at a message boundary. If the
 * client goes away while something is in flight, the upstream connection
 * is destroyed: a paused result would otherwise never finish.
 */
import { batchedWrite } from './batched-write.js';
import type net from 'node:net';
import type { TransactionStatus } from './backend.js';
import { BufferReader } from './buffer.js';
import type { Frame, FrameReader } from './frames.js';
import * as fe from './frontend.js';
import { encodeNotice, sanitizeFields } from './sanitize.js';
import { closeUpstream } from './upstream-pool.js';
import { parseNoticeFields, type UpstreamConnection } from './upstream.js';

export interface RunResult {
  status: TransactionStatus;
  /** CommandComplete tags in order (one per statement that completed). */
  tags: string[];
  /** The first ErrorResponse's fields, if any. */
  error?: Map<string, string>;
  /** DataRow count. */
  rows: number;
}

export interface RunOptions {
  /** Forward ReadyForQuery (false when more of the client's query follows). */
  forwardReady: boolean;
  /** Relay only errors and notices (the proxy answers the statement itself, e.g. SET). */
  quiet?: boolean;
  /** Relay nothing at all (the proxy's own statements, e.g. aborting a transaction). */
  silent?: boolean;
  /** The text the user sent, against which error texts are checked (sanitize.ts). */
  userSql?: string;
}

interface ActiveRun {
  options: RunOptions;
  result: RunResult;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

/** The upstream connection is gone; `fields` when it said why (e.g. FATAL 57P01). */
export class UpstreamGone extends Error {
  override readonly name = 'UpstreamGone';
  constructor(readonly fields?: Map<string, string>) {
    super('upstream connection lost');
  }
}

export interface RelayOptions {
  /** Where frames are read from; default the connection's reader (client.ts passes its demultiplexer). */
  frames?: FrameReader;
  /** True while the session has messages in flight besides a simple query (the extended pipeline). */
  inFlight?: () => boolean;
}

export class UpstreamRelay {
  private run: ActiveRun | undefined;
  private gone: UpstreamGone | undefined;
  private detached = false;
  private readonly frames: FrameReader;
  private readonly onData = (chunk: Buffer): void => {
    this.upstream.reader.push(chunk);
    this.drain();
  };
  private readonly onError = (): void => undefined; // 'close' follows and carries the consequence
  private readonly onClose = (): void => this.lost();
  private readonly onClientDrain = (): void => {
    if (!this.detached) this.upstream.socket.resume();
  };
  private readonly onClientClose = (): void => {
    // A result paused for a client that is gone would never finish: end the backend's work.
    if (this.busy) this.upstream.socket.destroy();
  };

  constructor(
    private readonly upstream: UpstreamConnection,
    private readonly client: net.Socket,
    /** Called once when the upstream connection ends outside the proxy's control. */
    private readonly onGone: (err: UpstreamGone) => void,
    private readonly options: RelayOptions = {},
  ) {
    this.frames = options.frames ?? upstream.reader;
    upstream.reader.lastFatal = undefined; // a pooled connection's past is not this session's
    const { socket } = upstream;
    socket.on('data', this.onData).on('error', this.onError).on('close', this.onClose);
    client.on('close', this.onClientClose);
    if (socket.destroyed) queueMicrotask(() => this.lost());
    socket.resume();
    this.drain(); // bytes that arrived with the startup's last read
  }

  /** A simple query or pipelined messages are waiting for answers. */
  get busy(): boolean {
    return this.run !== undefined || (this.options.inFlight?.() ?? false);
  }

  /** Sends `sql` as one 'Q' and resolves at ReadyForQuery; rejects with UpstreamGone. */
  query(sql: string, options: RunOptions): Promise<RunResult> {
    if (this.gone) return Promise.reject(this.gone);
    if (this.run) return Promise.reject(new Error('a query is already running upstream'));
    return new Promise<RunResult>((resolve, reject) => {
      this.run = { options, result: { status: 'I', tags: [], rows: 0 }, resolve, reject };
      batchedWrite(this.upstream.socket, fe.query(sql));
    });
  }

  /**
   * Undefined while the upstream socket can take more; otherwise a promise
   * that resolves once it drains below the high-water mark, or closes. The
   * session awaits it before reading the next client message.
   */
  upstreamWritable(): Promise<void> | undefined {
    const { socket } = this.upstream;
    if (!socket.writableNeedDrain || socket.destroyed) return undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        socket.off('drain', done).off('close', done);
        resolve();
      };
      socket.on('drain', done).on('close', done);
    });
  }

  /**
   * Hands the socket back: removes the relay's listeners from both sockets
   * and pauses the upstream. True when the connection is left between
   * messages (nothing running, nothing buffered, still open).
   */
  detach(): boolean {
    if (this.detached) return false;
    this.detached = true;
    const { socket, reader } = this.upstream;
    socket.off('data', this.onData).off('error', this.onError).off('close', this.onClose);
    this.client.off('close', this.onClientClose).off('drain', this.onClientDrain);
    socket.pause();
    return !this.gone && !this.busy && !socket.destroyed && reader.pending === 0;
  }

  /** Ends the upstream connection (when the pool does not get it back). */
  close(): void {
    if (!this.detached) closeUpstream(this.upstream);
  }

  private lost(): void {
    if (this.gone || this.detached) return;
    this.gone = new UpstreamGone(this.upstream.reader.lastFatal);
    const run = this.run;
    this.run = undefined;
    run?.reject(this.gone);
    this.onGone(this.gone);
  }

  /** Relays every complete frame; one corked write per upstream read. */
  private drain(): void {
    const reader = this.frames;
    this.client.cork();
    try {
      for (let frame = reader.next(); frame; frame = reader.next()) this.handle(frame);
    } catch {
      // A malformed upstream frame: the stream cannot be resynchronised.
      this.upstream.socket.destroy();
    } finally {
      this.client.uncork();
    }
    if (this.client.writableNeedDrain && !this.upstream.socket.isPaused() && !this.client.destroyed) {
      this.upstream.socket.pause();
      this.client.once('drain', this.onClientDrain);
    }
  }

  private handle(frame: Frame): void {
    const run = this.run;
    const forward = (raw: Buffer) => {
      if (!this.client.destroyed) this.client.write(raw);
    };
    switch (frame.type) {
      case 'S': // ParameterStatus
      case 'K': // BackendKeyData
        return;
      case 'T':
        zeroColumnOrigins(frame.body);
        break;
      case 'E':
      case 'N': {
        const fields = parseNoticeFields(frame.body);
        if (frame.type === 'E' && run) run.result.error ??= fields;
        if (!run?.options.silent)
          forward(encodeNotice(frame.type, sanitizeFields(fields, run?.options.userSql ?? '')));
        return;
      }
      case 'C':
        run?.result.tags.push(new BufferReader(frame.body).cstring());
        break;
      case 'D':
        if (run) run.result.rows++;
        break;
      case 'Z': {
        if (!run) return;
        run.result.status = String.fromCharCode(frame.body[0] ?? 0x49) as TransactionStatus;
        if (run.options.forwardReady) forward(frame.raw);
        this.run = undefined;
        run.resolve(run.result);
        return;
      }
    }
    // Results outside a run (none are expected) are not the client's to see.
    if (run && !run.options.quiet && !run.options.silent) forward(frame.raw);
  }
}

/**
 * RowDescription: per field a name, then table OID (int32) and column
 * number (int16), which are zeroed. The frame is a view on bytes only this
 * relay holds, so it is edited in place, without a copy.
 */
export function zeroColumnOrigins(body: Buffer): void {
  const count = body.readInt16BE(0);
  let at = 2;
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, at);
    if (end < 0 || end + 19 > body.length) throw new RangeError('malformed RowDescription');
    body.fill(0, end + 1, end + 7);
    at = end + 19;
  }
}
