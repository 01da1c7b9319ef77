/**
 * Allowlist walk over a parsed policy expression. Every node type, operator,
 * function and cast target must be known good; the first unknown one is
 * rejected with a detail that names it (the caller adds the
 * `Invalid filter expression: ` / `Invalid mask expression: ` prefix).
 */
import type {
  A_Const,
  A_Expr,
  BoolExpr,
  CaseExpr,
  CaseWhen,
  CoalesceExpr,
  ColumnRef,
  FuncCall,
  MinMaxExpr,
  Node,
  NullTest,
  ParamRef,
  SQLValueFunction,
  SubLink,
  TypeCast,
} from '@pgsql/types';
import {
  AGGREGATE_OR_WINDOW_FUNCTIONS,
  BINARY_OPERATORS,
  CLOCK_VALUE_FUNCTIONS,
  JSON_OPERATORS,
  MASK_FUNCTIONS,
  MASK_SQL_SYNTAX_FUNCTIONS,
  NODE_NAMES,
  SAFE_CAST_TYPES,
  SQL_SYNTAX_NAMES,
  VALUE_OPERATORS,
} from './expression-rules.js';

export type ExpressionKind = 'filter' | 'mask';

/** Thrown by the walk; `message` is the detail after the kind prefix. */
export class ExpressionRejected extends Error {}

export interface WalkContext {
  kind: ExpressionKind;
  /** Number of template placeholders (`$1` … `$n`) the template step inserted. */
  placeholderCount: number;
  /** Distinct placeholder numbers seen as ParamRef nodes, in order of first use. */
  usedPlaceholders: number[];
  /** Distinct column names in order of first reference, qualifier stripped. */
  columns: string[];
}

/** Deep enough for any real policy, shallow enough that a crafted one cannot exhaust the stack. */
const MAX_DEPTH = 200;

function reject(detail: string): never {
  throw new ExpressionRejected(detail);
}

function entry(node: Node): [string, unknown] {
  const first = Object.entries(node)[0];
  if (!first) reject('empty expression node');
  return first as [string, unknown];
}

function names(list: Node[] | undefined): string[] {
  return (list ?? []).map((n) => {
    const [type, body] = entry(n);
    return type === 'String' ? ((body as { sval?: string }).sval ?? '') : `<${type}>`;
  });
}

function filterFunction(name: string): never {
  reject(
    `Function '${name}' in filter expressions is not supported. For complex expressions, use column masks instead.`,
  );
}

export function walk(node: Node, ctx: WalkContext, depth = 0): void {
  if (depth > MAX_DEPTH) reject('expression is nested too deeply');
  const [type, body] = entry(node);
  const sub = (n: Node | undefined): void => {
    if (n) walk(n, ctx, depth + 1);
  };
  const each = (list: Node[] | undefined): void => list?.forEach(sub);
  switch (type) {
    case 'ColumnRef':
      return columnRef(body as ColumnRef, ctx);
    case 'A_Const':
      if ((body as A_Const).bsval) reject("bit-string literals (B'…', X'…') are not supported");
      return;
    case 'ParamRef':
      return paramRef(body as ParamRef, ctx);
    case 'A_Expr':
      return aExpr(body as A_Expr, ctx, sub);
    case 'BoolExpr':
      return each((body as BoolExpr).args);
    case 'NullTest':
      return sub((body as NullTest).arg as Node | undefined);
    case 'CaseExpr': {
      const c = body as CaseExpr;
      sub(c.arg as Node | undefined);
      for (const w of c.args ?? []) {
        const when = (w as { CaseWhen?: CaseWhen }).CaseWhen;
        if (!when) reject('malformed CASE');
        sub(when.expr as Node | undefined);
        sub(when.result as Node | undefined);
      }
      return sub(c.defresult as Node | undefined);
    }
    case 'CoalesceExpr':
      return each((body as CoalesceExpr).args);
    case 'MinMaxExpr': {
      const m = body as MinMaxExpr;
      if (ctx.kind === 'filter') filterFunction(m.op === 'IS_LEAST' ? 'least' : 'greatest');
      return each(m.args);
    }
    case 'TypeCast':
      return typeCast(body as TypeCast, sub);
    case 'FuncCall':
      return funcCall(body as FuncCall, ctx, each);
    case 'SQLValueFunction':
      return sqlValueFunction(body as SQLValueFunction);
    case 'SubLink':
      return reject(
        (body as SubLink).subLinkType === 'EXISTS_SUBLINK'
          ? 'EXISTS subqueries are not supported'
          : 'subqueries are not supported',
      );
    default:
      if (type.startsWith('Json')) reject('JSON expressions are not supported');
      return reject(`${NODE_NAMES[type] ?? type} is not supported`);
  }
}

function columnRef(ref: ColumnRef, ctx: WalkContext): void {
  const fields = ref.fields ?? [];
  if (fields.some((f) => 'A_Star' in f)) reject("'*' column references are not supported");
  const parts = names(fields);
  // `col` or `table.col`: the proxy qualifies columns itself, so a deeper path has no meaning.
  if (parts.length < 1 || parts.length > 2) {
    reject(`column reference '${parts.join('.')}' is not supported (use col or table.col)`);
  }
  const column = parts[parts.length - 1] as string;
  if (!ctx.columns.includes(column)) ctx.columns.push(column);
}

function paramRef(p: ParamRef, ctx: WalkContext): void {
  const n = p.number ?? 0;
  // The template step refuses `$n` typed by the author, so only its own placeholders can reach here.
  if (n >= 1 && n <= ctx.placeholderCount) {
    if (!ctx.usedPlaceholders.includes(n)) ctx.usedPlaceholders.push(n);
    return;
  }
  reject(`parameter $${n} is not supported; use {user.<key>} templates`);
}

function aExpr(e: A_Expr, ctx: WalkContext, sub: (n: Node | undefined) => void): void {
  const op = names(e.name);
  const list = (n: Node | undefined): Node[] => {
    const items = (n as { List?: { items?: Node[] } } | undefined)?.List?.items;
    if (!items) reject('expected a parenthesized list');
    return items;
  };
  switch (e.kind) {
    case 'AEXPR_OP': {
      if (op.length !== 1) reject('OPERATOR(…) syntax is not supported');
      const o = op[0] as string;
      if (!e.lexpr && o !== '-') reject(`unary operator '${o}' is not supported`);
      if (e.lexpr && !BINARY_OPERATORS.has(o)) {
        reject(
          JSON_OPERATORS.has(o)
            ? `JSON operator '${o}' is not supported`
            : `operator '${o}' is not supported`,
        );
      }
      sub(e.lexpr);
      return sub(e.rexpr);
    }
    case 'AEXPR_IN':
      sub(e.lexpr);
      return list(e.rexpr).forEach(sub);
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
      sub(e.lexpr);
      return list(e.rexpr).forEach(sub);
    case 'AEXPR_LIKE': {
      const escape =
        e.rexpr && 'FuncCall' in e.rexpr && names(e.rexpr.FuncCall.funcname).at(-1) === 'like_escape';
      if (escape) reject('LIKE … ESCAPE is not supported');
      sub(e.lexpr);
      return sub(e.rexpr);
    }
    case 'AEXPR_NULLIF':
      if (ctx.kind === 'filter') filterFunction('nullif');
      sub(e.lexpr);
      return sub(e.rexpr);
    default:
      return reject(`${A_EXPR_NAMES[e.kind ?? ''] ?? e.kind} is not supported`);
  }
}

const A_EXPR_NAMES: Readonly<Record<string, string>> = {
  AEXPR_OP_ANY: 'ANY/SOME (array)',
  AEXPR_OP_ALL: 'ALL (array)',
  AEXPR_DISTINCT: 'IS DISTINCT FROM',
  AEXPR_NOT_DISTINCT: 'IS NOT DISTINCT FROM',
  AEXPR_ILIKE: 'ILIKE',
  AEXPR_SIMILAR: 'SIMILAR TO',
  AEXPR_BETWEEN_SYM: 'BETWEEN SYMMETRIC',
  AEXPR_NOT_BETWEEN_SYM: 'NOT BETWEEN SYMMETRIC',
};

function typeCast(tc: TypeCast, sub: (n: Node | undefined) => void): void {
  const tn = tc.typeName ?? {};
  const parts = names(tn.names);
  // The parser qualifies SQL-standard type keywords with pg_catalog; any other schema could hold a user type.
  const local = parts.length === 2 && parts[0] === 'pg_catalog' ? parts.slice(1) : parts;
  const name = local.join('.');
  if (name === 'interval') reject('INTERVAL is not supported');
  // `DATE '2024-01-01'` is the only cast form without a location of its own.
  if (tc.location === undefined || tc.location < 0) {
    if (tc.arg && 'ParamRef' in tc.arg) {
      reject(
        `unexpected '${name}' before a template; to convert a template write CAST({user.<key>} AS <type>)`,
      );
    }
    reject(`typed literals (${name} '…') are not supported; use CAST('…' AS ${name})`);
  }
  if (local.length !== 1 || !SAFE_CAST_TYPES.has(name)) {
    reject(`cast to type '${local.join('.')}' is not supported`);
  }
  if (tn.setof || tn.pct_type || (tn.arrayBounds?.length ?? 0) > 0) {
    reject(`cast to array or set type '${name}' is not supported`);
  }
  for (const m of tn.typmods ?? []) {
    if (!('A_Const' in m) || !m.A_Const.ival) reject(`type modifiers of '${name}' must be integers`);
  }
  sub(tc.arg);
}

function funcCall(fc: FuncCall, ctx: WalkContext, each: (list: Node[] | undefined) => void): void {
  const parts = names(fc.funcname);
  const name = parts[parts.length - 1] ?? '';
  const sqlSyntax = fc.funcformat === 'COERCE_SQL_SYNTAX';
  const shown = sqlSyntax ? (SQL_SYNTAX_NAMES[name] ?? name) : parts.join('.');
  if (sqlSyntax && !MASK_SQL_SYNTAX_FUNCTIONS.has(name)) {
    reject(
      name === 'extract'
        ? "EXTRACT is not supported; use date_part('field', value)"
        : `${shown} is not supported`,
    );
  }
  if (ctx.kind === 'filter') filterFunction(shown);
  if (fc.over) reject(`window function '${shown}' is not supported`);
  if (fc.agg_star) reject(`'*' function arguments (${shown}(*)) are not supported`);
  if (fc.agg_distinct || fc.agg_order || fc.agg_filter || fc.agg_within_group) {
    reject(`aggregate modifiers (DISTINCT, ORDER BY, FILTER, WITHIN GROUP) in '${shown}' are not supported`);
  }
  if (fc.func_variadic) reject(`VARIADIC arguments in '${shown}' are not supported`);
  const qualified = parts.length > 2 || (parts.length === 2 && parts[0] !== 'pg_catalog');
  if (!qualified && AGGREGATE_OR_WINDOW_FUNCTIONS.has(name)) {
    reject(`aggregate or window function '${name}' is not supported (a mask is computed per row)`);
  }
  if (qualified || !MASK_FUNCTIONS.has(name)) reject(`Unknown function '${shown}' in mask expression`);
  for (const a of fc.args ?? []) {
    if ('NamedArgExpr' in a)
      reject(`named function arguments (${a.NamedArgExpr.name ?? ''} => …) are not supported`);
  }
  each(fc.args);
}

function sqlValueFunction(f: SQLValueFunction): void {
  if (CLOCK_VALUE_FUNCTIONS.has(f.op ?? '')) return;
  const shown = (f.op ?? '').replace(/^SVFOP_/, '');
  // CURRENT_USER & co. name the proxy's upstream login, never the Rowgate user: a trap for policy authors.
  reject(`${shown} is not supported (it names the upstream database login); use {user.username}`);
}

/** Filters must be conditions: a bare number or an arithmetic/concatenation result is refused at save time rather than at query time. */
export function checkCondition(node: Node): void {
  const [type, body] = entry(node);
  if (type === 'BoolExpr') {
    (body as BoolExpr).args?.forEach(checkCondition);
    return;
  }
  const c = type === 'A_Const' ? (body as A_Const) : null;
  const e = type === 'A_Expr' ? (body as A_Expr) : null;
  const op = e?.kind === 'AEXPR_OP' ? names(e.name)[0] : undefined;
  if (c?.ival || c?.fval || (op && VALUE_OPERATORS.has(op))) {
    reject('a filter must be a condition (e.g. col = value), not a value');
  }
}
