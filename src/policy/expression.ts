/**
 * Save-time validation of row-filter and column-mask expressions (contract
 * §6.3, extended by issue 3). Pure: no I/O beyond the in-process WASM parser.
 *
 * The text goes through the same template step as query-time resolution
 * (`placeholderize` in ./templates.ts: `{user.<key>}` outside quotes and
 * comments becomes a parameter placeholder, `"double"` quoted text becomes a
 * string literal as in BR, a `$n` written by the author is refused), then
 * PostgreSQL's own grammar parses `SELECT <expr>`. Sharing that step means the
 * tree validated here is the tree the proxy later executes. The tree is then
 * checked against an allowlist (./expression-walk.ts, ./expression-rules.ts).
 */
import type { Node, ParseResult, SelectStmt } from '@pgsql/types';
import { loadModule, parseSync } from 'libpg-query';
import {
  checkCondition,
  ExpressionRejected,
  walk,
  type ExpressionKind,
  type WalkContext,
} from './expression-walk.js';
import { placeholderize } from './templates.js';

export type { ExpressionKind } from './expression-walk.js';

export interface ValidExpression {
  ok: true;
  /** Distinct column names referenced (qualifier stripped), in order of first use, exactly as the parser folds them. */
  columnsReferenced: string[];
  /** Distinct template keys used as values (`{user.dept}` → `dept`); `'{user.x}'` inside quotes is plain text. */
  templates: string[];
  /**
   * The validated expression tree, before substitution: template key
   * `placeholders[n - 1]` appears as `ParamRef` number `n`. Locations refer to
   * the placeholder text, so they are only good for diagnostics.
   */
  expr: Node;
  /** Template keys by parameter number − 1, as `placeholderize` numbers them (one per distinct key). */
  placeholders: string[];
}

export interface InvalidExpression {
  ok: false;
  /** `Invalid filter expression: <detail>` / `Invalid mask expression: <detail>` (contract §6.3). */
  error: string;
}

export type ExpressionValidation = ValidExpression | InvalidExpression;

export interface ValidateOptions {
  /** Columns of the target table: when given, any other column reference is rejected. */
  columns?: readonly string[];
}

/** Policies are short; a cap keeps a hostile API caller from feeding the parser megabytes. */
const MAX_LENGTH = 10_000;

await loadModule();

/** Clauses that would turn `SELECT <expr>` into a query, named for the error message. */
const CLAUSE_NAMES: Readonly<Record<string, string>> = {
  distinctClause: 'DISTINCT',
  intoClause: 'INTO',
  fromClause: 'FROM',
  whereClause: 'WHERE',
  groupClause: 'GROUP BY',
  havingClause: 'HAVING',
  windowClause: 'WINDOW',
  valuesLists: 'VALUES',
  sortClause: 'ORDER BY',
  limitOffset: 'OFFSET',
  limitCount: 'LIMIT',
  lockingClause: 'FOR UPDATE/SHARE',
  withClause: 'WITH',
};

export function validateExpression(
  kind: ExpressionKind,
  text: string,
  options: ValidateOptions = {},
): ExpressionValidation {
  const fail = (detail: string): InvalidExpression => ({
    ok: false,
    error: `Invalid ${kind} expression: ${detail}`,
  });
  if (typeof text !== 'string' || text.trim() === '') return fail('expression is empty');
  if (text.length > MAX_LENGTH) return fail(`expression is longer than ${MAX_LENGTH} characters`);
  // The C parser stops at NUL: `1=1\0; DROP …` would validate as `1=1` while the stored text says more.
  if (text.includes('\0')) return fail('NUL characters are not allowed');

  const placed = placeholderize(text);
  if ('sqlstate' in placed) return fail(placed.message);
  const placeholders = placed.names;
  let parsed: ParseResult;
  try {
    parsed = parseSync(`SELECT ${placed.text}`);
  } catch (err) {
    return fail(syntaxDetail(err, placeholders));
  }
  try {
    const expr = singleExpression(parsed);
    const ctx: WalkContext = {
      kind,
      placeholderCount: placeholders.length,
      usedPlaceholders: [],
      columns: [],
    };
    if (kind === 'filter') checkCondition(expr);
    walk(expr, ctx);
    if (options.columns) {
      const known = new Set(options.columns);
      // Exact comparison: the parser already folded unquoted names to lower case.
      const missing = ctx.columns.find((c) => !known.has(c));
      if (missing !== undefined) return fail(`column "${missing}" does not exist on the target table`);
    }
    const templates = ctx.usedPlaceholders.map((n) => placeholders[n - 1] as string);
    return { ok: true, columnsReferenced: ctx.columns, templates, expr, placeholders };
  } catch (err) {
    if (err instanceof ExpressionRejected) return fail(err.message);
    throw err;
  }
}

/** The parser's message, with our placeholders shown as the templates the admin wrote. */
function syntaxDetail(err: unknown, placeholders: string[]): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/"\$(\d+)"/g, (whole, n: string) => {
    const key = placeholders[Number(n) - 1];
    return key === undefined ? whole : `"{user.${key}}"`;
  });
}

/** Exactly one statement, `SELECT <one unnamed expression>` and nothing else. */
function singleExpression(parsed: ParseResult): Node {
  const stmts = parsed.stmts ?? [];
  if (stmts.length !== 1) throw new ExpressionRejected('multiple statements are not allowed');
  const raw = stmts[0];
  // stmt_len is set only when a ';' ends the statement.
  if (raw?.stmt_len) throw new ExpressionRejected("';' is not allowed");
  const select = (raw?.stmt as { SelectStmt?: SelectStmt } | undefined)?.SelectStmt;
  if (!select) throw new ExpressionRejected('not an expression');
  if (select.op && select.op !== 'SETOP_NONE')
    throw new ExpressionRejected('UNION/INTERSECT/EXCEPT is not allowed');
  for (const [key, value] of Object.entries(select)) {
    if (key === 'targetList' || key === 'op' || value === undefined) continue;
    if (key === 'limitOption' && value === 'LIMIT_OPTION_DEFAULT') continue;
    throw new ExpressionRejected(`${CLAUSE_NAMES[key] ?? key} is not allowed in an expression`);
  }
  const targets = select.targetList ?? [];
  if (targets.length === 0) throw new ExpressionRejected('expression is empty');
  if (targets.length !== 1)
    throw new ExpressionRejected('write exactly one expression (no comma-separated list)');
  const target = (targets[0] as { ResTarget?: { name?: string; indirection?: Node[]; val?: Node } })
    .ResTarget;
  if (!target?.val || target.indirection) throw new ExpressionRejected('not an expression');
  if (target.name !== undefined) throw new ExpressionRejected(`aliases (AS ${target.name}) are not allowed`);
  return target.val;
}
