/**
 * Policy targets (api-contract §6.1): which schemas, tables and columns a
 * policy applies to. Pure: shape validation shared by the REST API and the
 * YAML document, and the glob matching used by policy resolution.
 */

export const POLICY_TYPES = [
  'row_filter',
  'column_mask',
  'column_allow',
  'column_deny',
  'table_deny',
] as const;
export type PolicyType = (typeof POLICY_TYPES)[number];

export function isPolicyType(value: unknown): value is PolicyType {
  return typeof value === 'string' && (POLICY_TYPES as readonly string[]).includes(value);
}

/** Column-level types name columns in every entry; the others must not. */
export function requiresColumns(type: PolicyType): boolean {
  return type === 'column_mask' || type === 'column_allow' || type === 'column_deny';
}

/** A stored/returned entry: `columns` key omitted when absent. */
export interface TargetEntry {
  schemas: string[];
  tables: string[];
  columns?: string[];
}

/**
 * `*` matches anything, `prefix*` a prefix, `*suffix` a suffix, anything else
 * exactly (case-sensitive). The trailing-`*` rule wins, so `*ab*` means
 * "starts with `*ab`" — the same order BR checks in, kept for compatibility.
 */
export function matchesPattern(pattern: string, value: string): boolean {
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

function anyMatches(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => matchesPattern(p, value));
}

/**
 * True when some entry (entries are OR-ed) matches the upstream schema and
 * table, and, if `column` is given, one of the entry's column patterns. An
 * entry without `columns` does not constrain columns.
 */
export function targetMatches(
  targets: readonly TargetEntry[],
  schema: string,
  table: string,
  column?: string,
): boolean {
  return targets.some(
    (t) =>
      anyMatches(t.schemas, schema) &&
      anyMatches(t.tables, table) &&
      (column === undefined || t.columns === undefined || anyMatches(t.columns, column)),
  );
}

export interface TargetIssue {
  /** Path relative to the policy, e.g. `targets[0].tables`. */
  path: string;
  /** The API's message (§4.10 check 2) where one exists. */
  message: string;
}

export interface ValidateTargetsOptions {
  /**
   * Document mode (policy YAML): unknown keys and empty pattern strings are
   * errors. API mode drops unknown keys (§6.1) and leaves patterns alone.
   */
  strict?: boolean;
}

const ENTRY_KEYS = new Set(['schemas', 'tables', 'columns']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates `targets` for a policy type. Returns the normalized entries (only
 * `schemas`, `tables` and, if present, `columns`) or every issue found.
 */
export function validateTargets(
  type: PolicyType,
  raw: unknown,
  options: ValidateTargetsOptions = {},
): { ok: true; targets: TargetEntry[] } | { ok: false; issues: TargetIssue[] } {
  const issues: TargetIssue[] = [];
  if (!Array.isArray(raw)) {
    const message = raw == null ? "'targets' must not be empty" : "'targets' must be an array";
    return { ok: false, issues: [{ path: 'targets', message }] };
  }
  if (raw.length === 0)
    return { ok: false, issues: [{ path: 'targets', message: "'targets' must not be empty" }] };

  const targets: TargetEntry[] = [];
  raw.forEach((entry: unknown, i) => {
    const at = `targets[${i}]`;
    if (!isPlainObject(entry)) {
      issues.push({ path: at, message: `${at}: entry must be an object with 'schemas' and 'tables'` });
      return;
    }
    if (options.strict) {
      for (const key of Object.keys(entry)) {
        if (!ENTRY_KEYS.has(key))
          issues.push({ path: `${at}.${key}`, message: `${at}: unknown key '${key}'` });
      }
    }
    const list = (key: 'schemas' | 'tables' | 'columns', value: unknown): string[] | undefined => {
      if (!Array.isArray(value) || value.some((p) => typeof p !== 'string')) {
        issues.push({ path: `${at}.${key}`, message: `${at}: '${key}' must be an array of strings` });
        return undefined;
      }
      if (options.strict) {
        value.forEach((p: string, j) => {
          if (p.length === 0) {
            issues.push({
              path: `${at}.${key}[${j}]`,
              message: `${at}: '${key}' patterns must not be empty`,
            });
          }
        });
      }
      return [...(value as string[])];
    };
    const required = (key: 'schemas' | 'tables'): string[] | undefined => {
      const value = entry[key];
      if (value == null || (Array.isArray(value) && value.length === 0)) {
        issues.push({ path: `${at}.${key}`, message: `${at}: '${key}' must not be empty` });
        return undefined;
      }
      return list(key, value);
    };
    const schemas = required('schemas');
    const tables = required('tables');

    // `columns: null` counts as absent; `columns: []` is present but empty.
    const rawColumns = entry.columns ?? undefined;
    let columns: string[] | undefined;
    if (requiresColumns(type)) {
      if (rawColumns === undefined || (Array.isArray(rawColumns) && rawColumns.length === 0)) {
        issues.push({ path: `${at}.columns`, message: `${at}: '${type}' requires non-empty 'columns'` });
      } else {
        columns = list('columns', rawColumns);
      }
    } else if (rawColumns !== undefined) {
      issues.push({ path: `${at}.columns`, message: `${at}: '${type}' must not have 'columns'` });
    }
    if (schemas && tables) targets.push(columns ? { schemas, tables, columns } : { schemas, tables });
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, targets };
}
