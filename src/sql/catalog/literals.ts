/**
 * SQL literal spelling for the catalog builders. Every value that reaches a
 * catalog subquery from the policy set (schema, table and column names, the
 * data source and user names) goes through here: names are data, never SQL.
 *
 * Strings are emitted as standard strings with `'` doubled; a value holding a
 * backslash is emitted as E'…' with backslashes doubled, so it reads the same
 * whatever `standard_conforming_strings` says (threat model V164).
 */

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
