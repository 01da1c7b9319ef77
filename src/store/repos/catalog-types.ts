/**
 * `arrow_type` for discovered columns (api-contract §5.6, §14.2).
 *
 * Rowgate has no Arrow layer: upstream PostgreSQL executes every query, so
 * the string is informational — but BR clients (and its UI's pre-selection,
 * `arrow_type != null`) read it, so we produce BR's vocabulary for the common
 * types. `null` means "unsupported": such columns are pre-deselected by the
 * UI and never exposed by `loadSelectedCatalog` (fail closed for types we do
 * not know).
 *
 * Discovery (src/catalog/discover.ts) also reports each column's `BaseType`,
 * the type PostgreSQL really stores once domains are resolved (for arrays, of
 * the element), with its pg_type kind; `arrowTypeForColumn` maps that:
 *  - enums → Utf8, arrays of enums → List(Utf8): they travel as text, and
 *    filters and masks compare them upstream, where PostgreSQL executes;
 *  - domains (also nested, and arrays of domains) → the mapping of their base
 *    type (a domain over an enum is an enum);
 *  - built-in types only from pg_catalog, and of the extension types only
 *    citext: a user type that merely shares a built-in's name is not one;
 *  - composites, ranges, multiranges, pseudo-types and every other
 *    extension type (geometry, hstore, …) → null (fail closed).
 * A column without a `BaseType` (callers that build upstream columns by hand)
 * is mapped from its udt name alone by `arrowTypeFor`, where an enum's name
 * is unknown and so unsupported.
 *
 * Decisions where BR's engine has no exact counterpart:
 *  - uuid, json, jsonb, xml, inet, cidr, macaddr, citext → Utf8 (clients
 *    receive them as text; they are passed through unchanged);
 *  - numeric without a declared precision → Decimal128(38,10); precision above
 *    38 → Decimal256(p,s);
 *  - arrays of a supported element type → List(<element>) (a short form of
 *    Arrow's List(Field …) rendering), other arrays → null.
 */

/**
 * What a column's values are, as discovery resolves them: `name` is the
 * pg_type.typname of the column type with domains resolved — of the element
 * type when `is_array`. `kind`: `builtin` = a base type of pg_catalog,
 * `extension` = a base type of another schema, `enum`, or `unsupported`
 * (composite, range, multirange, pseudo-type).
 */
export interface BaseType {
  name: string;
  kind: BaseTypeKind;
  is_array: boolean;
}

export type BaseTypeKind = 'builtin' | 'extension' | 'enum' | 'unsupported';

/** The column fields the mapping reads (discovered or stored upstream columns). */
export interface ColumnTypeInfo {
  udt_name?: string | null;
  data_type?: string | null;
  numeric_precision?: number | null;
  numeric_scale?: number | null;
  base_type?: BaseType | null;
}

/** Extension (non-pg_catalog) base types that are safe to expose, by typname. */
const EXTENSION_TYPES: Record<string, string> = { citext: 'Utf8' };

/** Upstream type name (`pg_type.typname`, `udt_name`) → Arrow type string. */
const BY_UDT: Record<string, string> = {
  int2: 'Int16',
  int4: 'Int32',
  int8: 'Int64',
  float4: 'Float32',
  float8: 'Float64',
  bool: 'Boolean',
  text: 'Utf8',
  varchar: 'Utf8',
  bpchar: 'Utf8',
  name: 'Utf8',
  char: 'Utf8',
  citext: 'Utf8',
  uuid: 'Utf8',
  json: 'Utf8',
  jsonb: 'Utf8',
  xml: 'Utf8',
  inet: 'Utf8',
  cidr: 'Utf8',
  macaddr: 'Utf8',
  date: 'Date32',
  time: 'Time64(Microsecond)',
  timestamp: 'Timestamp(Microsecond,None)',
  timestamptz: 'Timestamp(Microsecond,Some("UTC"))',
  interval: 'Interval(MonthDayNano)',
  bytea: 'Binary',
};

/** `information_schema.columns.data_type` spellings → udt names, for callers without udt_name. */
const DATA_TYPE_TO_UDT: Record<string, string> = {
  smallint: 'int2',
  integer: 'int4',
  bigint: 'int8',
  real: 'float4',
  'double precision': 'float8',
  boolean: 'bool',
  'character varying': 'varchar',
  character: 'bpchar',
  'time without time zone': 'time',
  'timestamp without time zone': 'timestamp',
  'timestamp with time zone': 'timestamptz',
  numeric: 'numeric',
  decimal: 'numeric',
};

const DEFAULT_PRECISION = 38;
const DEFAULT_SCALE = 10;

function decimal(precision: number | null | undefined, scale: number | null | undefined): string {
  if (precision === null || precision === undefined)
    return `Decimal128(${DEFAULT_PRECISION},${DEFAULT_SCALE})`;
  const s = scale ?? 0;
  return precision <= 38 ? `Decimal128(${precision},${s})` : `Decimal256(${precision},${s})`;
}

/**
 * The Arrow type string for an upstream column, or null when unsupported.
 * `dataType` may carry the modifier (`numeric(10,2)`, as `format_type` prints
 * it for materialized views); explicit precision/scale win over it.
 */
export function arrowTypeFor(
  udtName: string | null | undefined,
  dataType?: string | null,
  precision?: number | null,
  scale?: number | null,
): string | null {
  const declared = /^(?:numeric|decimal)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)$/i.exec(dataType?.trim() ?? '');
  const p = precision ?? (declared?.[1] !== undefined ? Number(declared[1]) : null);
  const s = scale ?? (declared?.[2] !== undefined ? Number(declared[2]) : declared ? 0 : null);
  let udt = udtName?.trim().toLowerCase() ?? '';
  if (udt === '' && dataType) {
    const base = dataType
      .trim()
      .toLowerCase()
      .replace(/\s*\(.*\)$/, '');
    udt = DATA_TYPE_TO_UDT[base] ?? base;
  }
  if (udt.startsWith('_')) {
    const element = udt === '_numeric' ? decimal(null, null) : BY_UDT[udt.slice(1)];
    return element ? `List(${element})` : null;
  }
  if (udt === 'numeric') return decimal(p, s);
  return BY_UDT[udt] ?? null;
}

/** The Arrow type string of a discovered column, or null when unsupported (see the header). */
export function arrowTypeForColumn(column: ColumnTypeInfo): string | null {
  const base = column.base_type;
  if (!base) {
    return arrowTypeFor(column.udt_name, column.data_type, column.numeric_precision, column.numeric_scale);
  }
  let element: string | null;
  switch (base.kind) {
    case 'enum':
      element = 'Utf8';
      break;
    case 'builtin':
      // Only the scalar carries a declared precision; arrays use the default decimal.
      element = base.is_array
        ? arrowTypeFor(base.name)
        : arrowTypeFor(base.name, null, column.numeric_precision, column.numeric_scale);
      break;
    case 'extension':
      element = EXTENSION_TYPES[base.name] ?? null;
      break;
    default:
      element = null;
  }
  if (element === null) return null;
  return base.is_array ? `List(${element})` : element;
}
