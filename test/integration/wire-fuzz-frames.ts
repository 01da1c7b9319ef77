/**
 * Frame generators for wire-fuzz.test.ts (threat model §3.7): valid
 * frontend messages first, then mutated — wrong lengths (±1, 0, negative,
 * 2^31−1, beyond the limit), wrong counts, truncated frames, unknown type
 * bytes, messages legal only in other states, NUL bytes and invalid UTF-8
 * inside Query text, deeply nested SQL — and raw random bytes before
 * start-up.
 */
import type { Rng } from '../../src/demo/prng.js';
import { Writer } from '../../src/wire/buffer.js';
import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  PROTOCOL_3_0,
  SSL_REQUEST_CODE,
} from '../../src/wire/frames.js';
import * as fe from '../../src/wire/frontend.js';

export interface FuzzPlan {
  /** True: the chunks are sent instead of a start-up (no authentication first). */
  startup: boolean;
  /** The last chunk is an incomplete frame: the proxy waits for bytes that never come. */
  truncated: boolean;
  /** Write every byte separately (messages split across TCP reads). */
  byteByByte: boolean;
  chunks: Buffer[];
  /** Frames generated (several may share a chunk). */
  frames: number;
}

const randomBytes = (rng: Rng, n: number): Buffer =>
  Buffer.from(Array.from({ length: n }, () => rng.int(0, 255)));

const SQL_PIECES = [
  'SELECT',
  '*',
  'FROM',
  'customers',
  'orders',
  'WHERE',
  'org',
  '=',
  "'acme'",
  '(',
  ')',
  ',',
  ';',
  '$1',
  'UNION',
  'ALL',
  'JOIN',
  'ON',
  '::int',
  '::json',
  'credit_card',
  'ssn',
  'pg_sleep(0)',
  'BEGIN',
  'COMMIT',
  'ROLLBACK',
  'SAVEPOINT s',
  'COPY (SELECT 1) TO STDOUT',
  'SET search_path = x',
  'SHOW ALL',
  'PREPARE p AS',
  'EXECUTE p',
  'DECLARE c CURSOR FOR',
  'FETCH ALL c',
  '_rg_1',
  '"',
  "'",
  '$$',
  '/*',
  '--',
  '\\',
  "E'\\x00'",
  'U&"\\0061"',
  '1/0',
  'NULL',
  'LIMIT 1',
  'DELETE',
  'UPDATE',
  'DO $$ BEGIN END $$',
  'LISTEN x',
  'NOTIFY x',
];

function sqlText(rng: Rng): Buffer {
  switch (rng.int(0, 5)) {
    case 0:
      return Buffer.from(Array.from({ length: rng.int(1, 30) }, () => rng.pick(SQL_PIECES)).join(' '));
    case 1: // nesting deep enough to stress the parser's stack
      return Buffer.from(`SELECT ${'('.repeat(rng.int(100, 20_000))}1${')'.repeat(rng.int(0, 20_000))}`);
    case 2: // invalid UTF-8 and control bytes inside otherwise valid SQL
      return Buffer.concat([
        Buffer.from("SELECT '"),
        randomBytes(rng, rng.int(1, 40)),
        Buffer.from("' AS x"),
      ]);
    case 3: // a NUL inside the text: the first cstring ends early, garbage follows
      return Buffer.from(`SELECT 1\0${rng.pick(SQL_PIECES)}`);
    case 4:
      return Buffer.from(
        `SELECT ${rng.int(0, 1000)} AS n FROM ${rng.pick(['customers', 'orders', 'products'])} LIMIT 3`,
      );
    default:
      return Buffer.from(randomBytes(rng, rng.int(0, 200)).filter((b) => b !== 0));
  }
}

/** A plausible body for message type `t` (well-formed, or with wrong counts). */
function body(rng: Rng, t: string): Buffer {
  const w = new Writer();
  const name = () => rng.pick(['', 's1', 'p1', '_rg_1', 'x'.repeat(rng.int(60, 300))]);
  // -1 has the bytes of 65 535 (int16 fields are read signed by PostgreSQL and by us).
  const count = () => rng.pick([0, 1, 2, -1, 32767, -32768]);
  switch (t) {
    case 'Q':
      return Buffer.concat([sqlText(rng), Buffer.from([0])]);
    case 'P': {
      w.cstring(name()).cstring(sqlText(rng).toString('latin1').replaceAll('\0', ''));
      const n = count();
      w.int16(n);
      for (let i = 0; i < Math.min(Math.max(n, 0), rng.int(0, 4)); i++)
        w.int32(rng.pick([0, 23, 25, 16385, -1]));
      break;
    }
    case 'B': {
      w.cstring(name()).cstring(name());
      const formats = count();
      w.int16(formats);
      for (let i = 0; i < Math.min(Math.max(formats, 0), 3); i++) w.int16(rng.pick([0, 1, 2, -1]));
      const params = count();
      w.int16(params);
      for (let i = 0; i < Math.min(Math.max(params, 0), 3); i++) {
        const len = rng.pick([-1, 0, 4, 1_000_000, -5]);
        w.int32(len);
        if (len > 0 && len < 100) w.bytes(randomBytes(rng, len));
      }
      w.int16(count());
      break;
    }
    case 'D':
    case 'C':
      w.byte(rng.pick([0x53, 0x50, 0x58, 0])).cstring(name());
      break;
    case 'E':
      w.cstring(name()).int32(rng.pick([0, 1, -1, 2 ** 31 - 1]));
      break;
    case 'F': // fastpath FunctionCall (V150)
      w.int32(rng.int(0, 5000)).int16(count()).int16(count()).int32(4).int32(1).int16(0);
      break;
    case 'd':
    case 'f':
      w.bytes(randomBytes(rng, rng.int(0, 50))).byte(0);
      break;
    case 'p':
      w.cstring('password');
      break;
    default:
      w.bytes(randomBytes(rng, rng.int(0, 30)));
  }
  return w.message(null).subarray(4);
}

/** Frames `body` as type `t`, with a mutated length field sometimes. */
function frame(rng: Rng, t: string, payload: Buffer, mild: boolean): { bytes: Buffer; truncated: boolean } {
  const honest = payload.length + 4;
  const r = mild ? 1 : rng.int(0, 9);
  const length =
    r === 0
      ? rng.pick([honest + 1, honest - 1, 0, 3, -1, 2 ** 31 - 1, 2 * 1024 * 1024, honest + 50])
      : honest;
  const head = Buffer.alloc(5);
  head[0] = t.charCodeAt(0);
  head.writeInt32BE(length, 1);
  let bytes = Buffer.concat([head, payload]);
  let truncated = length > honest && length <= 1024 * 1024;
  if (!mild && rng.int(0, 19) === 0) {
    bytes = bytes.subarray(0, rng.int(1, bytes.length - 1));
    truncated = true;
  }
  return { bytes, truncated };
}

const TYPES = ['Q', 'Q', 'Q', 'P', 'B', 'D', 'E', 'C', 'S', 'H', 'F', 'd', 'c', 'f', 'p', 'X'];

function startupChunk(rng: Rng): Buffer {
  const packet = (code: number, payload: Buffer, length?: number) => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(length ?? payload.length + 8, 0);
    b.writeInt32BE(code, 4);
    return Buffer.concat([b, payload]);
  };
  switch (rng.int(0, 7)) {
    case 0:
      return randomBytes(rng, rng.int(1, 300));
    case 1:
      return packet(rng.pick([SSL_REQUEST_CODE, GSSENC_REQUEST_CODE]), Buffer.alloc(0));
    case 2:
      return packet(CANCEL_REQUEST_CODE, randomBytes(rng, rng.pick([0, 4, 8, 12])));
    case 3: // unterminated or duplicated parameters, odd protocol versions
      return packet(
        rng.pick([PROTOCOL_3_0, 0x20000, 0x30063, 0x40000]),
        Buffer.from('user\0alice\0user\0bob\0database'),
      );
    case 4:
      return packet(PROTOCOL_3_0, Buffer.alloc(0), rng.pick([0, 4, 7, -1, 2 ** 31 - 1, 10_001]));
    case 5:
      return Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    case 6:
      return fe.startupMessage({
        user: 'alice',
        database: 'demo_ecommerce',
        replication: 'database',
        options: '-c x=y',
      });
    default:
      return fe.startupMessage({ user: '\u0000\u00ff'.repeat(rng.int(0, 50)), database: 'x' });
  }
}

export function fuzzConnection(rng: Rng, frames: number): FuzzPlan {
  const byteByByte = rng.int(0, 9) === 0;
  if (rng.int(0, 3) === 0) {
    const chunks = Array.from({ length: frames }, () => startupChunk(rng));
    return { startup: true, truncated: false, byteByByte, chunks, frames };
  }
  // Mild connections keep the framing intact (honest lengths, known types, no Terminate), so the
  // session survives to exercise the state machine with bad bodies, counts and SQL.
  const mild = rng.int(0, 1) === 0;
  const chunks: Buffer[] = [];
  let truncated = false;
  let i = 0;
  for (; i < frames && !truncated; i++) {
    const t = mild
      ? rng.pick(TYPES.slice(0, -2))
      : rng.int(0, 14) === 0
        ? String.fromCharCode(rng.int(0, 255))
        : rng.pick(TYPES);
    const f = frame(rng, t, body(rng, t), mild);
    chunks.push(f.bytes);
    truncated = f.truncated;
    // Packed messages: several frames in one write.
    if (rng.int(0, 4) === 0 && chunks.length > 1) chunks.push(Buffer.concat(chunks.splice(-2)));
  }
  return { startup: false, truncated, byteByByte, chunks, frames: i };
}
