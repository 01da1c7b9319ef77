/**
 * The client socket as the session sees it: awaitable frames (`next()`),
 * `send()`, and `fatal()` — an ErrorResponse with severity FATAL followed by
 * a close, the only way the proxy ends a session on its own. Every socket
 * event is handled here so no socket error can reach the process.
 */
import type net from 'node:net';
import tls from 'node:tls';
import { errorResponse, type Notice } from './backend.js';
import { batchedWrite } from './batched-write.js';
import { ProtocolViolation } from './buffer.js';
import { type Frame, FrameReader } from './frames.js';

/** The client went away (close, reset, or a fatal error already sent). */
export class ClientGone extends Error {
  override readonly name = 'ClientGone';
}

/** Above this many unprocessed bytes the socket is paused (pipelined input waits in the kernel). */
const MAX_BUFFERED_INPUT = 1024 * 1024;

export class ClientConnection {
  readonly reader: FrameReader;
  /** Captured at accept: stays the peer's address after a TLS upgrade. */
  readonly remoteAddress: string;
  /** The plain socket, or the TLS socket wrapping it after `startTls`. */
  socket: net.Socket;
  private wake: (() => void) | undefined;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    if (this.reader.pending > MAX_BUFFERED_INPUT) this.socket.pause();
    this.wake?.();
  };
  private readonly onGone = (): void => this.markClosed();

  constructor(socket: net.Socket, maxMessageLength?: number) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.reader = new FrameReader({ startup: true, ...(maxMessageLength ? { maxMessageLength } : {}) });
    socket.setNoDelay(true);
    this.listen(socket);
  }

  private listen(socket: net.Socket): void {
    socket.on('data', this.onData).on('error', this.onGone).on('close', this.onGone);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True once the TLS upgrade started: every later byte travels encrypted. */
  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /**
   * Answers an SSLRequest with 'S' and runs the server side of the TLS
   * handshake on the same TCP connection. Bytes the client sent after the
   * SSLRequest, before the handshake, were never encrypted and may have been
   * injected by a man-in-the-middle (CVE-2021-23214): the connection is
   * refused as PostgreSQL does. A failed handshake just closes.
   */
  startTls(context: tls.SecureContext): void {
    if (this.reader.pending > 0) {
      this.fatal({
        severity: 'FATAL',
        code: '08P01',
        message: 'received unencrypted data after SSL request',
        detail:
          'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.',
      });
      throw new ClientGone();
    }
    const raw = this.socket;
    raw.off('data', this.onData).off('error', this.onGone);
    // The TLS socket reports the raw socket's failures; this keeps any stray one from being unhandled.
    raw.on('error', () => undefined);
    // Flushed before the handshake takes over the socket's handle: nothing may stay corked behind it.
    while (raw.writableCorked > 0) raw.uncork();
    raw.write(Buffer.from('S'));
    const secure = new tls.TLSSocket(raw, { isServer: true, secureContext: context });
    this.socket = secure;
    this.listen(secure);
  }

  private markClosed(): void {
    this.closed = true;
    this.clearIdle();
    this.wake?.();
  }

  /**
   * The next complete frame. A malformed frame answers FATAL 08P01 and
   * closes; `idleMs` (> 0) arms the idle-session timeout while waiting.
   */
  async next(idleMs = 0): Promise<Frame> {
    for (;;) {
      if (this.closed) throw new ClientGone();
      let frame: Frame | null;
      try {
        frame = this.reader.next();
      } catch (err) {
        if (!(err instanceof ProtocolViolation)) throw err;
        this.fatal({ severity: 'FATAL', code: '08P01', message: `invalid frontend message: ${err.message}` });
        throw new ClientGone();
      }
      if (frame) return frame;
      if (this.socket.isPaused()) this.socket.resume();
      if (idleMs > 0) this.armIdle(idleMs);
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
      this.clearIdle();
    }
  }

  private armIdle(ms: number): void {
    this.clearIdle();
    this.idleTimer = setTimeout(() => {
      this.fatal({
        severity: 'FATAL',
        code: '57P05',
        message: 'terminating connection due to idle-session timeout',
      });
    }, ms);
  }

  private clearIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Writes unless closed; returns false when the socket's buffer is full (see `drained`). */
  send(...messages: Buffer[]): boolean {
    if (this.closed || this.socket.destroyed) return true;
    let ok = true;
    for (const m of messages) ok = batchedWrite(this.socket, m);
    return ok;
  }

  /** Sends a FATAL error, then ends the connection (idempotent). */
  fatal(notice: Notice): void {
    if (this.closed) return;
    this.send(errorResponse(notice));
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.markClosed();
    this.socket.end();
    // A client that never reads must not hold the socket open.
    setTimeout(() => this.socket.destroy(), 5000).unref();
  }
}
