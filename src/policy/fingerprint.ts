/**
 * The session policy set's fingerprint: sha256 over a canonical JSON form
 * (object keys sorted, `undefined` members dropped, as JSON.stringify does).
 * Equal sets hash equally however they were built, so the rewrite cache can
 * be keyed by (fingerprint, SQL text); any change in what the user may see —
 * tables, columns, masks, filters, substituted attribute values, applied
 * policies and their versions — changes it.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys in code-unit order at every level. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'bigint') return JSON.stringify(value.toString());
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && typeof v !== 'function')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function fingerprintOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}
