/**
 * Frontend (client → server) messages: parsers for what the proxy accepts
 * from its clients, and writers for what it sends to the upstream as a
 * client itself. Bodies come from FrameReader; parsers throw
 * ProtocolViolation on malformed input.
 */
import { BufferReader, ProtocolViolation, Writer } from './buffer.js';
import { PROTOCOL_3_0, SSL_REQUEST_CODE } from './frames.js';

/** StartupMessage parameters (`user`, `database`, `options`, GUCs…), in order. */
export function parseStartupParameters(body: Buffer): Map<string, string> {
  const r = new BufferReader(body);
  const params = new Map<string, string>();
  for (;;) {
    const name = r.cstring();
    if (name === '') break;
    params.set(name, r.cstring());
  }
  if (r.remaining !== 0) throw new ProtocolViolation('invalid startup packet layout');
  return params;
}

/** CancelRequest: the key data the client got from BackendKeyData. */
export function parseCancelRequest(body: Buffer): { processId: number; secretKey: number } {
  const r = new BufferReader(body);
  return { processId: r.int32(), secretKey: r.int32() };
}

/** 'Q': the query text (one NUL-terminated string). */
export function parseQuery(body: Buffer): string {
  const r = new BufferReader(body);
  const text = r.cstring();
  if (r.remaining !== 0) throw new ProtocolViolation('invalid query message');
  return text;
}

/** 'p' in answer to AuthenticationSASL: the chosen mechanism and the client-first message. */
export function parseSaslInitialResponse(body: Buffer): { mechanism: string; data: Buffer } {
  const r = new BufferReader(body);
  const mechanism = r.cstring();
  const length = r.int32();
  const data = length < 0 ? Buffer.alloc(0) : r.bytes(length);
  if (r.remaining !== 0) throw new ProtocolViolation('invalid SASL initial response');
  return { mechanism, data };
}

// ---- writers, for the upstream connection ----

export function startupMessage(params: Record<string, string>): Buffer {
  const w = new Writer().int32(PROTOCOL_3_0);
  for (const [k, v] of Object.entries(params)) w.cstring(k).cstring(v);
  return w.byte(0).message(null);
}

export const sslRequest = (): Buffer => new Writer().int32(SSL_REQUEST_CODE).message(null);

export const query = (text: string): Buffer => new Writer().cstring(text).message('Q');

export const passwordMessage = (password: string): Buffer => new Writer().cstring(password).message('p');

export const saslInitialResponse = (mechanism: string, data: string): Buffer => {
  const bytes = Buffer.from(data, 'utf8');
  return new Writer().cstring(mechanism).int32(bytes.length).bytes(bytes).message('p');
};

export const saslResponse = (data: string): Buffer =>
  new Writer().bytes(Buffer.from(data, 'utf8')).message('p');

export const terminate = (): Buffer => new Writer().message('X');

// ---- extended query protocol (extended.ts): parsers for what the proxy must read, writers ----

/** 'P' Parse: statement name, query text, parameter type OIDs (0 = unspecified). */
export function parseParse(body: Buffer): { name: string; text: string; paramTypes: number[] } {
  const r = new BufferReader(body);
  const name = r.cstring();
  const text = r.cstring();
  const count = r.int16();
  if (count < 0) throw new ProtocolViolation('invalid parameter count');
  const paramTypes: number[] = [];
  for (let i = 0; i < count; i++) paramTypes.push(r.int32() >>> 0);
  if (r.remaining !== 0) throw new ProtocolViolation('invalid Parse message');
  return { name, text, paramTypes };
}

/** 'B' Bind: only the two names; parameters and formats are relayed as received, never decoded. */
export function parseBindNames(body: Buffer): { portal: string; statement: string } {
  const r = new BufferReader(body);
  return { portal: r.cstring(), statement: r.cstring() };
}

/** 'D' Describe and 'C' Close: `S` statement or `P` portal, and its name. */
export function parseTarget(body: Buffer): { kind: 'S' | 'P'; name: string } {
  const r = new BufferReader(body);
  const kind = String.fromCharCode(r.byte());
  const name = r.cstring();
  if ((kind !== 'S' && kind !== 'P') || r.remaining !== 0)
    throw new ProtocolViolation('invalid Describe/Close message');
  return { kind, name };
}

/** 'E' Execute: portal name and row limit (0 = all). */
export function parseExecute(body: Buffer): { portal: string; maxRows: number } {
  const r = new BufferReader(body);
  const portal = r.cstring();
  const maxRows = r.int32();
  if (r.remaining !== 0) throw new ProtocolViolation('invalid Execute message');
  return { portal, maxRows };
}

export function parse(name: string, text: string, paramTypes: readonly number[] = []): Buffer {
  const w = new Writer().cstring(name).cstring(text).int16(paramTypes.length);
  for (const t of paramTypes) w.int32(t | 0);
  return w.message('P');
}

/** Text-format parameters (null = SQL NULL), text-format results. */
export function bind(portal: string, statement: string, values: readonly (string | null)[] = []): Buffer {
  const w = new Writer().cstring(portal).cstring(statement).int16(0).int16(values.length);
  for (const v of values) {
    if (v === null) w.int32(-1);
    else {
      const b = Buffer.from(v, 'utf8');
      w.int32(b.length).bytes(b);
    }
  }
  return w.int16(0).message('B');
}

export const describe = (kind: 'S' | 'P', name: string): Buffer =>
  new Writer().byte(kind.charCodeAt(0)).cstring(name).message('D');

export const execute = (portal: string, maxRows = 0): Buffer =>
  new Writer().cstring(portal).int32(maxRows).message('E');

export const close = (kind: 'S' | 'P', name: string): Buffer =>
  new Writer().byte(kind.charCodeAt(0)).cstring(name).message('C');

export const sync = (): Buffer => new Writer().message('S');

export const flush = (): Buffer => new Writer().message('H');

/** 'B' Bind as the proxy reads it for the statements it answers itself (values are not kept). */
export function parseBind(body: Buffer): {
  portal: string;
  statement: string;
  paramCount: number;
  resultFormats: number[];
} {
  const r = new BufferReader(body);
  const portal = r.cstring();
  const statement = r.cstring();
  const formatCount = r.int16();
  for (let i = 0; i < formatCount; i++) r.int16();
  const paramCount = r.int16();
  if (formatCount < 0 || paramCount < 0) throw new ProtocolViolation('invalid Bind message');
  for (let i = 0; i < paramCount; i++) {
    const len = r.int32();
    if (len > 0) r.bytes(len);
  }
  const resultCount = r.int16();
  if (resultCount < 0) throw new ProtocolViolation('invalid Bind message');
  const resultFormats = Array.from({ length: resultCount }, () => r.int16());
  if (r.remaining !== 0) throw new ProtocolViolation('invalid Bind message');
  return { portal, statement, paramCount, resultFormats };
}
