/**
 * Splits a byte stream into protocol frames. TCP gives no message
 * boundaries: one read may hold half a message or several, so chunks are
 * queued and a frame is cut only once its declared length has arrived.
 * Frames are views on the received bytes (no copy) unless a frame straddles
 * chunks, in which case just that frame's bytes are joined.
 *
 * Two framings exist (protocol 3.0):
 *  - startup phase: int32 length (self-inclusive) + int32 code + payload —
 *    StartupMessage, SSLRequest, GSSENCRequest, CancelRequest;
 *  - afterwards: type byte + int32 length (self-inclusive) + payload.
 * A length below the header size or above the limit is a protocol violation:
 * the caller sends an error and closes, never waits for bytes that would
 * take unbounded memory.
 */
import { ProtocolViolation } from './buffer.js';

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

/** PostgreSQL's own MAX_STARTUP_PACKET_LENGTH. */
export const MAX_STARTUP_LENGTH = 10_000;
export const DEFAULT_MAX_MESSAGE_LENGTH = 16 * 1024 * 1024;

export interface Frame {
  /** The type byte as a character; '' for a startup-phase packet. */
  type: string;
  /** Startup-phase packets: the int32 code (protocol version or request code). */
  code: number;
  /** Payload after the header (after the code for startup packets). */
  body: Buffer;
  /** The whole frame, header included: what a relay forwards. */
  raw: Buffer;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** True until the first startup packet that is not SSL/GSS negotiation. */
  startup: boolean;

  private readonly maxMessageLength: number;

  constructor(options: { startup?: boolean; maxMessageLength?: number } = {}) {
    this.startup = options.startup ?? false;
    this.maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes received but not yet returned as frames. */
  get pending(): number {
    return this.buffered;
  }

  /** The next complete frame, or null when more bytes are needed; throws ProtocolViolation. */
  next(): Frame | null {
    const headerSize = this.startup ? 8 : 5;
    if (this.buffered < headerSize) return null;
    const head = this.peek(headerSize);
    const type = this.startup ? '' : String.fromCharCode(head[0]!);
    const length = head.readInt32BE(this.startup ? 0 : 1);
    const limit = this.startup ? MAX_STARTUP_LENGTH : this.maxMessageLength;
    if (length < (this.startup ? 8 : 4)) throw new ProtocolViolation(`invalid message length ${length}`);
    if (length > limit) throw new ProtocolViolation(`message length ${length} exceeds the limit of ${limit}`);
    const total = this.startup ? length : length + 1;
    if (this.buffered < total) return null;
    const raw = this.take(total);
    const code = this.startup ? raw.readInt32BE(4) : 0;
    return { type, code, body: raw.subarray(headerSize), raw };
  }

  /** The first `n` buffered bytes (joins chunks only when the header straddles them). */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks, n);
  }

  private take(n: number): Buffer {
    this.buffered -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const used = Math.min(c.length, n - at);
      c.copy(out, at, 0, used);
      at += used;
      if (used === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(used);
    }
    return out;
  }
}
