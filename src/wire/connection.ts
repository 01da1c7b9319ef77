/**
 * The client socket as the session sees it: awaitable frames (`next()`),
 * `send()`, and `fatal()` — an ErrorResponse with severity FATAL followed by
 * a close, the only way the proxy ends a session on its own. Every socket
 * event is handled here so no socket error can reach the process.
 */
import type net from 'node:net';
import { errorResponse, type Notice } from './backend.js';
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
  private wake: (() => void) | undefined;
  private closed = false;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: net.Socket,
    maxMessageLength?: number,
  ) {
    this.reader = new FrameReader({ startup: true, ...(maxMessageLength ? { maxMessageLength } : {}) });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      if (this.reader.pending > MAX_BUFFERED_INPUT) socket.pause();
      this.wake?.();
    });
    socket.on('error', () => this.markClosed());
    socket.on('close', () => this.markClosed());
  }

  get isClosed(): boolean {
    return this.closed;
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
    for (const m of messages) ok = this.socket.write(m);
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
