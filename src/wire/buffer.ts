/**
 * Byte helpers of the wire layer, shaped after pg-protocol: a reader that
 * walks a message body without copying it (strings are decoded in place,
 * byte ranges are `subarray` views), and a writer that builds one backend or
 * frontend message with its length filled in at the end.
 */

/** Thrown for a malformed message body; the session answers 08P01 and closes. */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}

export class BufferReader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}

  get remaining(): number {
    return this.buffer.length - this.offset;
  }
  private need(n: number): void {
    if (n < 0 || this.offset + n > this.buffer.length) throw new ProtocolViolation('message too short');
  }
  byte(): number {
    this.need(1);
    return this.buffer[this.offset++]!;
  }
  int16(): number {
    this.need(2);
    const v = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    this.need(4);
    const v = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.buffer.indexOf(0, this.offset);
    if (end < 0) throw new ProtocolViolation('unterminated string');
    const s = this.buffer.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }
  /** `n` bytes as a view on the message (no copy). */
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buffer.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }
  rest(): Buffer {
    return this.bytes(this.remaining);
  }
}

/** Builds one message: `new Writer().int32(…).cstring(…).message(code)`. */
export class Writer {
  private parts: Buffer[] = [];
  private size = 0;

  private push(b: Buffer): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  int16(v: number): this {
    const b = Buffer.allocUnsafe(2);
    b.writeInt16BE(v);
    return this.push(b);
  }
  int32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v);
    return this.push(b);
  }
  byte(v: number): this {
    return this.push(Buffer.from([v]));
  }
  cstring(s: string): this {
    return this.push(Buffer.from(`${s}\0`, 'utf8'));
  }
  bytes(b: Uint8Array): this {
    return this.push(Buffer.from(b.buffer, b.byteOffset, b.length));
  }
  /** The message with its type byte (a character) and length; no type byte for `code === null` (startup). */
  message(code: string | null): Buffer {
    const header = code === null ? 4 : 5;
    const out = Buffer.allocUnsafe(header + this.size);
    if (code !== null) out[0] = code.charCodeAt(0);
    out.writeInt32BE(this.size + 4, header - 4);
    let at = header;
    for (const p of this.parts) {
      p.copy(out, at);
      at += p.length;
    }
    return out;
  }
}
