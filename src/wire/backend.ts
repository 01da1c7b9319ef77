/**
 * Backend (server → client) messages as tiny pure functions returning the
 * encoded bytes, named as in the protocol documentation. Only what the proxy
 * itself originates is here; upstream results are relayed as received.
 */
import type { PgError } from '../sql/errors.js';
import { Writer } from './buffer.js';

export type TransactionStatus = 'I' | 'T' | 'E';

export const authenticationOk = (): Buffer => new Writer().int32(0).message('R');

export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  const w = new Writer().int32(10);
  for (const m of mechanisms) w.cstring(m);
  return w.byte(0).message('R');
}

export const authenticationSaslContinue = (data: string | Buffer): Buffer =>
  new Writer().int32(11).bytes(Buffer.from(data)).message('R');

export const authenticationSaslFinal = (data: string | Buffer): Buffer =>
  new Writer().int32(12).bytes(Buffer.from(data)).message('R');

export const parameterStatus = (name: string, value: string): Buffer =>
  new Writer().cstring(name).cstring(value).message('S');

export const backendKeyData = (processId: number, secretKey: number): Buffer =>
  new Writer().int32(processId).int32(secretKey).message('K');

export const readyForQuery = (status: TransactionStatus): Buffer =>
  new Writer().byte(status.charCodeAt(0)).message('Z');

export const emptyQueryResponse = (): Buffer => new Writer().message('I');

export const commandComplete = (tag: string): Buffer => new Writer().cstring(tag).message('C');

/** The SSLRequest / GSSENCRequest refusal: a single byte, not a message. */
export const negotiationRefused = (): Buffer => Buffer.from('N');

export type Severity = 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

export interface Notice {
  severity: Severity;
  code: string;
  message: string;
  detail?: string | undefined;
  hint?: string | undefined;
  position?: number | undefined;
}

/** Field order as PostgreSQL sends it: S, V, C, M, D, H, P. */
function noticeFields(n: Notice): Writer {
  const w = new Writer();
  w.byte(0x53).cstring(n.severity); // S (localized; we never localize)
  w.byte(0x56).cstring(n.severity); // V
  w.byte(0x43).cstring(n.code); // C
  w.byte(0x4d).cstring(n.message); // M
  if (n.detail !== undefined) w.byte(0x44).cstring(n.detail);
  if (n.hint !== undefined) w.byte(0x48).cstring(n.hint);
  if (n.position !== undefined) w.byte(0x50).cstring(String(n.position));
  return w.byte(0);
}

export const errorResponse = (n: Notice): Buffer => noticeFields(n).message('E');

export const noticeResponse = (n: Notice): Buffer => noticeFields(n).message('N');

/** ErrorResponse for a PgError raised by the proxy (the rewriter, settings…). */
export const pgErrorResponse = (err: PgError, severity: Severity = 'ERROR'): Buffer =>
  errorResponse({
    severity,
    code: err.sqlstate,
    message: err.message,
    detail: err.extra.detail,
    hint: err.extra.hint,
    position: err.extra.position,
  });

export interface FieldDescription {
  name: string;
  tableOid?: number;
  columnNumber?: number;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  format?: 0 | 1;
}

export const TEXT_OID = 25;

export function rowDescription(fields: readonly FieldDescription[]): Buffer {
  const w = new Writer().int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name)
      .int32(f.tableOid ?? 0)
      .int16(f.columnNumber ?? 0)
      .int32(f.typeOid)
      .int16(f.typeSize)
      .int32(f.typeModifier)
      .int16(f.format ?? 0);
  }
  return w.message('T');
}

/** A text-format DataRow; null is SQL NULL. */
export function dataRow(values: readonly (string | null)[]): Buffer {
  const w = new Writer().int16(values.length);
  for (const v of values) {
    if (v === null) {
      w.int32(-1);
    } else {
      const b = Buffer.from(v, 'utf8');
      w.int32(b.length).bytes(b);
    }
  }
  return w.message('D');
}

/** A text column as SHOW reports it. */
export const textField = (name: string): FieldDescription => ({
  name,
  typeOid: TEXT_OID,
  typeSize: -1,
  typeModifier: -1,
});

export const parseComplete = (): Buffer => new Writer().message('1');

export const bindComplete = (): Buffer => new Writer().message('2');

export const closeComplete = (): Buffer => new Writer().message('3');

export const noData = (): Buffer => new Writer().message('n');

export const portalSuspended = (): Buffer => new Writer().message('s');
