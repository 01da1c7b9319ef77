/**
 * Upstream ErrorResponse / NoticeResponse, rebuilt for the client (threat
 * model V116, V118, I4). Upstream executed the REWRITTEN statement, so its
 * texts may name what the user cannot see: the secured subquery's internal
 * alias (`_rg_1`), hidden columns reachable only inside it, the upstream
 * schema-qualified table, positions in a text the user never wrote, server
 * source locations. Every message is therefore rebuilt from an allowlist,
 * never relayed:
 *
 *  S V C       kept (severity, SQLSTATE)
 *  M           kept when it is safe (below), else a generic text per SQLSTATE
 *  D, W        kept only for data exceptions (class 22): after the fence they
 *              can only quote rows the user may see, masked (V118)
 *  H           kept for class 22 and a few hints whose shape is known
 *  P, p, q     dropped: positions and text of the rewritten statement
 *  s t c d n   dropped: object names (a domain `d` may live in a hidden schema)
 *  F L R       dropped: server source file, line, routine (version oracle)
 *
 * A primary message is safe when it contains no internal identifier and
 * either is a data exception or matches a known PostgreSQL wording whose
 * captured names the user wrote. Anything unrecognised degrades to the
 * generic text: an unhelpful message is a nuisance, a leaked name is not
 * recoverable.
 */
import { Writer } from './buffer.js';

/**
 * Internal aliases start with `_rg` + optional suffix + `_` (rewrite.ts
 * `freshPrefix`), a prefix chosen to occur nowhere in the user's text. So a
 * token of that shape the user did not write is ours.
 */
const INTERNAL = /_rg[0-9a-z]*_[0-9a-z_$]*/gi;

export function mentionsInternal(text: string, userSql: string): boolean {
  const lower = userSql.toLowerCase();
  for (const m of text.matchAll(INTERNAL)) if (!lower.includes(m[0].toLowerCase())) return true;
  return false;
}

/** Every part of a (possibly qualified, possibly quoted) name occurs in the user's text. */
function userWrote(name: string, userSql: string): boolean {
  const lower = userSql.toLowerCase();
  return name
    .split('.')
    .map((p) => p.replace(/^"|"$/g, '').trim().toLowerCase())
    .every((p) => p !== '' && lower.includes(p));
}

interface Wording {
  re: RegExp;
  /** Capture groups that are names the user must have written (others are type names). */
  names: number[];
}
const w = (re: RegExp, ...names: number[]): Wording => ({ re, names });

/** PostgreSQL's wordings (backend/parser) for errors raised on user-typed names or types. */
const WORDINGS: Record<string, Wording[]> = {
  '42703': [w(/^column "([^"]+)" does not exist$/, 1), w(/^column (\S+) does not exist$/, 1)],
  '42702': [w(/^column reference "([^"]+)" is ambiguous$/, 1)],
  '42P01': [
    w(/^missing FROM-clause entry for table "([^"]+)"$/, 1),
    w(/^invalid reference to FROM-clause entry for table "([^"]+)"$/, 1),
    w(/^relation "([^"]+)" does not exist$/, 1),
  ],
  '42712': [w(/^table name "([^"]+)" specified more than once$/, 1)],
  '42803': [
    w(/^column "([^"]+)" must appear in the GROUP BY clause or be used in an aggregate function$/, 1),
    w(/^aggregate function calls cannot be nested$/),
    w(/^(aggregate|window) functions are not allowed in [A-Za-z ]+$/),
  ],
  '42883': [w(/^function ([^(]+)\(([^)]*)\) does not exist$/, 1), w(/^operator does not exist: [^"]+$/)],
  '42725': [w(/^function ([^(]+)\(([^)]*)\) is not unique$/, 1), w(/^operator is not unique: [^"]+$/)],
  '42804': [
    w(/^argument of [A-Za-z ]+ must be type \w+, not type [\w ]+$/),
    w(/^[A-Z]+ types [\w ]+ and [\w ]+ cannot be matched$/),
    w(/^[A-Z]+ could not convert type [\w ]+ to [\w ]+$/),
  ],
  '42846': [w(/^cannot cast type [\w ]+ to [\w ]+$/)],
  '42601': [
    w(/^syntax error at or near "([^"]+)"$/, 1),
    w(/^syntax error at end of input$/),
    w(/^each [A-Z]+ query must have the same number of columns$/),
    w(/^subquery must return only one column$/),
  ],
  '42P10': [
    w(/^ORDER BY position \d+ is not in select list$/),
    w(/^for SELECT DISTINCT, ORDER BY expressions must appear in select list$/),
  ],
  '42P18': [w(/^could not determine data type of parameter \$\d+$/)],
  '42809': [w(/^window function \w+ requires an OVER clause$/)],
};

/**
 * Classes whose messages carry no object names in PostgreSQL's wording when
 * they carry no quotes (cancel, shutdown, transaction state, resources,
 * serialization): kept as written unless a quote appears.
 */
const NAMELESS_CLASSES = new Set(['0A', '21', '25', '40', '53', '54', '57']);

const GENERIC: Record<string, string> = {
  '42703': 'column does not exist',
  '42702': 'column reference is ambiguous',
  '42P01': 'relation does not exist',
  '42883': 'function does not exist',
  '42803': 'column must appear in the GROUP BY clause or be used in an aggregate function',
  '42601': 'syntax error',
  '42501': 'permission denied',
};

export function genericMessage(code: string): string {
  return GENERIC[code] ?? (code.startsWith('XX') ? 'internal error' : 'statement failed');
}

export function safeMessage(code: string, message: string, userSql: string): boolean {
  if (mentionsInternal(message, userSql)) return false;
  const cls = code.slice(0, 2);
  if (cls === '22') return true;
  for (const { re, names } of WORDINGS[code] ?? []) {
    const m = re.exec(message);
    if (m) return names.every((i) => m[i] !== undefined && userWrote(m[i], userSql));
  }
  return NAMELESS_CLASSES.has(cls) && !message.includes('"');
}

/** Hints whose shape is known: the 42703 suggestion names a column of a scope the user wrote. */
const HINTS: RegExp[] = [
  /^Perhaps you meant to reference the column "([^"]+)"( or the column "([^"]+)")?\.$/,
  /^No (function|operator) matches the given name and argument types\. You might need to add explicit type casts\.$/,
  /^Could not choose a best candidate (function|operator)\. You might need to add explicit type casts\.$/,
];

function safeHint(code: string, hint: string, userSql: string): boolean {
  if (mentionsInternal(hint, userSql)) return false;
  if (code.startsWith('22')) return true;
  const m = HINTS[0]!.exec(hint);
  if (m) {
    // The table part (before the dot) must be a name the user wrote; the column is visible there.
    return [m[1], m[3]].every((q) => q === undefined || userWrote(q.split('.')[0]!, userSql));
  }
  return HINTS.slice(1).some((re) => re.test(hint));
}

/**
 * The fields the client may see, in PostgreSQL's order. `userSql` is the
 * text the user sent (all statements of the Query, or '' when the message
 * is not tied to one, which keeps only nameless texts).
 */
export function sanitizeFields(fields: ReadonlyMap<string, string>, userSql: string): Map<string, string> {
  const severity = fields.get('S') ?? fields.get('V') ?? 'ERROR';
  const code = /^[0-9A-Z]{5}$/.test(fields.get('C') ?? '') ? fields.get('C')! : 'XX000';
  const message = fields.get('M') ?? '';
  const out = new Map<string, string>([
    ['S', severity],
    ['V', fields.get('V') ?? severity],
    ['C', code],
  ]);
  const keep = safeMessage(code, message, userSql);
  out.set('M', keep ? message : genericMessage(code));
  const dataClass = code.startsWith('22');
  // A detail or context belongs to its message: with a generic message they go too.
  const detail = fields.get('D');
  if (keep && dataClass && detail !== undefined && !mentionsInternal(detail, userSql)) out.set('D', detail);
  const hint = fields.get('H');
  if (keep && hint !== undefined && safeHint(code, hint, userSql)) out.set('H', hint);
  const where = fields.get('W');
  // CONTEXT of a data exception quotes the input ("JSON data, line 1: …"); elsewhere it quotes
  // function bodies and internal statements.
  if (
    keep &&
    dataClass &&
    where !== undefined &&
    !mentionsInternal(where, userSql) &&
    !/function|statement/i.test(where)
  )
    out.set('W', where);
  return out;
}

/** Encodes fields as an ErrorResponse ('E') or NoticeResponse ('N'). */
export function encodeNotice(type: 'E' | 'N', fields: ReadonlyMap<string, string>): Buffer {
  const writer = new Writer();
  for (const [key, value] of fields) writer.byte(key.charCodeAt(0)).cstring(value.replaceAll('\0', ''));
  return writer.byte(0).message(type);
}
