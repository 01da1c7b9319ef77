/**
 * The allowlists of the policy expression language (contract §6.3, extended by
 * issue 3: arithmetic, CAST to safe types and a mask function allowlist).
 *
 * Everything here is an allowlist on purpose: PostgreSQL grows new syntax and
 * functions every release, and an expression saved today is executed by the
 * proxy against every row of a protected table, so an unknown construct must
 * be refused rather than passed through.
 */

/** Binary operators (after the parser's normalization: `!=` arrives as `<>`). */
export const BINARY_OPERATORS: ReadonlySet<string> = new Set([
  '=',
  '<>',
  '<',
  '>',
  '<=',
  '>=',
  '||',
  '+',
  '-',
  '*',
  '/',
  '%',
]);

/** Operators whose result is not a boolean: a filter made only of these is not a condition. */
export const VALUE_OPERATORS: ReadonlySet<string> = new Set(['||', '+', '-', '*', '/', '%']);

/** Named in the error so admins see why `data->>'org'` does not save. */
export const JSON_OPERATORS: ReadonlySet<string> = new Set([
  '->',
  '->>',
  '#>',
  '#>>',
  '@>',
  '<@',
  '?',
  '?|',
  '?&',
  '#-',
  '@?',
  '@@',
]);

/**
 * Cast targets, as pg_type names after the parser's normalization (`int` →
 * `int4`, `double precision` → `float8`, `char(n)` → `bpchar`, `"char"` →
 * `char`). All are plain scalar types whose input/output functions read
 * nothing but their argument. `uuid` and `bytea` go beyond the list:
 * `uuid_col = {user.id}::uuid` and `encode(sha256(ssn::bytea), 'hex')` are the
 * natural ways to compare ids and hash text.
 */
export const SAFE_CAST_TYPES: ReadonlySet<string> = new Set([
  'text',
  'varchar',
  'bpchar',
  'char',
  'int2',
  'int4',
  'int8',
  'numeric',
  'float4',
  'float8',
  'bool',
  'date',
  'timestamp',
  'timestamptz',
  'uuid',
  'bytea',
]);

/**
 * Scalar built-ins allowed in masks: string shaping, rounding, hashing, date
 * formatting. Deliberately absent: anything reading relations, files,
 * settings or other sessions; set-returning and array functions; volatile
 * value sources (`now()`, `random()`; the CURRENT_DATE / CURRENT_TIMESTAMP
 * keywords cover the legitimate uses); `digest` (pgcrypto, not built in).
 * `coalesce`, `nullif`, `greatest` and `least` are not listed because the
 * parser turns them into dedicated nodes, handled by the walker.
 */
export const MASK_FUNCTIONS: ReadonlySet<string> = new Set([
  // strings
  'left',
  'right',
  'substr',
  'substring',
  'split_part',
  'strpos',
  'concat',
  'concat_ws',
  'upper',
  'lower',
  'initcap',
  'length',
  'char_length',
  'character_length',
  'octet_length',
  'btrim',
  'ltrim',
  'rtrim',
  'replace',
  'translate',
  'regexp_replace',
  'lpad',
  'rpad',
  'repeat',
  'reverse',
  // numbers
  'round',
  'trunc',
  'floor',
  'ceil',
  'ceiling',
  'abs',
  'mod',
  'sign',
  'to_number',
  // hashing and encoding
  'md5',
  'sha224',
  'sha256',
  'sha384',
  'sha512',
  'encode',
  'decode',
  'convert_to',
  'to_hex',
  // dates
  'to_char',
  'to_date',
  'to_timestamp',
  'date_trunc',
  'date_part',
  'make_date',
]);

/** Functions the parser produces from SQL-standard syntax that masks accept (`SUBSTRING(x FROM 1 FOR 3)`, `TRIM(BOTH FROM x)`). */
export const MASK_SQL_SYNTAX_FUNCTIONS: ReadonlySet<string> = new Set([
  'substring',
  'btrim',
  'ltrim',
  'rtrim',
]);

/**
 * Special syntax the parser turns into a function call, with the name the
 * admin wrote, for messages. EXTRACT, POSITION and OVERLAY stay rejected as
 * the contract requires (BR's own tests assert it; `date_part('year', d)` is
 * the accepted spelling of EXTRACT).
 */
export const SQL_SYNTAX_NAMES: Readonly<Record<string, string>> = {
  btrim: 'trim',
  ltrim: 'trim',
  rtrim: 'trim',
  timezone: 'AT TIME ZONE',
  extract: 'EXTRACT',
  position: 'POSITION',
  overlay: 'OVERLAY',
  is_normalized: 'IS NORMALIZED',
  normalize: 'NORMALIZE',
  system_user: 'SYSTEM_USER',
  pg_collation_for: 'COLLATION FOR',
};

/** Better messages than "unknown function" for per-group functions. */
export const AGGREGATE_OR_WINDOW_FUNCTIONS: ReadonlySet<string> = new Set([
  'count',
  'sum',
  'avg',
  'min',
  'max',
  'string_agg',
  'array_agg',
  'bool_and',
  'bool_or',
  'every',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'xmlagg',
  'stddev',
  'variance',
  'percentile_cont',
  'percentile_disc',
  'mode',
  'row_number',
  'rank',
  'dense_rank',
  'lag',
  'lead',
  'first_value',
  'last_value',
  'nth_value',
  'ntile',
]);

/** SQLValueFunction ops that are plain clock readings (harmless, useful for `valid_until >= CURRENT_DATE`). */
export const CLOCK_VALUE_FUNCTIONS: ReadonlySet<string> = new Set([
  'SVFOP_CURRENT_DATE',
  'SVFOP_CURRENT_TIME',
  'SVFOP_CURRENT_TIME_N',
  'SVFOP_CURRENT_TIMESTAMP',
  'SVFOP_CURRENT_TIMESTAMP_N',
  'SVFOP_LOCALTIME',
  'SVFOP_LOCALTIME_N',
  'SVFOP_LOCALTIMESTAMP',
  'SVFOP_LOCALTIMESTAMP_N',
]);

/** Rejected node types with a readable name; anything else is named by its node type. */
export const NODE_NAMES: Readonly<Record<string, string>> = {
  BooleanTest: 'IS [NOT] TRUE/FALSE/UNKNOWN',
  A_ArrayExpr: 'array constructor ARRAY[…]',
  RowExpr: 'row constructor ROW(…)',
  A_Indirection: 'subscript or field selection',
  CollateClause: 'COLLATE',
  XmlExpr: 'XML expressions',
  XmlSerialize: 'XML expressions',
  GroupingFunc: 'GROUPING',
  SetToDefault: 'DEFAULT',
  MergeSupportFunc: 'MERGE_ACTION',
};
