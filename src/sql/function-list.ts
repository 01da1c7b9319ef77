/**
 * Data for the function/type/operator allowlists (threat model F1). Pure data:
 * the logic lives in `functions.ts`.
 *
 * Every name here is a pg_catalog object of PostgreSQL 18, the parser's
 * grammar (checked by test/integration/sql-functions.test.ts against the
 * embedded server, so a typo fails CI). Some are newer than an older upstream
 * (uuidv7, casefold, any_value…); such an upstream answers 42883 itself. A name is on the list only if NO overload of it can read a
 * relation, a file, a setting, a sequence, a large object, another session or
 * the server's identity, or take SQL text / a relation name / a cursor name as
 * an argument (V86–V115). Overloads are not distinguished by type, because
 * the raw parse tree has no types; where one overload is dangerous and others
 * are not, the rule goes in ARG_COUNT_RULES (by argument count) or the name is
 * left out.
 */

/** Math, numeric and bit functions. */
// prettier-ignore
const MATH = [
  'abs', 'acos', 'acosd', 'acosh', 'asin', 'asind', 'asinh', 'atan', 'atan2', 'atan2d', 'atand', 'atanh',
  'bit_count', 'cbrt', 'ceil', 'ceiling', 'cos', 'cosd', 'cosh', 'cot', 'cotd', 'degrees', 'div', 'exp',
  'factorial', 'floor', 'gamma', 'lgamma', 'gcd', 'lcm', 'ln', 'log', 'log10', 'min_scale', 'mod', 'pi',
  'power', 'pow', 'radians', 'random', 'random_normal', 'round', 'scale', 'sign', 'sin', 'sind', 'sinh',
  'sqrt', 'tan', 'tand', 'tanh', 'trim_scale', 'trunc', 'width_bucket', 'erf', 'erfc',
  'get_bit', 'get_byte', 'set_bit', 'set_byte',
];

/** String, bytea and encoding functions (none of them interpret their argument as SQL or a name). */
// prettier-ignore
const STRING = [
  'ascii', 'bit_length', 'btrim', 'casefold', 'char_length', 'character_length', 'chr', 'concat',
  'concat_ws', 'convert', 'convert_from', 'convert_to', 'decode', 'encode', 'format', 'initcap',
  'left', 'length', 'lower', 'lpad', 'ltrim', 'normalize', 'is_normalized', 'octet_length', 'overlay',
  'parse_ident', 'position', 'quote_ident', 'quote_literal', 'quote_nullable', 'repeat', 'replace',
  'reverse', 'right', 'rpad', 'rtrim', 'split_part', 'starts_with', 'string_to_array', 'string_to_table',
  'strpos', 'substr', 'substring', 'to_ascii', 'to_bin', 'to_hex', 'to_oct', 'translate', 'unistr',
  'upper', 'unicode_assigned', 'unicode_version', 'like_escape', 'similar_to_escape', 'pg_client_encoding',
  'pg_collation_for', 'text', 'bpchar', 'varchar', 'name', 'char',
];

/** Regular expressions (POSIX). */
// prettier-ignore
const REGEX = [
  'regexp_count', 'regexp_instr', 'regexp_like', 'regexp_match', 'regexp_matches', 'regexp_replace',
  'regexp_split_to_array', 'regexp_split_to_table', 'regexp_substr',
];

/** Hashing and checksums (of the value passed in only). */
// prettier-ignore
const HASHING = ['md5', 'sha224', 'sha256', 'sha384', 'sha512', 'crc32', 'crc32c'];

/** Date/time. `age` is kept: its xid overload needs an `xid` value, and xid is not an allowed type. */
// prettier-ignore
const DATETIME = [
  'age', 'clock_timestamp', 'date_add', 'date_bin', 'date_part', 'date_subtract', 'date_trunc', 'extract',
  'isfinite', 'justify_days', 'justify_hours', 'justify_interval', 'make_date', 'make_interval',
  'make_time', 'make_timestamp', 'make_timestamptz', 'now', 'statement_timestamp', 'timeofday',
  'transaction_timestamp', 'timezone', 'overlaps', 'to_char', 'to_date', 'to_number', 'to_timestamp',
  'date', 'time', 'timetz', 'timestamp', 'timestamptz', 'interval',
];

/** Casts written as function calls: `int4(x)`, `numeric(x)`, `bool(x)` (only to allowed types). */
// prettier-ignore
const CAST_FUNCTIONS = ['int2', 'int4', 'int8', 'float4', 'float8', 'numeric', 'bool', 'money', 'bit', 'varbit'];

/** JSON / JSONB / SQL/JSON path. None take SQL text; record types are checked as TypeNames. */
// prettier-ignore
const JSON = [
  'array_to_json', 'json_array_elements', 'json_array_elements_text', 'json_array_length',
  'json_build_array', 'json_build_object', 'json_each', 'json_each_text', 'json_extract_path',
  'json_extract_path_text', 'json_object', 'json_object_keys', 'json_populate_record',
  'json_populate_recordset', 'json_strip_nulls', 'json_to_record', 'json_to_recordset', 'json_typeof',
  'jsonb_array_elements', 'jsonb_array_elements_text', 'jsonb_array_length', 'jsonb_build_array',
  'jsonb_build_object', 'jsonb_each', 'jsonb_each_text', 'jsonb_extract_path', 'jsonb_extract_path_text',
  'jsonb_insert', 'jsonb_object', 'jsonb_object_keys', 'jsonb_path_exists', 'jsonb_path_exists_tz',
  'jsonb_path_match', 'jsonb_path_match_tz', 'jsonb_path_query', 'jsonb_path_query_array',
  'jsonb_path_query_array_tz', 'jsonb_path_query_first', 'jsonb_path_query_first_tz',
  'jsonb_path_query_tz', 'jsonb_populate_record', 'jsonb_populate_record_valid',
  'jsonb_populate_recordset', 'jsonb_pretty', 'jsonb_set', 'jsonb_set_lax', 'jsonb_strip_nulls',
  'jsonb_to_record', 'jsonb_to_recordset', 'jsonb_typeof', 'row_to_json', 'to_json', 'to_jsonb',
];

/** XML construction and XPath over a value (the *_to_xml relation/query dumpers are NOT here). */
// prettier-ignore
const XML = [
  'xmlcomment', 'xmltext', 'xpath', 'xpath_exists', 'xml_is_well_formed',
  'xml_is_well_formed_content', 'xml_is_well_formed_document', 'xmlexists',
];

/** Arrays. */
// prettier-ignore
const ARRAY = [
  'array_append', 'array_cat', 'array_dims', 'array_fill', 'array_length', 'array_lower', 'array_ndims',
  'array_position', 'array_positions', 'array_prepend', 'array_remove', 'array_replace', 'array_reverse',
  'array_sample', 'array_shuffle', 'array_sort', 'array_to_string', 'array_upper', 'cardinality',
  'trim_array', 'unnest', 'generate_subscripts',
];

/** Ranges and multiranges. */
// prettier-ignore
const RANGE = [
  'lower', 'upper', 'isempty', 'lower_inc', 'upper_inc', 'lower_inf', 'upper_inf', 'range_merge',
  'multirange', 'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange',
  'int4multirange', 'int8multirange', 'nummultirange', 'tsmultirange', 'tstzmultirange', 'datemultirange',
];

/** Full-text search over values. ts_stat (runs SQL text) and ts_debug/ts_parse/ts_lexize (catalog reads) are not here. */
// prettier-ignore
const TEXT_SEARCH = [
  'to_tsvector', 'to_tsquery', 'plainto_tsquery', 'phraseto_tsquery', 'websearch_to_tsquery',
  'ts_headline', 'ts_rank', 'ts_rank_cd', 'setweight', 'strip', 'numnode', 'querytree', 'ts_delete',
  'ts_filter', 'tsvector_to_array', 'array_to_tsvector', 'ts_rewrite', 'tsquery_phrase',
];

/** Network address types. */
// prettier-ignore
const NETWORK = [
  'abbrev', 'broadcast', 'family', 'host', 'hostmask', 'inet_merge', 'inet_same_family', 'masklen',
  'netmask', 'network', 'set_masklen', 'macaddr8_set7bit', 'cidr', 'macaddr', 'macaddr8',
];

/** Geometry. */
// prettier-ignore
const GEOMETRY = [
  'area', 'center', 'diameter', 'height', 'isclosed', 'isopen', 'npoints', 'pclose', 'popen', 'radius',
  'slope', 'width', 'box', 'circle', 'line', 'lseg', 'path', 'point', 'polygon', 'bound_box',
  'isvertical', 'ishorizontal', 'isparallel', 'isperp',
];

/** UUIDs. */
// prettier-ignore
const UUID = ['gen_random_uuid', 'uuidv4', 'uuidv7', 'uuid_extract_timestamp', 'uuid_extract_version'];

/** Set-returning helpers and miscellany that only look at their arguments. */
// prettier-ignore
const MISC = [
  'generate_series', 'num_nulls', 'num_nonnulls', 'pg_typeof', 'pg_column_size', 'pg_size_pretty',
  'pg_size_bytes', 'enum_first', 'enum_last', 'enum_range', 'pg_get_keywords', 'pg_encoding_to_char',
  'pg_char_to_encoding',
  // Whether the upstream is a standby: DataGrip asks before txid_current(); reveals no object.
  'pg_is_in_recovery',
];

/**
 * Catalog functions admitted in user statements only because the virtual
 * catalog rewrites every call (catalog/calls.ts: OID arguments guarded by the
 * filtered catalogs, names resolved against the user's catalog, session
 * answers computed by the proxy, definitions of unshown objects NULL). None
 * may survive the rewrite unguarded: the re-check refuses them (XX000).
 * Must equal the handler names of catalog/calls.ts (unit-tested).
 */
// prettier-ignore
export const CATALOG_FUNCTIONS: ReadonlySet<string> = new Set([
  'format_type', 'pg_get_constraintdef', 'pg_get_indexdef', 'pg_get_viewdef', 'pg_get_expr', 'obj_description',
  'col_description', 'pg_get_function_result', 'pg_get_function_arguments', 'pg_get_function_identity_arguments',
  'pg_function_is_visible', 'pg_table_is_visible', 'pg_type_is_visible', 'has_table_privilege',
  'has_any_column_privilege', 'has_column_privilege', 'has_schema_privilege', 'has_database_privilege',
  'has_function_privilege', 'pg_get_userbyid', 'to_regclass', 'to_regtype', 'to_regnamespace', 'current_schemas',
  'version', 'pg_postmaster_start_time', 'pg_relation_is_publishable', 'pg_partition_ancestors',
  'shobj_description', 'pg_get_serial_sequence', 'pg_get_triggerdef', 'pg_get_ruledef', 'pg_get_statisticsobjdef',
  'pg_get_statisticsobjdef_columns', 'pg_get_partkeydef', 'pg_table_size', 'pg_relation_size',
  'pg_total_relation_size', 'pg_indexes_size', 'pg_database_size',
]);

/** reg* types admitted in casts because catalog/calls.ts rewrites every such cast (V114, V115). */
export const CATALOG_REG_TYPES: ReadonlySet<string> = new Set([
  'regclass',
  'regtype',
  'regnamespace',
  'regproc',
  'regprocedure',
]);

/** Aggregates (incl. ordered-set and hypothetical-set). */
// prettier-ignore
const AGGREGATES = [
  'any_value', 'array_agg', 'avg', 'bit_and', 'bit_or', 'bit_xor', 'bool_and', 'bool_or', 'corr', 'count',
  'covar_pop', 'covar_samp', 'every', 'json_agg', 'json_agg_strict', 'json_object_agg',
  'json_object_agg_strict', 'json_object_agg_unique', 'json_object_agg_unique_strict', 'jsonb_agg',
  'jsonb_agg_strict', 'jsonb_object_agg', 'jsonb_object_agg_strict', 'jsonb_object_agg_unique',
  'jsonb_object_agg_unique_strict', 'max', 'min', 'mode', 'percentile_cont', 'percentile_disc',
  'range_agg', 'range_intersect_agg', 'regr_avgx', 'regr_avgy', 'regr_count', 'regr_intercept',
  'regr_r2', 'regr_slope', 'regr_sxx', 'regr_sxy', 'regr_syy', 'stddev', 'stddev_pop', 'stddev_samp',
  'string_agg', 'sum', 'var_pop', 'var_samp', 'variance', 'xmlagg',
];

/** Window functions. */
// prettier-ignore
const WINDOW = [
  'row_number', 'rank', 'dense_rank', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value',
  'last_value', 'nth_value',
];

/**
 * `current_setting(name [, missing_ok])` is allowed only with a literal first
 * argument naming one of these (lower-case) settings: their upstream value is
 * one the proxy owns and mirrors, so it reveals nothing about the server (V91).
 */
export const CURRENT_SETTING_ALLOWED: ReadonlySet<string> = new Set([
  'datestyle',
  'intervalstyle',
  'timezone',
  'extra_float_digits',
  'client_encoding',
  'bytea_output',
  'standard_conforming_strings',
  'integer_datetimes',
  'max_identifier_length',
  'application_name',
]);

/** Names whose safe use depends on the argument count: name → allowed counts. */
export const ARG_COUNT_RULES: ReadonlyMap<string, readonly number[]> = new Map([
  // ts_rewrite(query, select text) runs SQL text through SPI (V86); the 3-argument form is pure.
  ['ts_rewrite', [3]],
  // current_setting: further checked for a literal allowlisted name (functions.ts).
  ['current_setting', [1, 2]],
  // Replaced by constants in the rewriter (identity.ts): only the real, argument-less forms.
  ['current_database', [0]],
  ['current_schema', [0]],
]);

/**
 * Allowed only because the rewriter replaces every call by a constant (V79,
 * V117): `current_database()` → the data source name, `current_schema()` → the
 * first visible schema of the session's search path. Upstream they would name
 * the real database and schemas, so none may survive the rewrite.
 */
export const REWRITTEN_FUNCTIONS: ReadonlySet<string> = new Set([
  'current_database',
  'current_schema',
  // The session's virtual pid (V98) and a virtual transaction clock (V96): identity.ts.
  'pg_backend_pid',
  'txid_current',
]);

/** SQLValueFunction ops the rewriter replaces by constants (the user's name, the data source, the schema). */
export const REWRITTEN_SQL_VALUE_FUNCTIONS: ReadonlySet<string> = new Set([
  'SVFOP_CURRENT_USER',
  'SVFOP_SESSION_USER',
  'SVFOP_USER',
  'SVFOP_CURRENT_ROLE',
  'SVFOP_CURRENT_CATALOG',
  'SVFOP_CURRENT_SCHEMA',
]);

export const ALLOWED_FUNCTIONS: ReadonlySet<string> = new Set(
  [
    ...MATH,
    ...STRING,
    ...REGEX,
    ...HASHING,
    ...DATETIME,
    ...CAST_FUNCTIONS,
    ...JSON,
    ...XML,
    ...ARRAY,
    ...RANGE,
    ...TEXT_SEARCH,
    ...NETWORK,
    ...GEOMETRY,
    ...UUID,
    ...MISC,
    ...AGGREGATES,
    ...WINDOW,
    'current_setting',
    ...REWRITTEN_FUNCTIONS,
  ].map((n) => n.toLowerCase()),
);

/**
 * Real pg_catalog functions that are deliberately NOT allowed, with the
 * vector that motivates each. Informational (tests assert each is refused and
 * exists upstream); refusal itself comes from absence in ALLOWED_FUNCTIONS.
 */
export const DENIED_FUNCTIONS: Readonly<Record<string, string>> = {
  query_to_xml: 'V86 runs SQL text',
  query_to_xml_and_xmlschema: 'V86',
  query_to_xmlschema: 'V86',
  ts_stat: 'V86 runs SQL text',
  table_to_xml: 'V87 dumps a relation',
  table_to_xml_and_xmlschema: 'V87',
  table_to_xmlschema: 'V87',
  schema_to_xml: 'V87',
  schema_to_xml_and_xmlschema: 'V87',
  schema_to_xmlschema: 'V87',
  database_to_xml: 'V87',
  database_to_xml_and_xmlschema: 'V87',
  database_to_xmlschema: 'V87',
  cursor_to_xml: 'V87 reads a cursor by name',
  cursor_to_xmlschema: 'V87',
  pg_read_file: 'V88 server files',
  pg_read_binary_file: 'V88',
  pg_stat_file: 'V88',
  pg_ls_dir: 'V88',
  pg_ls_logdir: 'V88',
  pg_ls_waldir: 'V88',
  pg_ls_tmpdir: 'V88',
  pg_ls_archive_statusdir: 'V88',
  pg_current_logfile: 'V88',
  lo_create: 'V89 large objects',
  lo_import: 'V89',
  lo_export: 'V89',
  lo_get: 'V89',
  lo_put: 'V89',
  lo_open: 'V89',
  lo_unlink: 'V89',
  loread: 'V89',
  lowrite: 'V89',
  current_query: 'V93 shows the rewritten SQL',
  set_config: 'V91 changes settings (read-only backstop)',
  pg_stat_get_activity: 'V92 other sessions',
  pg_stat_get_backend_activity: 'V92',
  pg_stat_get_live_tuples: 'V102 counters',
  pg_cancel_backend: 'V98',
  pg_terminate_backend: 'V98',
  pg_blocking_pids: 'V95',
  txid_current_snapshot: 'V96',
  pg_current_snapshot: 'V96',
  pg_current_xact_id: 'V96',
  pg_export_snapshot: 'V96',
  pg_xact_commit_timestamp: 'V96',
  pg_sleep: 'V97 holds an upstream backend',
  pg_sleep_for: 'V97',
  pg_sleep_until: 'V97',
  pg_advisory_lock: 'V99 covert channel / lock probing',
  pg_try_advisory_lock: 'V99',
  pg_advisory_xact_lock: 'V99',
  pg_advisory_unlock_all: 'V99',
  pg_notify: 'V100',
  pg_sequence_last_value: 'V102',
  nextval: 'V144 writes a sequence',
  setval: 'V144',
  currval: 'V102',
  lastval: 'V102',
  pg_get_functiondef: 'V104',
  pg_has_role: 'V110',
  to_regproc: 'V114',
  to_regrole: 'V110',
  regclass: 'V114 cast-as-function',
  pg_describe_object: 'V115',
  pg_identify_object: 'V115',
  pg_input_is_valid: 'V114 takes a type name as text',
  pg_input_error_info: 'V114',
  pg_reload_conf: 'server control',
  pg_rotate_logfile: 'server control',
  pg_partition_tree: 'V113',
  inet_server_addr: 'topology',
  inet_client_addr: 'topology',
  system_user: 'upstream auth method and role name',
  setseed: 'session state',
  get_current_ts_config: 'reads a setting',
  ts_debug: 'catalog reads',
  dblink: 'V90 (extension, not in pg_catalog)',
};

/** Functions from extensions (not in pg_catalog): the integration test skips the existence check for these. */
export const DENIED_EXTENSION_FUNCTIONS: ReadonlySet<string> = new Set(['dblink']);

/**
 * Built-in type names (last component, pg_catalog) allowed in casts,
 * column-definition lists and PREPARE parameter types. Left out on purpose:
 * every reg* type except regconfig (name lookups, V114/V115), pseudo-types
 * (internal, cstring, any*, record-ish handlers), catalog-internal types
 * (pg_node_tree, pg_ndistinct, pg_dependencies, pg_mcv_list, aclitem,
 * pg_snapshot, txid_snapshot, pg_lsn), and transaction/tuple ids (xid, xid8,
 * cid, tid), whose functions probe other sessions (V96, V126).
 * regconfig stays: `'english'::regconfig` is idiomatic full-text search and a
 * text-search configuration name is not data.
 */
// prettier-ignore
export const ALLOWED_TYPES: ReadonlySet<string> = new Set([
  'bool', 'bytea', 'char', 'name', 'int2', 'int4', 'int8', 'text', 'oid', 'json', 'jsonb', 'jsonpath',
  'xml', 'point', 'lseg', 'path', 'box', 'polygon', 'line', 'circle', 'float4', 'float8', 'money',
  'macaddr', 'macaddr8', 'inet', 'cidr', 'bpchar', 'varchar', 'date', 'time', 'timetz', 'timestamp',
  'timestamptz', 'interval', 'bit', 'varbit', 'numeric', 'uuid', 'tsvector', 'tsquery', 'regconfig',
  'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange', 'int4multirange',
  'int8multirange', 'nummultirange', 'tsmultirange', 'tstzmultirange', 'datemultirange', 'record',
]);

/**
 * reg* and internal types that are refused (for tests and documentation; refusal is by absence above).
 * The reg* types of CATALOG_REG_TYPES are admitted only as rewritten casts.
 */
// prettier-ignore
export const DENIED_TYPES: readonly string[] = [
  'regoper', 'regoperator', 'regrole',
  'regcollation', 'regdictionary', 'internal', 'cstring', 'pg_node_tree', 'pg_ndistinct',
  'pg_dependencies', 'pg_mcv_list', 'aclitem', 'pg_snapshot', 'txid_snapshot', 'pg_lsn', 'xid', 'xid8',
  'cid', 'tid', 'anyelement', 'refcursor', 'void', 'trigger',
];

/** TABLESAMPLE methods: the built-in ones only (a method is a function). */
export const ALLOWED_TABLESAMPLE_METHODS: ReadonlySet<string> = new Set(['system', 'bernoulli']);

/**
 * Operator symbols (pg_catalog). Unqualified operators are resolved by the
 * upstream, so a user-defined operator with one of these symbols in a visible
 * schema could still win for operand types pg_catalog does not cover: the
 * deparser should emit `OPERATOR(pg_catalog.op)` (V133, V160). Operators
 * qualified with any other schema are refused here.
 */
// prettier-ignore
export const ALLOWED_OPERATORS: ReadonlySet<string> = new Set([
  '!!', '!~', '!~*', '!~~', '!~~*', '#', '##', '#-', '#>', '#>>', '%', '&', '&&', '&<', '&<|', '&>', '*',
  '+', '-', '->', '->>', '-|-', '/', '<', '<->', '<<', '<<=', '<<|', '<=', '<>', '<@', '<^', '=', '>',
  '>=', '>>', '>>=', '>^', '?', '?#', '?&', '?-', '?-|', '?|', '?||', '@', '@-@', '@>', '@?', '@@', '@@@',
  '^', '^@', '|', '|&>', '|/', '|>>', '||', '||/', '~', '~*', '~=', '~~', '~~*',
]);
