/**
 * The visible-object model of one policy set, as SQL fragments over the real
 * upstream catalog (design §2 "Visibility follows access").
 *
 * The proxy knows the user's virtual catalog by NAME (SecuredTable: upstream
 * schema, visible schema, table, visible columns), not by upstream OID, so
 * every catalog subquery joins the real catalog against these names, shipped
 * as one array constant per list. Each set below is defined once, as a
 * MATERIALIZED CTE attached to the statement (visible-sets.ts), and the
 * fragments are uncorrelated sub-selects reading it (hashed subplans):
 *
 *   rel   oids of visible relations (tables, views, … named by the policy set)
 *   sens  the subset whose rows are filtered or whose columns are masked:
 *         their CHECK constraints, partial/expression indexes and defaults
 *         may embed tenant literals, so those stay hidden; a view definition
 *         over (or of) such a relation is shown only when it holds no
 *         constant (no quote, no number), since a constant there may name
 *         rows the user cannot see, while names alone are all visible
 *   att   (attrelid, attnum) of visible columns
 *   idx   visible indexes: on a visible relation, every column they depend on
 *         visible (pg_depend covers key, INCLUDE, expression and predicate
 *         columns; indkey is checked as well), no expression/predicate on `sens`
 *   con   visible constraints: every conkey/confkey column visible, the
 *         referenced table visible, the backing index visible, no CHECK on `sens`
 *   nsp   pg_catalog, information_schema, the schemas of visible relations and
 *         of visible types (a column's type names its schema anyway)
 *   typ   built-in types, row types of visible relations, and types (and
 *         their arrays/elements) of visible columns
 *   atd   visible defaults: visible column of a table not in `sens`, depending
 *         on no hidden relation or column other than a sequence in the table's
 *         own schema (the default names it: showing it reveals nothing new)
 *         Indexes, constraints, defaults and view definitions that call a
 *         function that is not built in stay hidden too (their text names it).
 *   seq   visible sequences: owned by (pg_depend 'a'/'i') a visible column of
 *         a table not in `sens` in the same schema, or used by a visible default;
 *         a filtered or masked table's sequences and defaults stay hidden
 *
 * Fixed catalog OIDs (identical in every PostgreSQL version) name the catalog
 * classes in pg_depend/pg_description: 1255 pg_proc, 1259 pg_class, 2604 pg_attrdef,
 * 2606 pg_constraint, 2615 pg_namespace, 2618 pg_rewrite. OIDs below 16384
 * (FirstNormalObjectId) are objects created by initdb: built-ins.
 */
import type { SessionPolicySet } from '../../policy/session.js';
import { boolArray, sqlString, textArray } from './literals.js';

/** Owner OID shown for every visible object; pg_roles shows the Rowgate user under it. */
export const SYNTHETIC_ROLE_OID = 10;

export interface VisibleModel {
  dataSource: string;
  username: string;
  /** Literals. */
  ds: string;
  user: string;
  /** FROM items (with their aliases) over the name lists. */
  tablesFrom: (alias: string) => string;
  columnsFrom: (alias: string) => string;
  /** Uncorrelated sub-selects (see the module comment). */
  rel: string;
  sens: string;
  att: string;
  idx: string;
  con: string;
  nsp: string;
  typ: string;
  atd: string;
  seq: string;
  /** Upstream → visible schema pairs, as a FROM item `alias(s, vs)`. */
  schemasFrom: (alias: string) => string;
  /**
   * The sets above, computed once per statement: `[name, SELECT]` pairs in
   * dependency order, attached to the statement as MATERIALIZED CTEs
   * (visible-sets.ts). `rel`, `sens`, … only read them.
   */
  ctes: readonly (readonly [name: string, sql: string])[];
  /**
   * `CASE WHEN <the user may read it> THEN <definitionExpr> END` for the view/matview with oid
   * `oidExpr`: every relation and column it depends on visible, and either nothing it touches
   * filtered or masked, or no constant in the text (see the module comment).
   */
  viewDefinition: (oidExpr: string, definitionExpr: string) => string;
}

/**
 * The object (`classid`, `objidExpr`) calls a function that is not built in: its definition
 * (CHECK, default, index expression, view) would name that function, which the catalog hides.
 */
const callsUserFunction = (classid: number, objidExpr: string): string =>
  `EXISTS (SELECT 1 FROM pg_catalog.pg_depend _vfn WHERE _vfn.classid = ${classid} AND _vfn.objid = ${objidExpr} ` +
  'AND _vfn.refclassid = 1255 AND _vfn.refobjid >= 16384)';

/**
 * Names of the set CTEs. `_rgv_` names are reserved: a statement that defines
 * a CTE of that prefix is refused (visible-sets.ts), so none can shadow these.
 */
export const VISIBLE_SETS = {
  rel: '_rgv_rel',
  att: '_rgv_att',
  idx: '_rgv_idx',
  con: '_rgv_con',
  typ: '_rgv_typ',
  nsp: '_rgv_nsp',
  atd: '_rgv_atd',
  seq: '_rgv_seq',
} as const;

/** Parallel arrays become rows with `ROWS FROM (unnest(a), unnest(b), …)` (multi-argument unnest is unqualified-only). */
const unnest = (array: string): string => `pg_catalog.unnest(${array})`;

export function buildVisibleModel(policy: SessionPolicySet): VisibleModel {
  const ts = policy.tables;
  const sensitive = (t: (typeof ts)[number]): boolean =>
    t.rowFilters.length > 0 || t.columns.some((c) => c.mask !== null);
  const tS = textArray(ts.map((t) => t.schema));
  const tV = textArray(ts.map((t) => t.visibleSchema));
  const tR = textArray(ts.map((t) => t.name));
  const tF = boolArray(ts.map(sensitive));
  const cols = ts.flatMap((t) => t.columns.map((c) => ({ t, c })));
  const cS = textArray(cols.map((x) => x.t.schema));
  const cR = textArray(cols.map((x) => x.t.name));
  const cC = textArray(cols.map((x) => x.c.name));
  const cM = boolArray(cols.map((x) => x.c.mask !== null));
  const tablesFrom = (a: string): string =>
    `ROWS FROM (${[tS, tV, tR, tF].map(unnest).join(', ')}) AS ${a}(s, vs, r, f)`;
  const columnsFrom = (a: string): string =>
    `ROWS FROM (${[cS, cR, cC, cM].map(unnest).join(', ')}) AS ${a}(s, r, c, m)`;
  const pairs = new Map(ts.map((t) => [t.schema, t.visibleSchema]));
  const schemasFrom = (a: string): string =>
    `ROWS FROM (${unnest(textArray([...pairs.keys()]))}, ${unnest(textArray([...pairs.values()]))}) AS ${a}(s, vs)`;

  // Each set is defined once, as a CTE over the real catalog; every reference reads the CTE.
  const ref = (name: string, cols = 'oid'): string => `(SELECT ${cols} FROM ${name})`;
  const rel = ref(VISIBLE_SETS.rel);
  const sens = `(SELECT oid FROM ${VISIBLE_SETS.rel} WHERE f)`;
  const att = ref(VISIBLE_SETS.att, 'attrelid, attnum');
  const idx = ref(VISIBLE_SETS.idx);
  const con = ref(VISIBLE_SETS.con);
  const typ = ref(VISIBLE_SETS.typ);
  const nsp = ref(VISIBLE_SETS.nsp);
  const atd = ref(VISIBLE_SETS.atd);
  const seq = ref(VISIBLE_SETS.seq);
  const relSet =
    'SELECT _vc.oid, _vt.f FROM pg_catalog.pg_class _vc JOIN pg_catalog.pg_namespace _vn ON _vn.oid = _vc.relnamespace ' +
    `JOIN ${tablesFrom('_vt')} ON _vn.nspname = _vt.s AND _vc.relname = _vt.r`;
  const attSet =
    'SELECT _va.attrelid, _va.attnum FROM pg_catalog.pg_attribute _va ' +
    'JOIN pg_catalog.pg_class _vac ON _vac.oid = _va.attrelid ' +
    'JOIN pg_catalog.pg_namespace _van ON _van.oid = _vac.relnamespace ' +
    `JOIN ${columnsFrom('_vw')} ON _van.nspname = _vw.s AND _vac.relname = _vw.r AND _va.attname = _vw.c ` +
    'WHERE _va.attnum > 0 AND NOT _va.attisdropped';
  const idxSet =
    `SELECT _vi.indexrelid AS oid FROM pg_catalog.pg_index _vi WHERE _vi.indrelid IN ${rel} ` +
    'AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend _vd WHERE _vd.classid = 1259 AND _vd.objid = _vi.indexrelid ' +
    'AND _vd.refclassid = 1259 AND (_vd.refobjid <> _vi.indrelid ' +
    `OR (_vd.refobjsubid > 0 AND (_vd.refobjid, _vd.refobjsubid) NOT IN ${att}))) ` +
    'AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(_vi.indkey::pg_catalog.int2[]) AS _vk(n) ' +
    `WHERE _vk.n <> 0 AND (_vi.indrelid, _vk.n) NOT IN ${att}) ` +
    `AND NOT ((_vi.indexprs IS NOT NULL OR _vi.indpred IS NOT NULL) AND _vi.indrelid IN ${sens}) ` +
    `AND NOT ${callsUserFunction(1259, '_vi.indexrelid')}`;
  const conSet =
    `SELECT _vo.oid FROM pg_catalog.pg_constraint _vo WHERE _vo.conrelid IN ${rel} ` +
    'AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(_vo.conkey) AS _vx(n) ' +
    `WHERE (_vo.conrelid, _vx.n) NOT IN ${att}) ` +
    `AND (_vo.confrelid = 0 OR (_vo.confrelid IN ${rel} AND NOT EXISTS (SELECT 1 FROM pg_catalog.unnest(_vo.confkey) AS _vy(n) ` +
    `WHERE (_vo.confrelid, _vy.n) NOT IN ${att}))) ` +
    `AND NOT (_vo.contype IN ('c', 'x') AND _vo.conrelid IN ${sens}) ` +
    `AND (_vo.conindid = 0 OR _vo.conindid IN ${idx}) AND NOT ${callsUserFunction(2606, '_vo.oid')}`;
  const used =
    `(SELECT _vu.atttypid FROM pg_catalog.pg_attribute _vu WHERE (_vu.attrelid, _vu.attnum) IN ${att} ` +
    `UNION ALL SELECT _vr.reltype FROM pg_catalog.pg_class _vr WHERE _vr.oid IN ${rel})`;
  const typSet =
    `SELECT _vty.oid FROM pg_catalog.pg_type _vty WHERE _vty.oid < 16384 OR _vty.oid IN ${used} ` +
    `OR _vty.typelem IN ${used} OR _vty.typarray IN ${used}`;
  // A visible column's type may live in a schema without visible tables: its name shows in the
  // column's type anyway (format_type, udt_schema), so that schema is listed too.
  const nspSet =
    "SELECT _vs.oid FROM pg_catalog.pg_namespace _vs WHERE _vs.nspname IN ('pg_catalog', 'information_schema') " +
    `OR _vs.nspname IN (SELECT _vp.s FROM ${tablesFrom('_vp')}) ` +
    `OR _vs.oid IN (SELECT _vtn.typnamespace FROM pg_catalog.pg_type _vtn WHERE _vtn.oid IN ${typ})`;
  // A sequence in the schema of the default's (visible, unfiltered) table: named by the default itself.
  const ownSequence = (dep: string, ad: string): string =>
    `EXISTS (SELECT 1 FROM pg_catalog.pg_class _vqs JOIN pg_catalog.pg_class _vqt ON _vqt.oid = ${ad}.adrelid ` +
    `WHERE _vqs.oid = ${dep}.refobjid AND _vqs.relkind = 'S' AND _vqs.relnamespace = _vqt.relnamespace)`;
  const atdSet =
    `SELECT _vad.oid FROM pg_catalog.pg_attrdef _vad WHERE _vad.adrelid NOT IN ${sens} ` +
    `AND (_vad.adrelid, _vad.adnum) IN ${att} ` +
    'AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend _vde WHERE _vde.classid = 2604 AND _vde.objid = _vad.oid ' +
    `AND _vde.refclassid = 1259 AND (_vde.refobjid NOT IN ${rel} AND NOT ${ownSequence('_vde', '_vad')} ` +
    `OR (_vde.refobjsubid > 0 AND (_vde.refobjid, _vde.refobjsubid) NOT IN ${att}))) ` +
    `AND NOT ${callsUserFunction(2604, '_vad.oid')}`;
  const seqSet =
    'SELECT _vsq.objid AS oid FROM pg_catalog.pg_depend _vsq ' +
    "JOIN pg_catalog.pg_class _vsc ON _vsc.oid = _vsq.objid AND _vsc.relkind = 'S' " +
    'JOIN pg_catalog.pg_class _vst ON _vst.oid = _vsq.refobjid AND _vst.relnamespace = _vsc.relnamespace ' +
    "WHERE _vsq.classid = 1259 AND _vsq.refclassid = 1259 AND _vsq.deptype IN ('a', 'i') " +
    `AND (_vsq.refobjid, _vsq.refobjsubid) IN ${att} AND _vsq.refobjid NOT IN ${sens} ` +
    'UNION ALL SELECT _vsd.refobjid FROM pg_catalog.pg_depend _vsd ' +
    "JOIN pg_catalog.pg_class _vse ON _vse.oid = _vsd.refobjid AND _vse.relkind = 'S' " +
    `WHERE _vsd.classid = 2604 AND _vsd.refclassid = 1259 AND _vsd.objid IN ${atd}`;
  const ctes: [string, string][] = [
    [VISIBLE_SETS.rel, relSet],
    [VISIBLE_SETS.att, attSet],
    [VISIBLE_SETS.idx, idxSet],
    [VISIBLE_SETS.con, conSet],
    [VISIBLE_SETS.typ, typSet],
    [VISIBLE_SETS.nsp, nspSet],
    [VISIBLE_SETS.atd, atdSet],
    [VISIBLE_SETS.seq, seqSet],
  ];
  const viewDefinition = (oidExpr: string, definitionExpr: string): string => {
    const deps = (where: string): string =>
      'EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite _vrw ' +
      'JOIN pg_catalog.pg_depend _vdd ON _vdd.classid = 2618 AND _vdd.objid = _vrw.oid ' +
      `WHERE _vrw.ev_class = ${oidExpr} AND _vdd.refclassid = 1259 AND _vdd.refobjid <> ${oidExpr} AND (${where}))`;
    const hidden = deps(
      `_vdd.refobjid NOT IN ${rel} OR (_vdd.refobjsubid > 0 AND (_vdd.refobjid, _vdd.refobjsubid) NOT IN ${att})`,
    );
    const sensitive = `${oidExpr} IN ${sens} OR ${deps(`_vdd.refobjid IN ${sens}`)}`;
    const userFunction =
      'EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite _vrf ' +
      `WHERE _vrf.ev_class = ${oidExpr} AND ${callsUserFunction(2618, '_vrf.oid')})`;
    // A quote starts a string constant; a digit at the start of a token starts a number.
    const constant = `${definitionExpr} ~ '''|(^|[^[:alnum:]_$])[0-9]'`;
    return `CASE WHEN NOT ${hidden} AND NOT ${userFunction} AND NOT ((${sensitive}) AND ${constant}) THEN ${definitionExpr} END`;
  };
  return {
    dataSource: policy.dataSource.name,
    username: policy.user.username,
    ds: sqlString(policy.dataSource.name),
    user: sqlString(policy.user.username),
    tablesFrom,
    columnsFrom,
    rel,
    sens,
    att,
    idx,
    con,
    nsp,
    typ,
    atd,
    seq,
    schemasFrom,
    ctes,
    viewDefinition,
  };
}
