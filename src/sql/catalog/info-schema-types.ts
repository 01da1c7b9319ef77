/**
 * information_schema views about types, domains, sequences, collations, CHECK
 * clauses and built-in routine parameters (threat model F2, V103–V106).
 *
 * - Domains are visible when the domain is (a type of a visible column, or
 *   built-in) and so is its base type; a domain over a hidden type is absent.
 * - A domain's CHECK clauses and default embed constants and may name
 *   functions or sequences: they are shown only for built-in domains, or for
 *   domains no filtered/masked relation uses (as pg_constraint hides CHECKs of
 *   such tables) that depend on no user relation or function. domain_constraints
 *   lists exactly the domain constraints check_constraints shows.
 * - check_constraints: rows are identified by (schema, name), which is not
 *   unique, so a row is kept only when a visible constraint of that schema and
 *   name produces exactly that clause (a hidden table's same-named CHECK stays
 *   hidden). The clause is matched in PostgreSQL 15's and 17+'s spellings.
 * - Composite types (attributes, user_defined_types) are visible when the type
 *   is in `typ`; an attribute whose type is not is left out.
 * - sequences: the model's `seq`. collations: as pg_collation (built-ins and
 *   those of visible schemas). parameters: built-in routines only, as routines.
 */
import {
  catalogs,
  notNullPseudoConstraint,
  schemas,
  typeOid,
  view,
  visibleColumn,
} from './info-schema-support.js';
import { overridden, relOid } from './pg-catalog.js';
import type { VisibleModel } from './visible.js';

/** Domains in `typ` whose base type is in `typ` too. */
export const visibleDomains = (m: VisibleModel): string =>
  `(SELECT _vd.oid FROM pg_catalog.pg_type _vd WHERE _vd.typtype = 'd' AND _vd.oid IN ${m.typ} ` +
  `AND _vd.typbasetype IN ${m.typ})`;

/** Domains (or their arrays) that a column of a filtered or masked relation has. */
const sensitiveDomains = (m: VisibleModel): string =>
  '(SELECT _sd.oid FROM pg_catalog.pg_type _sd JOIN pg_catalog.pg_attribute _sa ' +
  `ON _sa.atttypid = _sd.oid OR _sa.atttypid = _sd.typarray WHERE _sd.typtype = 'd' AND _sa.attrelid IN ${m.sens})`;

/** The object depends on no user relation or function (its text would name it). */
const namesNoUserObject = (classId: number, objId: string): string =>
  `NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend _dd WHERE _dd.classid = ${classId} AND _dd.objid = ${objId} ` +
  'AND (_dd.refclassid = 1259 OR (_dd.refclassid = 1255 AND _dd.refobjid >= 16384)))';

/** Domain constraints whose definition may be shown (see the module comment). */
const domainConstraints = (m: VisibleModel): string =>
  `(SELECT _dk.oid FROM pg_catalog.pg_constraint _dk WHERE _dk.contypid IN ${visibleDomains(m)} ` +
  `AND (_dk.contypid < 16384 OR (_dk.contypid NOT IN ${sensitiveDomains(m)} AND ${namesNoUserObject(2606, '_dk.oid')})))`;

/** The clause `_k` has in check_constraints: 17+ (CHECK, NOT NULL) and 15 spellings. */
const CLAUSES =
  'pg_catalog.pg_get_expr(_k.conbin, _k.conrelid), ' +
  'pg_catalog.substring(pg_catalog.pg_get_constraintdef(_k.oid), 7), ' +
  "pg_catalog.format('%s IS NOT NULL', COALESCE((SELECT _ka.attname FROM pg_catalog.pg_attribute _ka " +
  "WHERE _ka.attrelid = _k.conrelid AND _ka.attnum = _k.conkey[1]), 'VALUE'))";

export const INFORMATION_SCHEMA_TYPE_BUILDERS: Record<string, (m: VisibleModel) => string> = {
  sequences: (m) =>
    overridden(
      view('sequences'),
      '_x',
      { ...catalogs(m, 'sequence_catalog'), ...schemas(m, 'sequence_schema') },
      `${relOid('_x.sequence_schema', '_x.sequence_name')} IN ${m.seq}`,
    ),
  check_constraints: (m) =>
    overridden(
      view('check_constraints'),
      '_x',
      { ...catalogs(m, 'constraint_catalog'), ...schemas(m, 'constraint_schema') },
      'EXISTS (SELECT 1 FROM pg_catalog.pg_constraint _k JOIN pg_catalog.pg_namespace _kn ON _kn.oid = _k.connamespace ' +
        `WHERE _kn.nspname = _x.constraint_schema AND _k.conname = _x.constraint_name ` +
        `AND (_k.oid IN ${m.con} OR _k.oid IN ${domainConstraints(m)}) AND _x.check_clause IN (${CLAUSES})) ` +
        `OR ${notNullPseudoConstraint(m, '_x.constraint_name')}`,
    ),
  domains: (m) => {
    const oid = typeOid('_x.domain_schema', '_x.domain_name');
    return overridden(
      view('domains'),
      '_x',
      {
        ...catalogs(
          m,
          'domain_catalog',
          'character_set_catalog',
          'collation_catalog',
          'udt_catalog',
          'scope_catalog',
        ),
        ...schemas(m, 'domain_schema', 'udt_schema'),
        domain_default:
          `CASE WHEN ${oid} < 16384 OR (${oid} NOT IN ${sensitiveDomains(m)} AND ${namesNoUserObject(1247, oid)}) ` +
          'THEN _x.domain_default END',
      },
      `${oid} IN ${visibleDomains(m)}`,
    );
  },
  domain_constraints: (m) =>
    overridden(
      view('domain_constraints'),
      '_x',
      {
        ...catalogs(m, 'constraint_catalog', 'domain_catalog'),
        ...schemas(m, 'constraint_schema', 'domain_schema'),
      },
      'EXISTS (SELECT 1 FROM pg_catalog.pg_constraint _k JOIN pg_catalog.pg_namespace _kn ON _kn.oid = _k.connamespace ' +
        'WHERE _kn.nspname = _x.constraint_schema AND _k.conname = _x.constraint_name ' +
        `AND _k.contypid = ${typeOid('_x.domain_schema', '_x.domain_name')} AND _k.oid IN ${domainConstraints(m)})`,
    ),
  domain_udt_usage: (m) =>
    overridden(
      view('domain_udt_usage'),
      '_x',
      { ...catalogs(m, 'udt_catalog', 'domain_catalog'), ...schemas(m, 'udt_schema', 'domain_schema') },
      `${typeOid('_x.domain_schema', '_x.domain_name')} IN ${visibleDomains(m)}`,
    ),
  column_domain_usage: (m) =>
    overridden(
      view('column_domain_usage'),
      '_x',
      { ...catalogs(m, 'domain_catalog', 'table_catalog'), ...schemas(m, 'domain_schema', 'table_schema') },
      `${visibleColumn(m, '_x.table_schema', '_x.table_name', '_x.column_name')} AND ` +
        `${typeOid('_x.domain_schema', '_x.domain_name')} IN ${visibleDomains(m)}`,
    ),
  column_udt_usage: (m) =>
    overridden(
      view('column_udt_usage'),
      '_x',
      { ...catalogs(m, 'udt_catalog', 'table_catalog'), ...schemas(m, 'udt_schema', 'table_schema') },
      `${visibleColumn(m, '_x.table_schema', '_x.table_name', '_x.column_name')} AND ` +
        `${typeOid('_x.udt_schema', '_x.udt_name')} IN ${m.typ}`,
    ),
  attributes: (m) =>
    overridden(
      view('attributes'),
      '_x',
      {
        ...catalogs(
          m,
          'udt_catalog',
          'character_set_catalog',
          'collation_catalog',
          'attribute_udt_catalog',
          'scope_catalog',
        ),
        ...schemas(m, 'udt_schema', 'attribute_udt_schema'),
      },
      `${typeOid('_x.udt_schema', '_x.udt_name')} IN ${m.typ} AND ` +
        `${typeOid('_x.attribute_udt_schema', '_x.attribute_udt_name')} IN ${m.typ}`,
    ),
  user_defined_types: (m) =>
    overridden(
      view('user_defined_types'),
      '_x',
      {
        ...catalogs(
          m,
          'user_defined_type_catalog',
          'character_set_catalog',
          'collation_catalog',
          'ordering_routine_catalog',
        ),
        ...schemas(m, 'user_defined_type_schema'),
      },
      `${typeOid('_x.user_defined_type_schema', '_x.user_defined_type_name')} IN ${m.typ}`,
    ),
  collations: (m) =>
    overridden(
      view('collations'),
      '_x',
      { ...catalogs(m, 'collation_catalog'), ...schemas(m, 'collation_schema') },
      visibleCollation(m),
    ),
  collation_character_set_applicability: (m) =>
    overridden(
      view('collation_character_set_applicability'),
      '_x',
      { ...catalogs(m, 'collation_catalog', 'character_set_catalog'), ...schemas(m, 'collation_schema') },
      visibleCollation(m),
    ),
  parameters: (m) =>
    overridden(
      view('parameters'),
      '_x',
      catalogs(
        m,
        'specific_catalog',
        'character_set_catalog',
        'collation_catalog',
        'udt_catalog',
        'scope_catalog',
      ),
      "_x.specific_schema = 'pg_catalog'",
    ),
};

/** `_x.collation_schema`.`_x.collation_name` is a collation pg_collation shows. */
function visibleCollation(m: VisibleModel): string {
  return (
    'EXISTS (SELECT 1 FROM pg_catalog.pg_collation _cl JOIN pg_catalog.pg_namespace _cn ON _cn.oid = _cl.collnamespace ' +
    'WHERE _cn.nspname = _x.collation_schema AND _cl.collname = _x.collation_name ' +
    `AND (_cl.oid < 16384 OR _cl.collnamespace IN ${m.nsp}))`
  );
}
