/**
 * PostgreSQL's FigureColname (src/backend/parser/parse_target.c, version 18)
 * over raw parse trees: the column name PostgreSQL gives a select-list item
 * without an alias. calls.ts computes it on the ORIGINAL item before it
 * replaces catalog calls and reg* casts, and makes it explicit when the
 * replacement changed the item, so the client sees the names it would see
 * upstream (`CASE … ELSE c.reloftype::regtype::text END` stays `reloftype`).
 *
 * Names are "strong" (2: a column, field or function name) or "weak" (1: a
 * type name, `case`); a cast keeps its argument's name unless that is weak,
 * a CASE keeps its ELSE's name only when that is strong. A scalar sub-select
 * is named after its first output column (PostgreSQL reads the transformed
 * sub-query there); when that column is `*`, the name depends on the catalog
 * and is unknown here.
 */

type Obj = Record<string, unknown>;

/** A name, its strength (0 none, 1 weak, 2 strong), or `unknown` when it needs the catalog. */
type Figured = { name: string; strength: 1 | 2 } | { name: null; strength: 0 } | 'unknown';

const NONE: Figured = { name: null, strength: 0 };
const strong = (name: string): Figured => ({ name, strength: 2 });

/** The value of a `String` node, or undefined. */
function sval(node: unknown): string | undefined {
  const s = (node as { String?: { sval?: string } } | null)?.String;
  return s ? (s.sval ?? '') : undefined;
}

/** The last `String` of a list (ColumnRef fields, indirection), ignoring `*` and subscripts. */
function lastName(list: unknown): string | undefined {
  let name: string | undefined;
  for (const item of (list as unknown[] | undefined) ?? []) name = sval(item) ?? name;
  return name;
}

const XML_NAMES: Record<string, string> = {
  IS_XMLCONCAT: 'xmlconcat',
  IS_XMLELEMENT: 'xmlelement',
  IS_XMLFOREST: 'xmlforest',
  IS_XMLPARSE: 'xmlparse',
  IS_XMLPI: 'xmlpi',
  IS_XMLROOT: 'xmlroot',
  IS_XMLSERIALIZE: 'xmlserialize',
};

const JSON_FUNC_NAMES: Record<string, string> = {
  JSON_EXISTS_OP: 'json_exists',
  JSON_QUERY_OP: 'json_query',
  JSON_VALUE_OP: 'json_value',
};

/** Nodes named like a function whatever they hold. */
const FIXED_NAMES: Record<string, string> = {
  GroupingFunc: 'grouping',
  MergeSupportFunc: 'merge_action',
  A_ArrayExpr: 'array',
  RowExpr: 'row',
  CoalesceExpr: 'coalesce',
  XmlSerialize: 'xmlserialize',
  JsonParseExpr: 'json',
  JsonScalarExpr: 'json_scalar',
  JsonSerializeExpr: 'json_serialize',
  JsonObjectConstructor: 'json_object',
  JsonArrayConstructor: 'json_array',
  JsonArrayQueryConstructor: 'json_array',
  JsonObjectAgg: 'json_objectagg',
  JsonArrayAgg: 'json_arrayagg',
};

/** The output name of the first column of a (raw) SELECT, as its Query's first target entry has it. */
function firstColumnName(select: Obj | undefined): Figured {
  let s = select;
  // A set operation takes its column names from its leftmost SELECT.
  while (s && s.op !== undefined && s.op !== 'SETOP_NONE') s = s.larg as Obj | undefined;
  if (!s) return 'unknown';
  if (s.valuesLists) return strong('column1');
  const first = (s.targetList as Obj[] | undefined)?.[0]?.ResTarget as
    { name?: string; val?: Obj } | undefined;
  if (!first?.val) return 'unknown';
  if (first.name !== undefined) return strong(first.name);
  const name = isStar(first.val) ? null : figureColname(first.val);
  return name === null ? 'unknown' : strong(name);
}

/** A select-list item PostgreSQL expands into columns (`*`, `t.*`, `(x).*`): it has no name of its own. */
export function isStar(node: Obj): boolean {
  const ref = node.ColumnRef as { fields?: Obj[] } | undefined;
  const ind = node.A_Indirection as { indirection?: Obj[] } | undefined;
  const last = ref ? ref.fields?.at(-1) : ind?.indirection?.at(-1);
  return last !== undefined && 'A_Star' in last;
}

function figure(node: Obj | undefined): Figured {
  if (!node) return NONE;
  const [tag] = Object.keys(node);
  const body = (tag !== undefined ? node[tag] : undefined) as Obj | undefined;
  if (tag === undefined || !body) return NONE;
  if (Object.hasOwn(FIXED_NAMES, tag)) return strong(FIXED_NAMES[tag]!);
  switch (tag) {
    case 'ColumnRef': {
      const name = lastName(body.fields);
      return name === undefined ? NONE : strong(name);
    }
    case 'A_Indirection': {
      const name = lastName(body.indirection);
      return name === undefined ? figure(body.arg as Obj) : strong(name);
    }
    case 'FuncCall':
      return strong(lastName(body.funcname) ?? '');
    case 'A_Expr':
      return body.kind === 'AEXPR_NULLIF' ? strong('nullif') : NONE;
    case 'TypeCast': {
      const arg = figure(body.arg as Obj);
      if (arg === 'unknown' || arg.strength === 2) return arg;
      const type = lastName((body.typeName as Obj | undefined)?.names);
      return type === undefined ? arg : { name: type, strength: 1 };
    }
    case 'CollateClause':
      return figure(body.arg as Obj);
    case 'CaseExpr': {
      const result = figure(body.defresult as Obj);
      if (result === 'unknown' || result.strength === 2) return result;
      return { name: 'case', strength: 1 };
    }
    case 'SubLink':
      if (body.subLinkType === 'EXISTS_SUBLINK') return strong('exists');
      if (body.subLinkType === 'ARRAY_SUBLINK') return strong('array');
      if (body.subLinkType === 'EXPR_SUBLINK')
        return firstColumnName((body.subselect as Obj | undefined)?.SelectStmt as Obj | undefined);
      return NONE;
    case 'MinMaxExpr':
      return strong(body.op === 'IS_LEAST' ? 'least' : 'greatest');
    case 'SQLValueFunction':
      // SVFOP_CURRENT_TIME_N → current_time, SVFOP_USER → user, …
      return strong(
        String(body.op ?? 'SVFOP_CURRENT_DATE')
          .replace(/^SVFOP_/, '')
          .replace(/_N$/, '')
          .toLowerCase(),
      );
    case 'XmlExpr': {
      const name = XML_NAMES[String(body.op)];
      return name === undefined ? NONE : strong(name);
    }
    case 'JsonFuncExpr': {
      const name = JSON_FUNC_NAMES[String(body.op)];
      return name === undefined ? NONE : strong(name);
    }
    default:
      return NONE;
  }
}

/**
 * The column name PostgreSQL gives the select-list expression `node` (raw
 * parse tree): `?column?` when it figures none, null when it cannot be known
 * without the catalog (a scalar sub-select whose first column is `*`).
 */
export function figureColname(node: Obj): string | null {
  const f = figure(node);
  if (f === 'unknown') return null;
  return f.name ?? '?column?';
}
