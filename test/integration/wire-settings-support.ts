/**
 * A raw protocol client for the settings / COPY tests: sends message bytes,
 * collects frames up to ReadyForQuery, and summarises them as comparable
 * strings, so the same pipeline can be run against PostgreSQL directly and
 * through the proxy and the answers compared message by message.
 */
import { inject } from 'vitest';
import { DEMO_DATABASE } from '../../src/demo/dataset.js';
import { BufferReader } from '../../src/wire/buffer.js';
import type { Frame } from '../../src/wire/frames.js';
import * as fe from '../../src/wire/frontend.js';
import { connectUpstream, parseNoticeFields, type UpstreamConnection } from '../../src/wire/upstream.js';

export class RawClient {
  private waiting: (() => void) | undefined;
  private constructor(private readonly conn: UpstreamConnection) {
    conn.socket.on('data', (chunk: Buffer) => {
      conn.reader.push(chunk);
      this.waiting?.();
    });
    conn.socket.resume();
  }

  /** Through the proxy on `port`, as `user` (demo password). */
  static proxy(port: number, database = DEMO_DATABASE, user = 'alice'): Promise<RawClient> {
    return RawClient.open({ host: '127.0.0.1', port, username: user, password: 'Demo1234!', database });
  }

  /** Straight to the test run's PostgreSQL 18, as its superuser. */
  static direct(database = DEMO_DATABASE): Promise<RawClient> {
    const { host, port, user, password } = inject('postgres');
    return RawClient.open({ host, port, username: user, password, database });
  }

  private static async open(o: {
    host: string;
    port: number;
    username: string;
    password: string;
    database: string;
  }): Promise<RawClient> {
    return new RawClient(await connectUpstream({ ...o, sslmode: 'disable' }));
  }

  /** Sends `messages` in one write; every frame up to and including ReadyForQuery. */
  async frames(...messages: Buffer[]): Promise<Frame[]> {
    this.conn.socket.write(Buffer.concat(messages));
    const out: Frame[] = [];
    for (;;) {
      const f = this.conn.reader.next();
      if (f) {
        out.push(f);
        if (f.type === 'Z') return out;
        continue;
      }
      await new Promise<void>((r) => (this.waiting = r));
    }
  }

  /** The same, summarised (see `summary`). */
  async run(...messages: Buffer[]): Promise<string[]> {
    return (await this.frames(...messages)).map(summary);
  }

  close(): void {
    this.conn.socket.end(fe.terminate());
  }
}

export const cells = (f: Frame): (string | null)[] => {
  const r = new BufferReader(f.body);
  return Array.from({ length: r.int16() }, () => {
    const len = r.int32();
    return len < 0 ? null : r.bytes(len).toString('utf8');
  });
};

/**
 * One frame as a short string: errors and notices by severity, code and
 * message; RowDescription by column names, types and formats; DataRow by
 * values; ParameterStatus, CommandComplete and ReadyForQuery by content.
 */
export function summary(f: Frame): string {
  const r = new BufferReader(f.body);
  switch (f.type) {
    case 'E':
    case 'N': {
      const x = parseNoticeFields(f.body);
      return `${f.type}:${x.get('V') ?? x.get('S')}:${x.get('C')}:${x.get('M')}`;
    }
    case 'S':
      return `S:${r.cstring()}=${r.cstring()}`;
    case 'T': {
      const cols = Array.from({ length: r.int16() }, () => {
        const name = r.cstring();
        r.int32();
        r.int16();
        const type = r.int32();
        r.int16();
        r.int32();
        return `${name}/${type}/${r.int16()}`;
      });
      return `T:${cols.join(',')}`;
    }
    case 't':
      return `t:${Array.from({ length: r.int16() }, () => r.int32()).join(',')}`;
    case 'D':
      return `D:${cells(f).join('|')}`;
    case 'C':
      return `C:${r.cstring()}`;
    case 'Z':
      return `Z:${String.fromCharCode(f.body[0]!)}`;
    default:
      return f.type;
  }
}

/** A Bind with text parameters and the given result format codes. */
export function bindWithFormats(
  portal: string,
  statement: string,
  values: string[],
  formats: number[],
): Buffer {
  const b = fe.bind(portal, statement, values);
  // fe.bind ends with int16(0) result formats: replace that count.
  const head = b.subarray(0, b.length - 2);
  const tail = Buffer.alloc(2 + 2 * formats.length);
  tail.writeInt16BE(formats.length, 0);
  formats.forEach((f, i) => tail.writeInt16BE(f, 2 + 2 * i));
  const out = Buffer.concat([head, tail]);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}

/** Parse + Bind + Execute of `sql` (unnamed), for building pipelines. */
export const pbe = (sql: string, values: string[] = []): Buffer[] => [
  fe.parse('', sql),
  fe.bind('', '', values),
  fe.execute(''),
];
