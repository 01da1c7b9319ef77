/**
 * Literal-normalized rewrite templates: a repeated point query that differs
 * only in its constants (`… WHERE id = 42`, `… WHERE id = 43`) is served
 * without parsing, rewriting or deparsing — the goal is microseconds.
 *
 * Key: (policy fingerprint, search path, libpg-query's normalizeSync(sql),
 * the class of each constant). normalizeSync replaces constants by `$n`
 * using the real parser's locations; we recover the constants' text by
 * walking the input and the normalized text together (`literalSpans`), with a
 * deliberately small literal syntax: unsigned decimal numbers, plain `'…'`
 * strings, TRUE/FALSE/NULL. Anything else (negative numbers, E'' / $$ / U&'' /
 * B'' strings, 0x… or 1_000 numbers that an older upstream would not accept)
 * makes the statement ineligible and it takes the full path.
 *
 * Why the classes are in the key: the rewrite depends on the kind of a
 * constant, never on its value — the fence copies `col = <int>` but not
 * `col = <numeric>` (fence.ts) — except `current_setting('<name>')`, which the
 * allowlist decides by value: statements calling it are never templated.
 *
 * Template (built once, on the full path, for a lone `query`): each constant
 * of the user's tree is tagged before the rewrite; afterwards the tagged nodes
 * (including copies the fence made) become `$<huge n>` placeholders and the
 * tree is deparsed and split at them. The template is kept only if it passes
 * the verify step: the template filled with the original constants must parse
 * to the same tree as the verified full-path output. Filling it with another
 * statement's constants of the same classes yields the same tree modulo
 * constant values, because the parser's actions depend on token kinds, and
 * each placeholder sits between separators that keep a constant one token.
 */
import type { Node } from '@pgsql/types';
import { normalizeSync, parseSync } from 'libpg-query';
import type { SessionPolicySet } from '../policy/session.js';
import type { LruCache } from './cache.js';
import { rewriteCacheKey } from './cache.js';
import { deparseStatement } from './deparse.js';
import type { ParsedStatement } from './parse.js';
import type { RewriteResult, SessionState } from './rewrite.js';
import type { RewrittenStatement } from './statements.js';
import { sameTree } from './verify.js';

export interface NormalizedTemplate {
  /** Text between placeholders; `chunks.length === order.length + 1`. */
  chunks: string[];
  /** Constant index for each placeholder, in text order (a fence copy repeats one). */
  order: number[];
  /** Characters before / after the statement text (whitespace, comments, `;`): identical for every match. */
  prefix: number;
  suffix: number;
  statement: Omit<RewrittenStatement, 'originalSql' | 'rewrittenSql' | 'classification'>;
}

type LiteralClass = 'i' | 'f' | 's' | 'b' | 'n';
interface Span {
  start: number;
  end: number;
  cls: LiteralClass;
}

const INT4_MAX = 2147483647;
const NUMBER = /(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?/y;
const WORD = /(true|false|null)(?![A-Za-z0-9_$])/iy;
const IDENT_CHAR = /[A-Za-z0-9_$.]/;

/** One constant at `o[i]`, in the small syntax of the module comment, or null. */
function literalAt(o: string, i: number): Span | null {
  const c = o[i];
  if (c === "'") {
    for (let k = i + 1; k < o.length; k++) {
      if (o[k] !== "'") continue;
      if (o[k + 1] === "'") k++;
      else return { start: i, end: k + 1, cls: 's' };
    }
    return null;
  }
  NUMBER.lastIndex = i;
  const num = NUMBER.exec(o);
  if (num) {
    const end = i + num[0].length;
    if (end < o.length && IDENT_CHAR.test(o[end]!)) return null;
    const integer = /^[0-9]+$/.test(num[0]) && Number(num[0]) <= INT4_MAX;
    return { start: i, end, cls: integer ? 'i' : 'f' };
  }
  WORD.lastIndex = i;
  const word = WORD.exec(o);
  if (!word) return null;
  const cls = word[1]!.toLowerCase() === 'null' ? 'n' : 'b';
  return { start: i, end: i + word[0].length, cls };
}

/** The constants of `o`, given its normalized text `n`; null when they are not all in the small syntax. */
export function literalSpans(o: string, n: string): Span[] | null {
  const spans: Span[] = [];
  let i = 0;
  let j = 0;
  while (j < n.length) {
    if (o[i] === n[j]) {
      i++;
      j++;
      continue;
    }
    const placeholder = /^\$[0-9]+/.exec(n.slice(j, j + 12));
    const span = placeholder ? literalAt(o, i) : null;
    if (!placeholder || !span) return null;
    spans.push(span);
    i = span.end;
    j += placeholder[0].length;
  }
  return i === o.length ? spans : null;
}

const normalized = (sql: string): string | null => {
  try {
    return normalizeSync(sql);
  } catch {
    return null;
  }
};

const templateKey = (policy: SessionPolicySet, session: SessionState, n: string, spans: Span[]): string =>
  `${rewriteCacheKey(policy.fingerprint, session.searchPath, n)}\u0000${spans.map((s) => s.cls).join('')}`;

const fill = (t: NormalizedTemplate, literals: string[]): string => {
  let out = t.chunks[0]!;
  for (let k = 0; k < t.order.length; k++) out += literals[t.order[k]!]! + t.chunks[k + 1]!;
  return out;
};

/** The fast path: a result from a template, or null (then the caller runs the full rewrite). */
export function fromTemplate(
  sql: string,
  policy: SessionPolicySet,
  session: SessionState,
  templates: LruCache<NormalizedTemplate>,
): RewriteResult | null {
  const n = normalized(sql);
  const spans = n === null ? null : literalSpans(sql, n);
  if (n === null || spans === null || spans.length === 0) return null;
  const t = templates.get(templateKey(policy, session, n, spans));
  if (!t) return null;
  const rewrittenSql = fill(
    t,
    spans.map((s) => sql.slice(s.start, s.end)),
  );
  const originalSql = sql.slice(t.prefix, sql.length - t.suffix);
  return { statements: [{ ...t.statement, originalSql, rewrittenSql }], session };
}

/** Tag for the location of a user constant: far below any real location (-1 means "unknown"). */
const TAG = -1_000_000;
/** Placeholder numbers: far above any parameter a client can bind (65535). */
const PARAM = 1_000_000;

type Wrapper = Record<string, unknown>;

/** Every `{ A_Const }` wrapper and whether a current_setting call occurs (iterative walk). */
function constants(tree: unknown): { wrappers: Wrapper[]; settingCall: boolean } {
  const wrappers: Wrapper[] = [];
  let settingCall = false;
  const stack: unknown[] = [tree];
  while (stack.length > 0) {
    const v = stack.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v as unknown[]) stack.push(x);
      continue;
    }
    const o = v as Wrapper;
    if (o.A_Const) wrappers.push(o);
    const fn = o.FuncCall as { funcname?: { String?: { sval?: string } }[] } | undefined;
    if (fn?.funcname?.some((p) => p.String?.sval === 'current_setting')) settingCall = true;
    for (const key of Object.keys(o)) stack.push(o[key]);
  }
  return { wrappers, settingCall };
}

const CLASS_FIELD: Record<LiteralClass, string> = {
  i: 'ival',
  f: 'fval',
  s: 'sval',
  b: 'boolval',
  n: 'isnull',
};

export interface TemplateDraft {
  /** After the full rewrite of the same tree: builds, checks and stores the template (or gives up). */
  finish(tree: Node, statement: RewrittenStatement, templates: LruCache<NormalizedTemplate>): void;
}

/** Before the rewrite: tags the constants of a lone query, if it is eligible. */
export function prepareTemplate(
  sql: string,
  parsed: ParsedStatement,
  policy: SessionPolicySet,
  session: SessionState,
): TemplateDraft | null {
  const n = normalized(sql);
  const spans = n === null ? null : literalSpans(sql, n);
  if (n === null || spans === null || spans.length === 0) return null;
  const { wrappers, settingCall } = constants(parsed.node);
  if (settingCall) return null;
  const byLocation = new Map<number, Record<string, unknown>>();
  for (const w of wrappers) {
    const c = w.A_Const as Record<string, unknown>;
    if (typeof c.location === 'number') byLocation.set(c.location, c);
  }
  const ascii = !/[^\x00-\x7f]/.test(sql); // eslint-disable-line no-control-regex -- ASCII test
  const tagged: Record<string, unknown>[] = [];
  for (const s of spans) {
    const at = ascii ? s.start : Buffer.byteLength(sql.slice(0, s.start));
    const c = byLocation.get(at);
    if (!c || !(CLASS_FIELD[s.cls] in c)) return null;
    tagged.push(c);
  }
  tagged.forEach((c, k) => (c.location = TAG - k));
  const literals = spans.map((s) => sql.slice(s.start, s.end));
  const prefix = sql.indexOf(parsed.originalSql);
  const suffix = sql.length - prefix - parsed.originalSql.length;
  if (prefix < 0 || spans[0]!.start < prefix || spans[spans.length - 1]!.end > sql.length - suffix)
    return null;
  return {
    finish(tree, statement, templates) {
      const t = buildTemplate(tree, statement, literals, prefix, suffix);
      if (t) templates.set(templateKey(policy, session, n, spans), t);
    },
  };
}

const BEFORE = new Set([' ', '(', ',', '[']);
const AFTER = new Set([' ', ')', ',', ']', ';']);

function buildTemplate(
  tree: Node,
  statement: RewrittenStatement,
  literals: string[],
  prefix: number,
  suffix: number,
): NormalizedTemplate | null {
  if (statement.rewrittenSql === null) return null;
  const copy = structuredClone(tree);
  const seen = new Set<number>();
  let placed = 0;
  for (const w of constants(copy).wrappers) {
    const location = (w.A_Const as { location?: number }).location ?? 0;
    if (location > TAG || location <= TAG - literals.length) continue;
    delete w.A_Const;
    w.ParamRef = { number: PARAM + (TAG - location) };
    seen.add(TAG - location);
    placed++;
  }
  if (seen.size !== literals.length) return null;
  let text: string;
  try {
    text = deparseStatement(copy);
  } catch {
    return null;
  }
  const chunks: string[] = [];
  const order: number[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$([0-9]+)/g)) {
    const k = Number(m[1]) - PARAM;
    const end = m.index + m[0].length;
    if (k < 0) continue;
    const before = m.index === 0 ? ' ' : text[m.index - 1]!;
    const after = end === text.length ? ' ' : text[end]!;
    const cast = text.startsWith('::', end);
    if (k >= literals.length || !BEFORE.has(before) || !(AFTER.has(after) || cast)) return null;
    chunks.push(text.slice(last, m.index));
    order.push(k);
    last = end;
  }
  chunks.push(text.slice(last));
  if (order.length !== placed) return null;
  const t: NormalizedTemplate = { chunks, order, prefix, suffix, statement: summary(statement) };
  // The verify step, on the template: filled with the original constants it must mean the verified output.
  try {
    const filled = parseSync(fill(t, literals)).stmts ?? [];
    const expected = parseSync(statement.rewrittenSql).stmts ?? [];
    if (filled.length !== 1 || expected.length !== 1 || !sameTree(filled[0]!.stmt, expected[0]!.stmt))
      return null;
  } catch {
    return null;
  }
  return t;
}

function summary(s: RewrittenStatement): NormalizedTemplate['statement'] {
  return {
    kind: s.kind,
    commandTag: s.commandTag,
    policiesApplied: s.policiesApplied,
    tablesReferenced: s.tablesReferenced,
    audit: s.audit,
  };
}
