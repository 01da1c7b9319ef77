/**
 * reg* casts (`x::regclass`, `'{a,b}'::regtype[]`) for the catalog function
 * rewrite (calls.ts): every form answers only about objects of the user's
 * virtual catalog (threat model V114/V115).
 *
 * - A literal name is resolved as the type's input function reads it:
 *   regclass and regnamespace here, against the virtual catalog (emitted as
 *   upstream names; a hidden name is 42P01 / 3F000 like a missing one);
 *   regtype, regproc and regprocedure upstream with to_reg*(), then filtered,
 *   so a hidden or missing name gives NULL. `'-'` is the zero OID, as upstream.
 * - An OID (a number, a column, an expression) is guarded: hidden gives NULL.
 *   A parameter may carry a name or an OID and is looked up with to_reg*().
 * - An array constant (`'{orders,"Mixed Case",1259,NULL}'::regclass[]`) is
 *   read as array_in reads it and each element resolved as above, in order
 *   (the first missing regclass/regnamespace name raises, as upstream); the
 *   array is NULL when an OID or to_reg* element is hidden or missing.
 *   Constants with explicit bounds (`'[0:1]={…}'`) are treated as OID arrays.
 * - Any other array (`proargtypes::regtype[]`) keeps the whole array when
 *   every non-NULL element is visible (or 0) and gives NULL otherwise.
 */
import type { Node, TypeCast } from '@pgsql/types';
import { charPosition } from '../parse.js';
import type { ArrayElement } from './literals.js';
import { parseArrayLiteral } from './literals.js';
import type { CallContext } from './call-support.js';
import {
  fromTemplate,
  guarded,
  NSPS,
  PROCS,
  regclassLiteral,
  regnamespaceName,
  RELS,
  schemaLiteral,
  stringLiteral,
  TYPES,
} from './call-support.js';

/** Visible-OID set and upstream name lookup of each reg* type. */
const KINDS: Record<string, { set: string; lookup: string }> = {
  regclass: { set: RELS, lookup: 'to_regclass' },
  regtype: { set: TYPES, lookup: 'to_regtype' },
  regnamespace: { set: NSPS, lookup: 'to_regnamespace' },
  regproc: { set: PROCS, lookup: 'to_regproc' },
  regprocedure: { set: PROCS, lookup: 'to_regprocedure' },
};

/** The visible OIDs as an array, plus 0 (`-`, which names nothing). */
const visibleArray = (set: string): string => `(ARRAY${set} || '0'::pg_catalog.oid)`;

const isOidText = (text: string): boolean => /^\d+$/.test(text);

interface Cast {
  cast: TypeCast;
  type: string;
  ctx: CallContext;
  /** 1-based character position of the literal, for errors. */
  position: number | undefined;
  t: (text: string, args?: readonly Node[]) => Node;
}

/** A reg* cast → guarded or resolved (see the module comment). */
export function castReplacement(cast: TypeCast, type: string, ctx: CallContext): Node {
  const at = (cast.arg as { A_Const?: { location?: number } } | undefined)?.A_Const?.location;
  const c: Cast = {
    cast,
    type,
    ctx,
    position: at !== undefined ? charPosition(ctx.sql, at) : undefined,
    t: (text, args = [cast.arg!]) => fromTemplate(text, args, ctx.fresh),
  };
  const text = stringLiteral(cast.arg);
  if (cast.typeName?.arrayBounds?.length) {
    const elements = text !== undefined ? parseArrayLiteral(text, c.position) : null;
    return elements ? literalArray(c, elements) : oidArray(c);
  }
  if (text === '-') return c.t(`'-'::pg_catalog.${type}`, []);
  const literal = text !== undefined && !isOidText(text);
  if (type === 'regclass' && literal)
    return c.t(regclassLiteral(text, ctx.index, ctx.searchPath, c.position), []);
  if (type === 'regnamespace' && literal) {
    const schema = schemaLiteral(regnamespaceName(text, c.position), ctx.index, c.position);
    return c.t(`${schema}::pg_catalog.regnamespace`, []);
  }
  const { set, lookup } = KINDS[type]!;
  // A literal name is looked up upstream and then filtered: hidden and missing both give NULL.
  // A parameter is text or an OID in text form (to_reg* read both, as the reg* input functions do).
  const byName = literal || (cast.arg !== undefined && 'ParamRef' in cast.arg);
  const oid = byName ? `pg_catalog.${lookup}(($1)::text)::pg_catalog.oid` : '($1)::pg_catalog.oid';
  return c.t(guarded(`${oid} IN ${set}`, `(${oid})::pg_catalog.${type}`));
}

/** `oids::regtype[]` (pgcli: proargtypes::regtype[]): the whole array, or NULL if a non-NULL element is hidden. */
function oidArray(c: Cast): Node {
  const oids = '($1)::pg_catalog.oid[]';
  // array_replace maps NULL elements to 0 (`<@` never matches NULL); it keeps multi-dimensional arrays.
  return c.t(
    guarded(
      `pg_catalog.array_replace(${oids}, NULL, '0'::pg_catalog.oid) <@ ${visibleArray(KINDS[c.type]!.set)}`,
      `${oids}::pg_catalog.${c.type}[]`,
    ),
  );
}

/** A parsed array constant: each element resolved like the scalar literal, in order. */
function literalArray(c: Cast, elements: ArrayElement[]): Node {
  const { ctx, type } = c;
  const checked: Node[] = [];
  const constant = (value: string): Node => ({ A_Const: { sval: { sval: value } } }) as Node;
  const element = (e: string | null): Node => {
    if (e === null) return { A_Const: { isnull: true } } as Node;
    if (e === '-') return c.t(`'0'::pg_catalog.oid`, []);
    if (isOidText(e)) return checkedElement('($1)::pg_catalog.oid', constant(e));
    if (type === 'regclass')
      return c.t(`(${regclassLiteral(e, ctx.index, ctx.searchPath, c.position)})::pg_catalog.oid`, []);
    if (type === 'regnamespace') {
      const schema = schemaLiteral(regnamespaceName(e, c.position), ctx.index, c.position);
      return c.t(`${schema}::pg_catalog.regnamespace::pg_catalog.oid`, []);
    }
    return checkedElement(`pg_catalog.${KINDS[type]!.lookup}($1)::pg_catalog.oid`, constant(e));
  };
  const checkedElement = (template: string, value: Node): Node => {
    checked.push(c.t(template, [value]));
    return c.t(template, [value]);
  };
  const array = (items: ArrayElement[]): Node => {
    const nodes = items.map((x) => (Array.isArray(x) ? array(x) : element(x)));
    return { A_ArrayExpr: nodes.length ? { elements: nodes } : {} } as Node;
  };
  const result = array(elements);
  const value = `($1)::pg_catalog.oid[]::pg_catalog.${type}[]`;
  if (checked.length === 0) return c.t(value, [result]);
  const guard = { A_ArrayExpr: { elements: checked } } as Node;
  return c.t(guarded(`($2)::pg_catalog.oid[] <@ ${visibleArray(KINDS[type]!.set)}`, value), [result, guard]);
}
