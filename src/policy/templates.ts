/**
 * Template variables in policy expressions (api-contract §5.9, §6.3; design
 * §2 "substituted after parsing, as typed constant nodes").
 *
 * An attribute value never passes through a parser. The expression text is
 * parsed once with every `{user.KEY}` replaced by a parameter reference
 * (`$1`, `$2`, … one number per distinct key); then each ParamRef node is
 * replaced by a constant node built here from the typed value. A value such
 * as `x' OR '1'='1` therefore becomes one string constant, and the deparser
 * quotes it.
 *
 * Only templates outside quoted text are variables: `'{user.tenant}'` is a
 * plain string (BR behaviour). Double-quoted text is a string literal too in
 * BR's expression language (§6.3), so it is rewritten to single quotes before
 * parsing.
 */
import type { Node } from '@pgsql/types';
import { SQLSTATE } from '../sql/errors.js';
import type { AttributeDefinitionInput } from './inputs.js';

/** A template's value for one user, typed (§5.9). */
export type TemplateValue =
  | { kind: 'string'; value: string }
  /** Kept as a bigint: JS numbers would round 64-bit ids (threat model V166). */
  | { kind: 'integer'; value: bigint }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'list'; values: string[] }
  | { kind: 'null'; sqlType: 'text' | 'bigint' | 'boolean' }
  /** No definition and not a built-in: statements on the table fail. */
  | { kind: 'undefined' };

export interface TemplateError {
  sqlstate: string;
  message: string;
}

const TEMPLATE = /^\{user\.(\w+)\}/;
const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * Replaces each `{user.KEY}` outside quotes and comments with ` $n ` and
 * double-quoted text with a single-quoted literal. Returns the template keys
 * by parameter number (`names[n - 1]`). A `$n` written by the policy author is
 * refused: it would be confused with a template.
 */
export function placeholderize(text: string): { text: string; names: string[] } | TemplateError {
  const names: string[] = [];
  let out = '';
  let i = 0;
  const identBefore = (at: number) => at > 0 && IDENT_CHAR.test(text[at - 1] as string);
  while (i < text.length) {
    const c = text[i] as string;
    const rest = text.slice(i);
    if (c === "'") {
      // E'…' strings take backslash escapes; standard strings only double the quote.
      const escapes = i > 0 && /[eE]/.test(text[i - 1] as string) && !identBefore(i - 1);
      let j = i + 1;
      while (j < text.length) {
        if (escapes && text[j] === '\\') j += 2;
        else if (text[j] === "'" && text[j + 1] === "'") j += 2;
        else if (text[j] === "'") break;
        else j++;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '"') {
      // Turning "…" into '…' after a prefix (E"…", B"…", X"…", N"…", U&"…")
      // would change what the literal means (E'…' takes backslash escapes).
      if (identBefore(i) || text[i - 1] === '&') {
        return {
          sqlstate: SQLSTATE.syntaxError,
          message: 'a double-quoted string cannot carry a prefix (E, B, X, N, U&)',
        };
      }
      let j = i + 1;
      let value = '';
      while (j < text.length) {
        if (text[j] === '"' && text[j + 1] === '"') {
          value += '"';
          j += 2;
        } else if (text[j] === '"') break;
        else value += text[j++];
      }
      out += j < text.length ? `'${value.replace(/'/g, "''")}'` : text.slice(i);
      i = j + 1;
    } else if (rest.startsWith('--')) {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
    } else if (rest.startsWith('/*')) {
      let depth = 0;
      let j = i;
      do {
        if (text.startsWith('/*', j)) {
          depth++;
          j += 2;
        } else if (text.startsWith('*/', j)) {
          depth--;
          j += 2;
        } else j++;
      } while (depth > 0 && j < text.length);
      out += text.slice(i, j);
      i = j;
    } else if (c === '$' && !identBefore(i)) {
      if (/^\$\d/.test(rest)) {
        return { sqlstate: SQLSTATE.syntaxError, message: 'parameter references ($n) are not allowed' };
      }
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(rest)?.[0];
      const close = tag === undefined ? -1 : text.indexOf(tag, i + tag.length);
      const stop = tag === undefined ? i + 1 : close < 0 ? text.length : close + tag.length;
      out += text.slice(i, stop);
      i = stop;
    } else {
      const m = TEMPLATE.exec(rest);
      if (m) {
        const key = m[1] as string;
        let n = names.indexOf(key) + 1;
        if (n === 0) n = names.push(key);
        // Spaces: `org$1` would lex as one identifier (PostgreSQL allows `$` in names).
        out += ` $${n} `;
        i += m[0].length;
      } else {
        out += c;
        i++;
      }
    }
  }
  return { text: out, names };
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

function parseInteger(text: string): bigint | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const n = BigInt(text);
  return n < I64_MIN || n > I64_MAX ? undefined : n;
}

function parseList(text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed)) return parsed.map((e) => (typeof e === 'string' ? e : JSON.stringify(e)));
  } catch {
    // Not JSON: a single element, like any other stored string (§5.9).
  }
  return [text];
}

/** Types one stored value (string form, or an array for lists) by the definition (§5.9). */
function typed(valueType: string, raw: unknown): TemplateValue {
  if (valueType === 'list') {
    if (Array.isArray(raw)) return { kind: 'list', values: raw.map((e) => String(e)) };
    return { kind: 'list', values: parseList(String(raw)) };
  }
  // A list stored for a scalar definition: use its JSON text, never its elements.
  const text = Array.isArray(raw) ? JSON.stringify(raw) : String(raw);
  if (valueType === 'integer') {
    const n = typeof raw === 'number' && Number.isSafeInteger(raw) ? BigInt(raw) : parseInteger(text);
    // "A stored value that does not parse as its type is used as a string" (§5.9).
    return n === undefined ? { kind: 'string', value: text } : { kind: 'integer', value: n };
  }
  if (valueType === 'boolean') {
    if (raw === true || text === 'true') return { kind: 'boolean', value: true };
    if (raw === false || text === 'false') return { kind: 'boolean', value: false };
  }
  return { kind: 'string', value: text };
}

function typedNull(valueType: string): TemplateValue {
  if (valueType === 'list') return { kind: 'list', values: [] };
  const sqlType = valueType === 'integer' ? 'bigint' : valueType === 'boolean' ? 'boolean' : 'text';
  return { kind: 'null', sqlType };
}

/**
 * The value of `{user.KEY}` for a user: built-ins `username` and `id` win over
 * same-named attributes; then the attribute, else the definition's default,
 * else a typed NULL; `undefined` when no definition exists.
 */
export function templateValue(
  key: string,
  user: { id: string; username: string; attributes: Readonly<Record<string, unknown>> },
  definitions: readonly AttributeDefinitionInput[],
): TemplateValue {
  if (key === 'username') return { kind: 'string', value: user.username };
  if (key === 'id') return { kind: 'string', value: user.id };
  const def = definitions.find((d) => d.key === key);
  if (!def) return { kind: 'undefined' };
  const raw = Object.hasOwn(user.attributes, key) ? user.attributes[key] : undefined;
  if (raw !== undefined && raw !== null) return typed(def.valueType, raw);
  if (def.defaultValue !== null) return typed(def.valueType, def.defaultValue);
  return typedNull(def.valueType);
}

// Constant nodes in the exact form libpg-query produces for the deparsed text
// (zero and false are empty objects), so the rewriter's re-parse check holds.
const typeName = (names: string[]) => ({
  names: names.map((sval) => ({ String: { sval } })),
  typemod: -1,
});
export const stringConst = (value: string): Node => ({ A_Const: { sval: { sval: value } } });
export const nullConst = (): Node => ({ A_Const: { isnull: true } });
export const boolConst = (value: boolean): Node => ({
  A_Const: { boolval: value ? { boolval: true } : {} },
});

const SQL_TYPES = { text: ['text'], bigint: ['pg_catalog', 'int8'], boolean: ['pg_catalog', 'bool'] };
export const typedNullConst = (sqlType: 'text' | 'bigint' | 'boolean'): Node => ({
  TypeCast: { arg: nullConst(), typeName: typeName(SQL_TYPES[sqlType]) },
});

/** int32 values as a plain integer constant; larger ones as `'…'::bigint` (never a JS number). */
export function integerConst(value: bigint): Node {
  if (value >= -(2n ** 31n) && value < 2n ** 31n) {
    return { A_Const: { ival: value === 0n ? {} : { ival: Number(value) } } };
  }
  return { TypeCast: { arg: stringConst(value.toString()), typeName: typeName(SQL_TYPES.bigint) } };
}

/** The constant node(s) of a scalar value; lists are expanded by the caller (IN lists only). */
export function scalarConst(value: Exclude<TemplateValue, { kind: 'list' | 'undefined' }>): Node {
  switch (value.kind) {
    case 'string':
      return stringConst(value.value);
    case 'integer':
      return integerConst(value.value);
    case 'boolean':
      return boolConst(value.value);
    case 'null':
      return typedNullConst(value.sqlType);
  }
}

type Json = unknown;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null;

/** `$n` → its template value; lists only as elements of an IN list. */
function paramValue(node: Json, values: readonly TemplateValue[]): TemplateValue | undefined {
  if (!isObject(node) || !isObject(node.ParamRef)) return undefined;
  const n = node.ParamRef.number;
  return typeof n === 'number' ? values[n - 1] : undefined;
}

class SubstitutionError extends Error {}

/**
 * Returns a copy of `tree` with every ParamRef replaced by the constant of
 * `values[number - 1]` (see placeholderize). In an IN list a list value
 * expands into one string constant per element, an empty list into a single
 * NULL (`IN (NULL)`: no row matches, never "no filter").
 */
export function substituteTemplates(
  tree: Node,
  names: readonly string[],
  values: readonly TemplateValue[],
): { ok: true; expr: Node } | ({ ok: false } & TemplateError) {
  const undefinedIndex = values.findIndex((v) => v.kind === 'undefined');
  if (undefinedIndex >= 0) {
    return {
      ok: false,
      sqlstate: SQLSTATE.undefinedObject,
      message: `attribute "${names[undefinedIndex]}" is not defined`,
    };
  }
  const constFor = (value: TemplateValue, number: number): Node => {
    if (value.kind === 'list' || value.kind === 'undefined') {
      throw new SubstitutionError(
        `list attribute "${names[number - 1]}" can only be used as an element of IN (...)`,
      );
    }
    return scalarConst(value);
  };
  const walk = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(walk);
    if (!isObject(node)) return node;
    const param = node.ParamRef;
    if (isObject(param) && typeof param.number === 'number') {
      const value = values[param.number - 1];
      if (!value) throw new SubstitutionError(`parameter $${param.number} is not a template`);
      return constFor(value, param.number);
    }
    const inList = isObject(node.A_Expr) && node.A_Expr.kind === 'AEXPR_IN' ? node.A_Expr : undefined;
    if (inList && isObject(inList.rexpr) && isObject(inList.rexpr.List)) {
      const items = inList.rexpr.List.items;
      const expanded = (Array.isArray(items) ? items : []).flatMap((item: Json): Json[] => {
        const value = paramValue(item, values);
        if (value?.kind !== 'list') return [walk(item)];
        return value.values.length === 0 ? [nullConst()] : value.values.map(stringConst);
      });
      return {
        A_Expr: { ...inList, lexpr: walk(inList.lexpr), rexpr: { List: { items: expanded } } },
      };
    }
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
  };
  try {
    return { ok: true, expr: walk(tree) as Node };
  } catch (error) {
    if (!(error instanceof SubstitutionError)) throw error;
    return { ok: false, sqlstate: SQLSTATE.syntaxError, message: error.message };
  }
}
