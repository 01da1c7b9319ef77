/**
 * `arrow_type` for discovered columns (api-contract §5.6, §14.2).
 *
 * Rowgate has no Arrow layer: upstream PostgreSQL executes every query, so
 * the string is informational — but BR clients (and its UI's pre-selection,
 * `arrow_type != null`) read it, so we produce BR's vocabulary for the common
 * types. `null` means "unsupported": such columns are pre-deselected by the
 * UI and never exposed by `loadSelectedCatalog` (fail closed for types we do
 * not know, e.g. enums, composites, ranges, geometry).
 *
 * Decisions where BR's engine has no exact counterpart:
 *  - uuid, json, jsonb, xml, inet, cidr, macaddr, citext → Utf8 (clients
 *    receive them as text; they are passed through unchanged);
 *  - numeric without a declared precision → Decimal128(38,10); precision above
 *    38 → Decimal256(p,s);
 *  - arrays of a supported element type → List(<element>) (a short form of
 *    Arrow's List(Field …) rendering), other arrays → null.
 */

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
