/**
 * Parsing with the real PostgreSQL grammar (libpg-query, WASM) and splitting
 * a simple-protocol string into statements.
 *
 * Statement boundaries come only from the parser's `stmt_location` /
 * `stmt_len` (threat model V163): no component looks at SQL text to find
 * where a statement ends. Those offsets, like every `location` in the tree,
 * are byte offsets into the UTF-8 encoding, so slicing and error positions go
 * through bytes whenever the text is not plain ASCII.
 */
import type { Node } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import { PgError, SQLSTATE } from './errors.js';

let loaded: Promise<void> | null = null;
let ready = false;

/** Loads the WASM parser once; every other function here needs it loaded. */
export async function ensureParser(): Promise<void> {
  loaded ??= loadModule().then(() => {
    ready = true;
  });
  await loaded;
}

export function parserReady(): boolean {
  return ready;
}

export interface ParsedStatement {
  /** The statement node, e.g. `{ SelectStmt: … }`. */
  node: Node;
  /** This statement's own text, sliced from the input by the parser's offsets. */
  originalSql: string;
  /** Byte offset of the statement in the whole input (locations in `node` are relative to the input). */
  byteOffset: number;
}

// eslint-disable-next-line no-control-regex -- ASCII test: control characters are ASCII too
const ASCII = /^[\x00-\x7f]*$/;

/** Converts a 0-based byte offset into PostgreSQL's 1-based character position. */
export function charPosition(sql: string, byteOffset: number): number {
  if (ASCII.test(sql)) return byteOffset + 1;
  const prefix = Buffer.from(sql, 'utf8').subarray(0, Math.max(0, byteOffset)).toString('utf8');
  return [...prefix].length + 1;
}

/**
 * Parses `sql` into statements. Throws PgError 42601 on a syntax error with
 * the parser's message and position, as PostgreSQL reports it. Empty
 * statements (`;;`) produce no entry, as in PostgreSQL.
 */
export function parseStatements(sql: string): ParsedStatement[] {
  if (!ready) throw new PgError(SQLSTATE.internalError, 'internal error: parser not loaded');
  let result;
  try {
    result = parseSync(sql);
  } catch (err) {
    throw toSyntaxError(sql, err);
  }
  const ascii = ASCII.test(sql);
  const bytes = ascii ? null : Buffer.from(sql, 'utf8');
  const total = bytes ? bytes.length : sql.length;
  const out: ParsedStatement[] = [];
  for (const raw of result.stmts ?? []) {
    if (!raw.stmt) continue;
    const start = raw.stmt_location ?? 0;
    // stmt_len 0 means "to the end of the string" (the last statement).
    const end = raw.stmt_len ? start + raw.stmt_len : total;
    const text = bytes ? bytes.subarray(start, end).toString('utf8') : sql.slice(start, end);
    out.push({ node: raw.stmt, originalSql: text.trim(), byteOffset: start });
  }
  return out;
}

function toSyntaxError(sql: string, err: unknown): PgError {
  const details = (err as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails;
  const message = details?.message ?? (err instanceof Error ? err.message : 'syntax error');
  if (err instanceof RangeError) {
    // Deep nesting overflows the WASM parser's stack (threat model V153).
    return new PgError('54001', 'statement is too complex');
  }
  const extra =
    details?.cursorPosition !== undefined ? { position: charPosition(sql, details.cursorPosition) } : {};
  return new PgError(SQLSTATE.syntaxError, message, extra);
}
