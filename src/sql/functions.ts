/**
 * Function, type and operator allowlist on the raw parse tree (threat model
 * F1; data in `function-list.ts`). The raw tree has no resolved types, so the
 * lists are by name (and argument count where one overload is dangerous).
 *
 * API (all return `PgError | null`, never throw):
 *   checkFunctionCall(fn: FuncCall, argTypes?: readonly string[])
 *       One call site. `argTypes` (if the caller knows them) replaces the
 *       inferred types in the error text.
 *   checkTypeName(type: TypeName, options?: FunctionCheckOptions)
 *       One type reference (cast target, column-definition list, PREPARE type).
 *   findForbiddenCalls(node: unknown, options?: FunctionCheckOptions)
 *       Walks any subtree (iteratively: deep trees do not overflow, V153) and
 *       returns the first refusal: FuncCall, TypeName (casts…), operators
 *       (A_Expr, ORDER BY … USING, SubLink), TABLESAMPLE methods and
 *       SQLValueFunction. Run it on every statement — and again on the
 *       re-parsed rewritten tree (V158).
 *
 * Errors, as PostgreSQL words them so a refused call looks like a missing one:
 *   42883 `function <name>(<types>) does not exist` + PostgreSQL's hint. Types
 *     come from the literal where the raw tree shows them (integer, bigint,
 *     numeric, boolean, unknown for strings/NULL, the cast target for a cast)
 *     and are `unknown` otherwise — so a refused and a missing function with
 *     the same arguments give byte-identical errors.
 *   42704 `type "<name as written>" does not exist` for refused types.
 *   42883 `operator does not exist: <left> <schema>.<op> <right>` (+ hint) for
 *     operators outside pg_catalog.
 *   42501 `permission denied to examine "<x>"` for current_setting('<x>') of a
 *     setting outside the allowlist (the same answer as SHOW x, settings.ts).
 *   With `{ rewritten: true }` (the check of the rewriter's output, V158):
 *   XX000 for any call the rewriter must have replaced by a constant
 *   (CURRENT_USER & co., CURRENT_CATALOG, CURRENT_SCHEMA, current_database(),
 *   current_schema()) — reaching upstream, they would name the service role,
 *   the real database or a real schema.
 * `position` is the parser's byte offset + 1; PostgreSQL counts characters,
 * so the wire layer must convert for non-ASCII statement text.
 *
 * Outside pg_catalog only information_schema._pg_expandarray(x) is admitted
 * (an array unnest that reads no catalog; JDBC metadata queries call it).
 *
 * Catalog functions (CATALOG_FUNCTIONS) and casts to the reg* types of
 * CATALOG_REG_TYPES are admitted in the user's statement because the virtual
 * catalog rewrites each of them (catalog/calls.ts); in the rewritten tree
 * only the guarded call nodes it built (catalog/trust.ts) may remain, and the
 * inner SELECTs of catalog subqueries are the rewriter's own (skipped).
 *
 * Notes: CURRENT_USER / SESSION_USER / CURRENT_ROLE / USER are allowed for now
 * although upstream they return the service role's name: the rewriter must
 * replace them with the Rowgate user's name (V117). Unqualified operators are
 * resolved upstream: the deparser should emit OPERATOR(pg_catalog.op) (V133).
 */
import type { FuncCall, Node, TypeName } from '@pgsql/types';
import { PgError, SQLSTATE } from './errors.js';
import { isAdmittedCall, isTrustedSubtree } from './catalog/trust.js';
import {
  ALLOWED_FUNCTIONS,
  CATALOG_FUNCTIONS,
  CATALOG_REG_TYPES,
  ALLOWED_OPERATORS,
  ALLOWED_TABLESAMPLE_METHODS,
  ALLOWED_TYPES,
  ARG_COUNT_RULES,
  CURRENT_SETTING_ALLOWED,
  REWRITTEN_FUNCTIONS,
  REWRITTEN_SQL_VALUE_FUNCTIONS,
} from './function-list.js';

export interface FunctionCheckOptions {
  /**
   * Hook for user-defined types (enums, domains) the session may see; the
   * virtual catalog will supply it. Default: no user type is allowed.
   */
  isVisibleType?: (schema: string | undefined, name: string) => boolean;
  /** The tree is the rewriter's output: calls it must have replaced are refused (XX000). */
  rewritten?: boolean;
}

const notReplaced = (what: string): PgError =>
  new PgError(SQLSTATE.internalError, `internal error: ${what} was not replaced`);

const NO_FUNCTION_HINT =
  'No function matches the given name and argument types. You might need to add explicit type casts.';

type AnyNode = Record<string, unknown>;

const strings = (list: Node[] | undefined): string[] =>
  (list ?? []).map((n) => ('String' in n ? (n.String.sval ?? '') : '?'));

const position = (location: number | undefined): { position?: number } =>
  location !== undefined && location >= 0 ? { position: location + 1 } : {};

/** PostgreSQL's format_type() spelling of common built-ins, for error texts. */
const TYPE_DISPLAY: Record<string, string> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  varchar: 'character varying',
  bpchar: 'character',
  varbit: 'bit varying',
  timestamp: 'timestamp without time zone',
  timestamptz: 'timestamp with time zone',
  time: 'time without time zone',
  timetz: 'time with time zone',
};

function displayType(t: TypeName): string {
  const names = strings(t.names);
  const last = names[names.length - 1] ?? '?';
  const builtin = names.length === 1 || (names.length === 2 && names[0] === 'pg_catalog');
  return (builtin ? (TYPE_DISPLAY[last] ?? last) : names.join('.')) + (t.arrayBounds?.length ? '[]' : '');
}

function argType(arg: Node): string {
  if ('A_Const' in arg) {
    const c = arg.A_Const;
    if (c.ival) return 'integer';
    if (c.fval) return /^-?\d+$/.test(c.fval.fval ?? '') ? 'bigint' : 'numeric';
    if (c.boolval) return 'boolean';
    if (c.bsval) return 'bit';
    return 'unknown'; // string literal or NULL
  }
  if ('TypeCast' in arg && arg.TypeCast.typeName) return displayType(arg.TypeCast.typeName);
  if ('NamedArgExpr' in arg) {
    const n = arg.NamedArgExpr;
    return `${n.name ?? ''} => ${n.arg ? argType(n.arg as Node) : 'unknown'}`;
  }
  return 'unknown';
}

/** The 42883 error for a function call, with PostgreSQL's wording and hint. */
export function undefinedFunction(fn: FuncCall, argTypes?: readonly string[]): PgError {
  const name = strings(fn.funcname).join('.');
  const args = fn.agg_star ? '' : (argTypes ?? (fn.args ?? []).map(argType)).join(', ');
  return new PgError(SQLSTATE.undefinedFunction, `function ${name}(${args}) does not exist`, {
    hint: NO_FUNCTION_HINT,
    ...position(fn.location),
  });
}

/** Checks one function call against the allowlist. */
export function checkFunctionCall(fn: FuncCall, argTypes?: readonly string[]): PgError | null {
  const parts = strings(fn.funcname);
  const qualified = parts.length === 2 && parts[0] === 'pg_catalog';
  const name = parts[parts.length - 1] ?? '';
  if (isInformationSchemaHelper(parts))
    return (fn.args ?? []).length === 1 ? null : undefinedFunction(fn, argTypes);
  if ((parts.length !== 1 && !qualified) || !(ALLOWED_FUNCTIONS.has(name) || CATALOG_FUNCTIONS.has(name)))
    return undefinedFunction(fn, argTypes);
  const args = fn.args ?? [];
  const counts = ARG_COUNT_RULES.get(name);
  if (counts && !counts.includes(args.length)) return undefinedFunction(fn, argTypes);
  if (name === 'current_setting') {
    const first = args[0];
    const setting = first && 'A_Const' in first ? first.A_Const.sval?.sval : undefined;
    if (setting === undefined) return undefinedFunction(fn, argTypes);
    if (!CURRENT_SETTING_ALLOWED.has(setting.toLowerCase())) {
      return new PgError(SQLSTATE.insufficientPrivilege, `permission denied to examine "${setting}"`);
    }
  }
  return null;
}

/**
 * information_schema._pg_expandarray(anyarray): a SQL function of its argument
 * only (it unnests the array with subscripts, reading no catalog); JDBC's
 * getPrimaryKeys / getIndexInfo call it. information_schema belongs to the
 * bootstrap superuser, so the name cannot be redefined by the service role.
 */
function isInformationSchemaHelper(parts: readonly string[]): boolean {
  return parts.length === 2 && parts[0] === 'information_schema' && parts[1] === '_pg_expandarray';
}

/** Checks one type reference: built-in allowlist, or a user type the hook admits. */
export function checkTypeName(type: TypeName, options: FunctionCheckOptions = {}): PgError | null {
  const names = strings(type.names);
  const last = names[names.length - 1] ?? '';
  const schema = names.length > 1 ? names[0] : undefined;
  const base = last.startsWith('_') ? last.slice(1) : last;
  // reg* casts are rewritten by catalog/calls.ts; in the rewritten tree only its own casts remain.
  const reg =
    CATALOG_REG_TYPES.has(last) &&
    (options.rewritten
      ? isAdmittedCall(type)
      : castTargets.has(type) && (type.arrayBounds?.length ?? 0) <= 1);
  const builtin = ALLOWED_TYPES.has(base) || reg;
  const ok =
    !type.pct_type &&
    names.length <= 2 &&
    ((builtin && (schema === undefined || schema === 'pg_catalog')) ||
      (options.isVisibleType?.(schema, last) ?? false));
  if (ok) return null;
  const written = names.join('.') + (type.arrayBounds?.length ? '[]' : '');
  return new PgError(SQLSTATE.undefinedObject, `type "${written}" does not exist`, position(type.location));
}

const NO_OPERATOR_HINT =
  'No operator matches the given name and argument types. You might need to add explicit type casts.';

/** Operators: pg_catalog symbols only; `operands` are the A_Expr sides, for PostgreSQL's message. */
function checkOperator(
  name: Node[] | undefined,
  location: number | undefined,
  operands: [unknown, unknown] = [undefined, undefined],
): PgError | null {
  const parts = strings(name);
  const op = parts[parts.length - 1] ?? '';
  if (
    (parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog')) &&
    ALLOWED_OPERATORS.has(op)
  ) {
    return null;
  }
  const side = (n: unknown): string[] => (n ? [argType(n as Node)] : []);
  const text = [...side(operands[0]), parts.join('.'), ...side(operands[1])].join(' ');
  return new PgError(SQLSTATE.undefinedFunction, `operator does not exist: ${text}`, {
    hint: NO_OPERATOR_HINT,
    ...position(location),
  });
}

/** A_Expr kinds whose `name` is a real operator (BETWEEN and friends carry keywords instead). */
const OPERATOR_KINDS = new Set([
  'AEXPR_OP',
  'AEXPR_OP_ANY',
  'AEXPR_OP_ALL',
  'AEXPR_DISTINCT',
  'AEXPR_NOT_DISTINCT',
  'AEXPR_NULLIF',
  'AEXPR_IN',
  'AEXPR_LIKE',
  'AEXPR_ILIKE',
  'AEXPR_SIMILAR',
]);

/** Object keys under which a bare (unwrapped) TypeName sits in the tree. */
const TYPE_NAME_KEYS = new Set([
  'TypeName',
  'typeName',
  'ofTypename',
  'datatype',
  'storedtype',
  'returnType',
  'argType',
  'sourcetype',
  'targettype',
  'type_name',
]);

/** Target types of the TypeCasts seen by the current walk: only there is a reg* type admitted at the gate. */
let castTargets = new WeakSet<object>();

function checkNode(key: string, value: AnyNode, options: FunctionCheckOptions): PgError | null {
  if (key === 'TypeCast' && value.typeName) castTargets.add(value.typeName as object);
  if (key === 'FuncCall') {
    // A call of a catalog-function template (catalog/calls.ts): its arguments are still checked.
    if (options.rewritten && isAdmittedCall(value)) return null;
    const error = checkFunctionCall(value as FuncCall);
    if (error || !options.rewritten) return error;
    const name = strings((value as FuncCall).funcname).pop() ?? '';
    return REWRITTEN_FUNCTIONS.has(name) || CATALOG_FUNCTIONS.has(name) ? notReplaced(`${name}()`) : null;
  }
  if (TYPE_NAME_KEYS.has(key)) return checkTypeName(value as TypeName, options);
  if (key === 'A_Expr' && OPERATOR_KINDS.has(value.kind as string)) {
    return checkOperator(value.name as Node[], value.location as number | undefined, [
      value.lexpr,
      value.rexpr,
    ]);
  }
  if (key === 'SortBy' && value.useOp) return checkOperator(value.useOp as Node[], value.location as number);
  if (key === 'SubLink' && value.operName) {
    return checkOperator(value.operName as Node[], value.location as number);
  }
  if (key === 'RangeTableSample') {
    const parts = strings(value.method as Node[]);
    const method = parts[parts.length - 1] ?? '';
    const qualifiedOk = parts.length === 1 || (parts.length === 2 && parts[0] === 'pg_catalog');
    if (!qualifiedOk || !ALLOWED_TABLESAMPLE_METHODS.has(method)) {
      return new PgError(
        SQLSTATE.undefinedObject,
        `tablesample method ${parts.join('.')} does not exist`,
        position(value.location as number),
      );
    }
  }
  if (
    key === 'SQLValueFunction' &&
    options.rewritten &&
    REWRITTEN_SQL_VALUE_FUNCTIONS.has(value.op as string)
  ) {
    return notReplaced(String(value.op).replace(/^SVFOP_/, ''));
  }
  return null;
}

/**
 * Walks `node` (any parse-tree fragment) depth-first, without recursion, and
 * returns the first forbidden call, type, operator or method found.
 */
export function findForbiddenCalls(node: unknown, options: FunctionCheckOptions = {}): PgError | null {
  castTargets = new WeakSet<object>();
  const stack: unknown[] = [node];
  while (stack.length > 0) {
    const current = stack.pop();
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push(current[i]);
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (isTrustedSubtree(current)) continue;
    const entries = Object.entries(current as AnyNode);
    for (let i = entries.length - 1; i >= 0; i--) {
      const [key, value] = entries[i] as [string, unknown];
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const error = checkNode(key, value as AnyNode, options);
        if (error) return error;
      }
      stack.push(value);
    }
  }
  return null;
}
