/**
 * SQL literal spelling for the catalog builders. Every value that reaches a
 * catalog subquery from the policy set (schema, table and column names, the
 * data source and user names) goes through here: names are data, never SQL.
 *
 * Strings are emitted as standard strings with `'` doubled; a value holding a
 * backslash is emitted as E'…' with backslashes doubled, so it reads the same
 * whatever `standard_conforming_strings` says (threat model V164).
 *
 * The reading side, for literals clients write: parseArrayLiteral reads an
 * array constant as PostgreSQL's array_in does (`'{orders,"a b",NULL}'`), and
 * splitQualifiedName a dotted name as the reg* input functions do.
 */
import { PgError } from '../errors.js';

/** A SQL string literal for `value`. */
export function sqlString(value: string): string {
  const quoted = value.replaceAll("'", "''");
  return value.includes('\\') ? `E'${quoted.replaceAll('\\', '\\\\')}'` : `'${quoted}'`;
}

/** A double-quoted identifier (for names emitted as SQL, e.g. upstream relation names). */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Array-literal element: always double-quoted, `"` and `\` backslash-escaped. */
const element = (v: string): string => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;

/** `'{"a","b"}'::text[]` — one constant node however long the list (cheap to parse and verify). */
export function textArray(values: readonly string[]): string {
  return `${sqlString(`{${values.map(element).join(',')}}`)}::pg_catalog.text[]`;
}

/** `'{t,f}'::bool[]`. */
export function boolArray(values: readonly boolean[]): string {
  return `'{${values.map((b) => (b ? 't' : 'f')).join(',')}}'::pg_catalog.bool[]`;
}

/** One element of a parsed array constant: text, SQL NULL, or a sub-array. */
export type ArrayElement = string | null | ArrayElement[];

const isSpace = (c: string | undefined): boolean =>
  c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';

/** PostgreSQL's MAXDIM. */
const MAX_DIMENSIONS = 6;

/** The dimensions of a parsed level, or null when sub-arrays do not match (PostgreSQL rejects those). */
function shape(items: ArrayElement[]): number[] | null {
  if (items.length === 0) return [0];
  const subs = items.map((x) => (Array.isArray(x) ? shape(x) : []));
  const first = subs[0]!;
  if (subs.some((d) => d === null || d.join() !== first.join()) || first[0] === 0) return null;
  return [items.length, ...first];
}

/**
 * The elements of array constant `text` as array_in reads it (delimiter `,`):
 * quoted elements keep their text, unquoted ones are trimmed and `NULL` (any
 * case) is SQL NULL, a backslash escapes the next character. Null for a
 * constant with explicit bounds (`[1:2]={…}`), which callers leave to
 * upstream; 22P02 as PostgreSQL words it for a malformed one.
 */
export function parseArrayLiteral(text: string, position?: number): ArrayElement[] | null {
  const extra = position !== undefined ? { position } : {};
  const malformed = (): PgError => new PgError('22P02', `malformed array literal: "${text}"`, extra);
  let i = 0;
  const skip = (): void => {
    while (isSpace(text[i])) i++;
  };
  const element = (): string | null => {
    let s = '';
    if (text[i] === '"') {
      for (i++; text[i] !== '"'; i++) {
        if (text[i] === '\\') i++;
        if (i >= text.length) throw malformed();
        s += text[i];
      }
      i++;
      return s;
    }
    let end = 0;
    let escaped = false;
    for (; i < text.length && text[i] !== ',' && text[i] !== '}'; i++) {
      const c = text[i]!;
      if (c === '"' || c === '{') throw malformed();
      if (c === '\\') {
        if (++i >= text.length) throw malformed();
        escaped = true;
        s += text[i];
        end = s.length;
      } else {
        s += c;
        if (!isSpace(c)) end = s.length;
      }
    }
    s = s.slice(0, end);
    if (s === '' && !escaped) throw malformed();
    return !escaped && s.toUpperCase() === 'NULL' ? null : s;
  };
  // Iterative over nesting levels: a hostile constant cannot exhaust the stack.
  const stack: ArrayElement[][] = [];
  let result: ArrayElement[] | null = null;
  skip();
  if (text[i] === '[') return null;
  if (text[i] !== '{') throw malformed();
  while (result === null) {
    if (text[i] === '{') {
      if (stack.length >= MAX_DIMENSIONS) {
        // PostgreSQL 18's wording (15 adds the count).
        throw new PgError(
          '54000',
          `number of array dimensions exceeds the maximum allowed (${MAX_DIMENSIONS})`,
          extra,
        );
      }
      i++;
      stack.push([]);
      skip();
      if (text[i] !== '}') continue;
    } else {
      stack[stack.length - 1]!.push(element());
      skip();
      if (text[i] === ',') {
        i++;
        skip();
        if (text[i] === '}') throw malformed();
        continue;
      }
    }
    // Closing braces end levels; a level ends in `}` and is followed by `,`, `}` or the end.
    for (;;) {
      if (text[i] !== '}') throw malformed();
      i++;
      const done = stack.pop()!;
      skip();
      if (stack.length === 0) {
        if (i < text.length) throw malformed();
        result = done;
        break;
      }
      stack[stack.length - 1]!.push(done);
      if (text[i] === ',') {
        i++;
        skip();
        if (text[i] !== '{') throw malformed();
        break;
      }
    }
  }
  if (shape(result) === null) throw malformed();
  return result;
}

/** PostgreSQL's NAMEDATALEN - 1: longer identifiers are truncated (at a character boundary). */
const MAX_IDENTIFIER_BYTES = 63;

function truncateIdentifier(name: string): string {
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  let out = '';
  for (const ch of name) {
    if (Buffer.byteLength(out + ch) > MAX_IDENTIFIER_BYTES) break;
    out += ch;
  }
  return out;
}

/**
 * The parts of a dotted name as the reg* input functions read it
 * (SplitIdentifierString): `"Quoted"` parts keep case with `""` for a quote,
 * unquoted ones are lower-cased (ASCII), whitespace around parts is ignored.
 * Null for invalid syntax; [] for an empty string.
 */
export function splitQualifiedName(text: string): string[] | null {
  const parts: string[] = [];
  let i = 0;
  while (isSpace(text[i])) i++;
  if (i === text.length) return parts;
  for (;;) {
    let name = '';
    if (text[i] === '"') {
      for (;;) {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return null;
        name += text.slice(i + 1, end);
        i = end + 1;
        if (text[i] !== '"') break;
        name += '"';
      }
    } else {
      const start = i;
      while (i < text.length && text[i] !== '.' && !isSpace(text[i])) i++;
      if (i === start) return null;
      name = text.slice(start, i).replace(/[A-Z]/g, (c) => c.toLowerCase());
    }
    parts.push(truncateIdentifier(name));
    while (isSpace(text[i])) i++;
    if (i === text.length) return parts;
    if (text[i] !== '.') return null;
    i++;
    while (isSpace(text[i])) i++;
  }
}
