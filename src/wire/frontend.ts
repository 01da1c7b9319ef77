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
