/**
 * A raw protocol client for the pool / upstream / drain tests: start-up and
 * SCRAM by hand, then frames as the proxy sent them, so a test can pipeline
 * without reading, read without decoding rows, and see every ErrorResponse
 * field (code, severity) as well as when the proxy closed the connection.
 */
import net from 'node:net';
import { type Frame, FrameReader } from '../../src/wire/frames.js';
import * as fe from '../../src/wire/frontend.js';
import { ScramClient } from '../../src/wire/scram-client.js';
import { parseNoticeFields } from '../../src/wire/upstream.js';

export class RawClient {
  readonly socket: net.Socket;
  readonly reader = new FrameReader();
  closed = false;
  private wake: (() => void) | undefined;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.reader.push(chunk);
      this.wake?.();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  write(b: Buffer): boolean {
    return this.socket.write(b);
  }

  /** The next frame; rejects after `ms` or when the proxy closed with nothing left to read. */
  async frame(ms = 10_000): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const f = this.reader.next();
      if (f) return f;
      if (this.closed) throw new Error('connection closed by the proxy');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no frame within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Frames up to and including the first of type `type`. */
  async until(type: string, ms = 10_000): Promise<Frame[]> {
    const frames: Frame[] = [];
    for (;;) {
      const f = await this.frame(ms);
      frames.push(f);
      if (f.type === type) return frames;
    }
  }

  /** Resolves once the proxy closed the connection (or after `ms`, false). */
  async closedWithin(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed;
  }

  end(): void {
    if (!this.socket.destroyed) this.socket.end(fe.terminate());
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Error fields of an ErrorResponse frame. */
export const errorFields = (f: Frame): Map<string, string> => parseNoticeFields(f.body);

/** Connects and authenticates (SCRAM) up to the first ReadyForQuery. */
export async function rawSession(
  port: number,
  user: string,
  password: string,
  database: string,
): Promise<RawClient> {
  const raw = new RawClient(port);
  raw.write(fe.startupMessage({ user, database }));
  const scram = new ScramClient(password);
  for (;;) {
    const f = await raw.frame();
    if (f.type === 'Z') return raw;
    if (f.type === 'E') {
      raw.destroy();
      const fields = errorFields(f);
      throw Object.assign(new Error(fields.get('M') ?? 'error'), { code: fields.get('C') });
    }
    if (f.type !== 'R') continue;
    const code = f.body.readInt32BE(0);
    if (code === 10) raw.write(fe.saslInitialResponse('SCRAM-SHA-256', scram.first()));
    else if (code === 11) raw.write(fe.saslResponse(scram.final(f.body.subarray(4).toString())));
    else if (code === 12) scram.verify(f.body.subarray(4).toString());
  }
}
