/**
 * Turns a stored filter or mask expression into a parse-tree node for one
 * user: parse once (with template placeholders), check the tree is a bare
 * expression, unqualify column references, substitute typed constants.
 *
 * Save-time validation (policy/expression.ts) decides which constructs a
 * policy may use; this module only re-checks what would break the secured
 * subquery if a bad expression reached the store anyway: anything that reads
 * a relation (sublinks), `*` references and stray parameters. Such an
 * expression is an error for every table it applies to (fail closed).
 */
import type { Node } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import { SQLSTATE } from '../sql/errors.js';
import type { ExprNode } from './session.js';
import { placeholderize, substituteTemplates, type TemplateError, type TemplateValue } from './templates.js';

export type ExpressionKind = 'filter' | 'mask';

export type PreparedExpr =
  /** Filter shortcut `1=1` / `true`: no filter at all. */
  | { kind: 'always' }
  /** Filter shortcut `1=0` / `false`: no rows. */
  | { kind: 'never' }
  | { kind: 'expr'; expr: ExprNode; columns: ReadonlySet<string> }
  | ({ kind: 'error' } & TemplateError);

let loaded: Promise<void> | undefined;

/** libpg-query is WASM: load it once before the first (synchronous) resolution. */
export function loadPolicyParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null;

/** Positions refer to the placeholder text, which nobody else sees. */
const POSITION_KEYS = new Set(['location', 'rexpr_list_start', 'rexpr_list_end']);

/** Nodes that would let an expression read relations or the outer query. */
const FORBIDDEN = new Set(['SubLink', 'RangeVar', 'RangeSubselect', 'SelectStmt', 'A_Star']);

class ShapeError extends Error {}

/** Drops positions, refuses forbidden nodes, and keeps only the last name of `t.col`. */
function clean(node: Json): Json {
  if (Array.isArray(node)) return node.map(clean);
  if (!isObject(node)) return node;
  const out: Record<string, Json> = {};
  for (const [key, value] of Object.entries(node)) {
    if (POSITION_KEYS.has(key)) continue;
    if (FORBIDDEN.has(key)) throw new ShapeError(`${key} is not allowed in policy expressions`);
    if (key === 'ColumnRef' && isObject(value) && Array.isArray(value.fields)) {
      const fields = value.fields.map(clean);
      // The rewriter qualifies columns with the secured subquery's alias; an
      // author's own qualifier (`t.col`) means nothing there.
      out[key] = { fields: fields.slice(-1) };
      continue;
    }
    out[key] = clean(value);
  }
  return out;
}

/** Upstream column names an expression references (unqualified, as written after case folding). */
export function columnsOf(expr: ExprNode): Set<string> {
  const found = new Set<string>();
  const walk = (node: Json): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isObject(node)) return;
    const ref = node.ColumnRef;
    if (isObject(ref) && Array.isArray(ref.fields)) {
      const last: Json = ref.fields[ref.fields.length - 1];
      if (isObject(last) && isObject(last.String) && typeof last.String.sval === 'string') {
        found.add(last.String.sval);
      }
    }
    Object.values(node).forEach(walk);
  };
  walk(expr);
  return found;
}

/** A copy of `expr` with column references renamed (`renames[old] = new`). */
export function renameColumns(expr: ExprNode, renames: ReadonlyMap<string, string>): ExprNode {
  const walk = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isObject(node)) return node;
    if (isObject(node.ColumnRef) && Array.isArray(node.ColumnRef.fields)) {
      const fields = node.ColumnRef.fields.map((f: Json) => {
        const name = isObject(f) && isObject(f.String) ? f.String.sval : undefined;
        const to = typeof name === 'string' ? renames.get(name) : undefined;
        return to === undefined ? f : { String: { sval: to } };
      });
      return { ...node, ColumnRef: { ...node.ColumnRef, fields } };
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
  };
  return walk(expr) as ExprNode;
}

const SHORTCUTS = new Map<string, 'always' | 'never'>([
  ['1=1', 'always'],
  ['true', 'always'],
  ['1=0', 'never'],
  ['false', 'never'],
]);

/**
 * Parsed trees by (kind, text): every session rebuild (attribute or policy
 * change) re-resolves, but the expressions rarely change. Trees are never
 * mutated (substitution copies), so sharing them is safe.
 */
const parseCache = new Map<string, ReturnType<typeof parseExpression>>();
const PARSE_CACHE_SIZE = 1000;

function parseCached(text: string, kind: ExpressionKind): ReturnType<typeof parseExpression> {
  const key = `${kind}\u0000${text}`;
  let parsed = parseCache.get(key);
  if (parsed === undefined) {
    parsed = parseExpression(text, kind);
    if (parseCache.size >= PARSE_CACHE_SIZE) parseCache.clear();
    parseCache.set(key, parsed);
  }
  return parsed;
}

/**
 * Parses `text` as the single target of `SELECT <text>` with template
 * placeholders and returns the tree without substitution, plus the template
 * keys by parameter number. Anything but one bare expression is an error:
 * `1 FROM secret` would otherwise parse as a query with a FROM clause.
 */
export function parseExpression(
  text: string,
  kind: ExpressionKind,
): { tree: ExprNode; names: string[] } | TemplateError {
  const label = kind === 'filter' ? 'row filter' : 'mask';
  const invalid = (detail: string): TemplateError => ({
    sqlstate: SQLSTATE.internalError,
    message: `invalid ${label} expression: ${detail}`,
  });
  const placed = placeholderize(text);
  if ('sqlstate' in placed) return invalid(placed.message);
  let parsed: { stmts?: { stmt?: Json }[] };
  try {
    parsed = parseSync(`SELECT ${placed.text}`) as typeof parsed;
  } catch (error) {
    return invalid(error instanceof Error ? error.message : String(error));
  }
  const stmts = parsed.stmts ?? [];
  const select = stmts.length === 1 && isObject(stmts[0]?.stmt) ? stmts[0].stmt.SelectStmt : undefined;
  if (!isObject(select)) return invalid('not a single expression');
  const extra = Object.keys(select).filter((k) => !['targetList', 'limitOption', 'op'].includes(k));
  const targets = select.targetList;
  if (extra.length > 0 || select.op !== 'SETOP_NONE' || !Array.isArray(targets) || targets.length !== 1) {
    return invalid('not a single expression');
  }
  const target: Json = targets[0];
  if (!isObject(target) || !isObject(target.ResTarget) || target.ResTarget.name !== undefined) {
    return invalid('not a single expression');
  }
  try {
    return { tree: clean(target.ResTarget.val) as Node, names: placed.names };
  } catch (error) {
    if (error instanceof ShapeError) return invalid(error.message);
    throw error;
  }
}

/** Parse (once per policy), then substitute this user's values. */
export function prepareExpression(
  text: unknown,
  kind: ExpressionKind,
  valueOf: (key: string) => TemplateValue,
): PreparedExpr {
  const label = kind === 'filter' ? 'filter_expression' : 'mask_expression';
  if (typeof text !== 'string' || text.trim() === '') {
    return { kind: 'error', sqlstate: SQLSTATE.internalError, message: `policy has no ${label}` };
  }
  if (kind === 'filter') {
    const shortcut = SHORTCUTS.get(text.trim().toLowerCase());
    if (shortcut) return { kind: shortcut };
  }
  const parsed = parseCached(text, kind);
  if ('sqlstate' in parsed) return { kind: 'error', ...parsed };
  const result = substituteTemplates(
    parsed.tree,
    parsed.names,
    parsed.names.map((key) => valueOf(key)),
  );
  if (!result.ok) return { kind: 'error', sqlstate: result.sqlstate, message: result.message };
  return { kind: 'expr', expr: result.expr, columns: columnsOf(result.expr) };
}
