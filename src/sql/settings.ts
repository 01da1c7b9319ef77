/**
 * SET / RESET / SHOW: the proxy owns session state (threat model I7, V140).
 * Only the parameters in PARAMS exist for clients; the proxy answers SHOW
 * itself and applies allowed SETs upstream with its own statements.
 *
 * API:
 *   classifySet(stmt: VariableSetStmt, current: SessionSettings, limits?: SettingsLimits)
 *       → SetClassification | ResetClassification | PgError
 *   validateSearchPath(values: readonly string[], visibleSchemas?: Iterable<string>, userName?: string)
 *       → PgError | { value, schemas, effective }
 *   class SessionSettings — values as SHOW prints them; show(), showAll(),
 *       apply(), beginTransaction()/endTransaction(), savepoint()/rollbackToSavepoint()/
 *       releaseSavepoint(), searchPath() (the one search path both query protocols use),
 *       reportChanges() (what ParameterStatus must announce).
 *   defaultSettings(options?) → the proxy-owned initial values.
 *   upstreamSetSql(a: Assignment, isLocal): string — `SET name TO 'value'`.
 *   isKnownParameter(name), isUpstreamParameter(name), splitIdentifiers(value), quoteIdent(name), quoteLiteral(value), formatMs(ms).
 *
 * Decisions:
 * - Any parameter outside the list → 42501 `permission denied to set parameter
 *   "x"` (SET/RESET) or `permission denied to examine "x"` (SHOW), for real
 *   and nonexistent names alike: the list is fixed, so the answer says
 *   nothing about the upstream, and it does not pretend work_mem is unknown.
 * - role / session_authorization → 25006 `cannot execute SET ROLE …` (as a
 *   refused statement kind); read-write transaction modes → 25006 with
 *   PostgreSQL's `cannot set transaction read-write mode inside a read-only
 *   transaction`; SET TRANSACTION SNAPSHOT → 25006.
 * - Timeouts above the cap (and 0 = "none") are clamped to the cap rather
 *   than refused, because pg_dump and several drivers send
 *   `SET statement_timeout = 0`; `clamped: true` lets the wire layer warn.
 * - client_encoding: UTF8 only (the proxy parses text as UTF-8);
 *   standard_conforming_strings: on only (V164); client_min_messages:
 *   notice | warning | error only (debug/log levels serve plan dumps, V123).
 * - search_path keeps names as written (SHOW echoes them, like PostgreSQL,
 *   and an unknown name reveals nothing); resolution uses `effective`, which
 *   drops schemas the user cannot see. pg_temp* / pg_toast* are refused.
 * - SHOW ALL returns only the allowlisted parameters.
 */
import type { Node, VariableSetStmt } from '@pgsql/types';
import { PgError, readOnly, SQLSTATE } from './errors.js';

export interface SettingsLimits {
  maxStatementTimeoutMs: number;
  maxLockTimeoutMs: number;
  maxIdleInTransactionSessionTimeoutMs: number;
}
export const DEFAULT_SETTINGS_LIMITS: SettingsLimits = {
  maxStatementTimeoutMs: 300_000,
  maxLockTimeoutMs: 60_000,
  maxIdleInTransactionSessionTimeoutMs: 300_000,
};

/** One parameter change; `name` is the lower-case key, `value` as SHOW prints it. */
export interface Assignment {
  name: string;
  value: string;
  /** Whether the wire layer should apply it upstream (false: proxy-only or pinned). */
  upstream: boolean;
  clamped?: boolean;
}
export interface SetClassification {
  kind: 'set';
  isLocal: boolean;
  assignments: Assignment[];
}
export interface ResetClassification {
  kind: 'reset';
  /** Lower-case key, or 'all'. */
  name: string;
  isLocal: boolean;
}

type Limit = keyof SettingsLimits;
interface Param {
  display: string;
  description: string;
  /** Absent: read-only (SHOW only). Returns the canonical value, or the clamped one, or the error. */
  parse?: (v: string[], current: SessionSettings, limits: SettingsLimits) => Parsed;
  upstream?: boolean;
}
type Parsed = string | PgError | { value: string; clamped: true };

const invalid = (display: string, raw: string, extra: { detail?: string; hint?: string } = {}): PgError =>
  new PgError(SQLSTATE.invalidParameterValue, `invalid value for parameter "${display}": "${raw}"`, extra);

function single(display: string, v: string[]): string | PgError {
  if (v.length !== 1)
    return new PgError(SQLSTATE.invalidParameterValue, `SET ${display} takes only one argument`);
  return v[0] as string;
}

function oneOf(display: string, allowed: readonly string[]) {
  return (v: string[]): string | PgError => {
    const raw = single(display, v);
    if (raw instanceof PgError) return raw;
    const value = raw.toLowerCase();
    return allowed.includes(value)
      ? value
      : invalid(display, raw, { hint: `Available values: ${allowed.join(', ')}.` });
  };
}

const boolValue = (raw: string): boolean | undefined => {
  const v = raw.toLowerCase();
  if (['on', 'true', 'yes', '1', 't', 'y'].includes(v)) return true;
  if (['off', 'false', 'no', '0', 'f', 'n'].includes(v)) return false;
  return undefined;
};

function bool(display: string, onlyOn = false, hint?: string) {
  return (v: string[]): string | PgError => {
    const raw = single(display, v);
    if (raw instanceof PgError) return raw;
    const b = boolValue(raw);
    if (b === undefined) {
      return new PgError(SQLSTATE.invalidParameterValue, `parameter "${display}" requires a Boolean value`);
    }
    if (onlyOn && !b) return invalid(display, raw, hint ? { hint } : {});
    return b ? 'on' : 'off';
  };
}

const READ_WRITE = new PgError(
  SQLSTATE.readOnlyTransaction,
  'cannot set transaction read-write mode inside a read-only transaction',
);
const readOnlyOnly = (v: string[]): string | PgError => (boolValue(v[0] ?? '') === false ? READ_WRITE : 'on');

const UNITS: [string, number][] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['min', 60_000],
  ['s', 1000],
  ['ms', 1],
];

/** PostgreSQL's display of a millisecond GUC: the largest unit that divides it exactly. */
export function formatMs(ms: number): string {
  if (ms === 0) return '0';
  const unit = UNITS.find(([, f]) => ms % f === 0) ?? ['ms', 1];
  return `${ms / unit[1]}${unit[0]}`;
}

function timeout(display: string, limit: Limit) {
  return (v: string[], _c: SessionSettings, limits: SettingsLimits): Parsed => {
    const raw = single(display, v);
    if (raw instanceof PgError) return raw;
    const m = /^\s*(-?\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?\s*$/.exec(raw);
    if (!m) {
      return invalid(display, raw, {
        hint: 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".',
      });
    }
    const factor = m[2] === 'us' ? 0.001 : (UNITS.find(([u]) => u === (m[2] ?? 'ms'))?.[1] ?? 1);
    const ms = Math.round(Number(m[1]) * factor);
    if (ms < 0 || ms > 2147483647) {
      return new PgError(
        SQLSTATE.invalidParameterValue,
        `${ms} ms is outside the valid range for parameter "${display}" (0 ms .. 2147483647 ms)`,
      );
    }
    const max = limits[limit];
    return ms === 0 || ms > max ? { value: formatMs(max), clamped: true } : formatMs(ms);
  };
}

const DATE_OUTPUT: Record<string, string> = {
  iso: 'ISO',
  sql: 'SQL',
  postgres: 'Postgres',
  german: 'German',
};
const DATE_ORDER: Record<string, string> = {
  dmy: 'DMY',
  euro: 'DMY',
  european: 'DMY',
  mdy: 'MDY',
  us: 'MDY',
  noneuro: 'MDY',
  noneuropean: 'MDY',
  ymd: 'YMD',
};

function dateStyle(v: string[], current: SessionSettings): string | PgError {
  const raw = v.join(', ');
  const tokens = v.flatMap((s) => s.split(/[\s,]+/)).filter((s) => s !== '' && s.toLowerCase() !== 'default');
  let output: string | undefined;
  let order: string | undefined;
  for (const token of tokens) {
    const t = token.toLowerCase();
    const [slot, value] = DATE_OUTPUT[t] ? (['o', DATE_OUTPUT[t]] as const) : (['r', DATE_ORDER[t]] as const);
    if (value === undefined)
      return invalid('DateStyle', raw, { detail: `Unrecognized key word: "${token}".` });
    const previous = slot === 'o' ? output : order;
    if (previous !== undefined && previous !== value) {
      return invalid('DateStyle', raw, { detail: 'Conflicting "DateStyle" specifications.' });
    }
    if (slot === 'o') output = value;
    else order = value;
  }
  const [curOut, curOrder] = (current.get('datestyle') ?? 'ISO, MDY').split(', ');
  return `${output ?? curOut}, ${order ?? (output === 'German' ? 'DMY' : curOrder)}`;
}

function timeZone(v: string[]): string | PgError {
  const raw = single('TimeZone', v);
  if (raw instanceof PgError) return raw;
  if (/^[+-]?\d+(\.\d+)?$/.test(raw)) {
    // Numeric offset in hours (ISO sign), shown as PostgreSQL does: <+05:30>-05:30.
    const minutes = Math.round(Math.abs(Number(raw)) * 60);
    const hm = `${String(Math.floor(minutes / 60)).padStart(2, '0')}${minutes % 60 ? `:${String(minutes % 60).padStart(2, '0')}` : ''}`;
    const east = Number(raw) >= 0;
    return `<${east ? '+' : '-'}${hm}>${east ? '-' : '+'}${hm}`;
  }
  // Shape only: the upstream validates the zone name when the proxy applies it.
  return /^[A-Za-z0-9_+\-/:.<>]{1,64}$/.test(raw) ? raw : invalid('TimeZone', raw);
}

/** PostgreSQL (16+) application_name cleaning: non-printable-ASCII bytes become \xHH; 63 bytes max. */
function applicationName(v: string[]): string | PgError {
  const raw = single('application_name', v);
  if (raw instanceof PgError) return raw;
  let out = '';
  for (const byte of Buffer.from(raw, 'utf8')) {
    out += byte >= 32 && byte <= 126 ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  }
  return out.slice(0, 63);
}

const ISOLATION = ['serializable', 'repeatable read', 'read committed', 'read uncommitted'];

// prettier-ignore
const PARAMS: Record<string, Param> = {
  application_name: { display: 'application_name', description: 'Sets the application name to be reported in statistics and logs.', parse: applicationName, upstream: true },
  datestyle: { display: 'DateStyle', description: 'Sets the display format for date and time values.', parse: dateStyle, upstream: true },
  intervalstyle: { display: 'IntervalStyle', description: 'Sets the display format for interval values.', parse: oneOf('IntervalStyle', ['postgres', 'postgres_verbose', 'sql_standard', 'iso_8601']), upstream: true },
  timezone: { display: 'TimeZone', description: 'Sets the time zone for displaying and interpreting time stamps.', parse: timeZone, upstream: true },
  extra_float_digits: {
    display: 'extra_float_digits',
    description: 'Sets the number of digits displayed for floating-point values.',
    upstream: true,
    parse: (v) => {
      const raw = single('extra_float_digits', v);
      if (raw instanceof PgError) return raw;
      const n = /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Math.round(Number(raw)) : NaN;
      if (Number.isNaN(n)) return invalid('extra_float_digits', raw);
      if (n < -15 || n > 3) {
        return new PgError(SQLSTATE.invalidParameterValue, `${n} is outside the valid range for parameter "extra_float_digits" (-15 .. 3)`);
      }
      return String(n);
    },
  },
  client_encoding: {
    display: 'client_encoding',
    description: "Sets the client's character set encoding.",
    parse: (v) => {
      const raw = single('client_encoding', v);
      if (raw instanceof PgError) return raw;
      const key = raw.toLowerCase().replace(/[^a-z0-9]/g, '');
      return key === 'utf8' || key === 'unicode' ? 'UTF8' : invalid('client_encoding', raw, { hint: 'Rowgate supports only UTF8.' });
    },
  },
  bytea_output: { display: 'bytea_output', description: 'Sets the output format for bytea.', parse: oneOf('bytea_output', ['escape', 'hex']), upstream: true },
  standard_conforming_strings: { display: 'standard_conforming_strings', description: "Causes '...' strings to treat backslashes literally.", parse: bool('standard_conforming_strings', true, 'Rowgate requires standard_conforming_strings = on.') },
  client_min_messages: { display: 'client_min_messages', description: 'Sets the message levels that are sent to the client.', parse: oneOf('client_min_messages', ['notice', 'warning', 'error']), upstream: true },
  xmloption: { display: 'xmloption', description: 'Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments.', parse: oneOf('xmloption', ['content', 'document']), upstream: true },
  statement_timeout: { display: 'statement_timeout', description: 'Sets the maximum allowed duration of any statement.', parse: timeout('statement_timeout', 'maxStatementTimeoutMs'), upstream: true },
  lock_timeout: { display: 'lock_timeout', description: 'Sets the maximum allowed duration of any wait for a lock.', parse: timeout('lock_timeout', 'maxLockTimeoutMs'), upstream: true },
  idle_in_transaction_session_timeout: { display: 'idle_in_transaction_session_timeout', description: 'Sets the maximum allowed idle time between queries, when in a transaction.', parse: timeout('idle_in_transaction_session_timeout', 'maxIdleInTransactionSessionTimeoutMs'), upstream: true },
  search_path: {
    display: 'search_path',
    description: 'Sets the schema search order for names that are not schema-qualified.',
    parse: (v) => {
      const r = validateSearchPath(v);
      return r instanceof PgError ? r : r.value;
    },
  },
  default_transaction_isolation: { display: 'default_transaction_isolation', description: 'Sets the transaction isolation level of each new transaction.', parse: oneOf('default_transaction_isolation', ISOLATION), upstream: true },
  transaction_isolation: { display: 'transaction_isolation', description: "Sets the current transaction's isolation level.", parse: oneOf('transaction_isolation', ISOLATION), upstream: true },
  default_transaction_deferrable: { display: 'default_transaction_deferrable', description: 'Sets the default deferrable status of new transactions.', parse: bool('default_transaction_deferrable'), upstream: true },
  transaction_deferrable: { display: 'transaction_deferrable', description: 'Whether to defer a read-only serializable transaction until it can be executed with no possible serialization failures.', parse: bool('transaction_deferrable'), upstream: true },
  default_transaction_read_only: { display: 'default_transaction_read_only', description: 'Sets the default read-only status of new transactions.', parse: readOnlyOnly },
  transaction_read_only: { display: 'transaction_read_only', description: "Sets the current transaction's read-only status.", parse: readOnlyOnly },
  server_version: { display: 'server_version', description: 'Shows the server version.' },
  server_version_num: { display: 'server_version_num', description: 'Shows the server version as an integer.' },
  server_encoding: { display: 'server_encoding', description: 'Shows the server (database) character set encoding.' },
  integer_datetimes: { display: 'integer_datetimes', description: 'Shows whether datetimes are integer based.' },
  max_identifier_length: { display: 'max_identifier_length', description: 'Shows the maximum identifier length.' },
  is_superuser: { display: 'is_superuser', description: 'Shows whether the current user is a superuser.' },
  session_authorization: { display: 'session_authorization', description: 'Sets the session user name.' },
};

/** True for the parameters SHOW answers (every entry of the allowlist). */
export const isKnownParameter = (name: string): boolean => Object.hasOwn(PARAMS, name.toLowerCase());

/** True for the parameters the proxy also applies upstream (`upstream` in the list). */
export const isUpstreamParameter = (name: string): boolean => PARAMS[name.toLowerCase()]?.upstream === true;

/** PostgreSQL's quote_ident for the simple cases: lower-case identifiers stay bare. */
export function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`;
}

/** A standard-conforming string literal. */
export const quoteLiteral = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/**
 * Validates a search_path value list (elements as the parser gives them: exact
 * names). `value` is what SHOW prints; `schemas` the names as written;
 * `effective` the names name resolution may use: pg_catalog and
 * information_schema (served by the virtual catalog) and visible schemas, in
 * order; `$user` becomes `userName` when that schema is visible.
 */
export function validateSearchPath(
  values: readonly string[],
  visibleSchemas: Iterable<string> = [],
  userName?: string,
): PgError | { value: string; schemas: string[]; effective: string[] } {
  const schemas = [...values];
  for (const name of schemas) {
    if (/^pg_(temp|toast)/i.test(name)) {
      return invalid('search_path', values.join(', '), {
        detail: 'Temporary and TOAST schemas cannot be used in search_path.',
      });
    }
  }
  const visible = new Set([...visibleSchemas, 'pg_catalog', 'information_schema']);
  const effective: string[] = [];
  for (const name of schemas) {
    const resolved = name === '$user' ? userName : name;
    if (resolved !== undefined && visible.has(resolved) && !effective.includes(resolved))
      effective.push(resolved);
  }
  return { value: schemas.map(quoteIdent).join(', '), schemas, effective };
}

/** Splits a stored list like `"$user", public, "a,b"` back into names (the inverse of the SHOW form). */
export function splitIdentifiers(value: string): string[] {
  const names: string[] = [];
  const re = /\s*(?:"((?:[^"]|"")*)"|([^,\s]+))\s*(?:,|$)/gy;
  for (let m = re.exec(value); m && m[0] !== ''; m = re.exec(value)) {
    names.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? ''));
  }
  return names;
}

/** Initial, proxy-owned values; `serverVersion` is what Rowgate reports (never the upstream's, V117). */
export function defaultSettings(
  options: { serverVersion?: string; userName?: string; timeZone?: string; limits?: SettingsLimits } = {},
): Record<string, string> {
  const limits = options.limits ?? DEFAULT_SETTINGS_LIMITS;
  const version = options.serverVersion ?? '18.0';
  const [major = '18', minor = '0'] = version.split('.');
  return {
    application_name: '',
    datestyle: 'ISO, MDY',
    intervalstyle: 'postgres',
    timezone: options.timeZone ?? 'UTC',
    extra_float_digits: '1',
    client_encoding: 'UTF8',
    bytea_output: 'hex',
    standard_conforming_strings: 'on',
    client_min_messages: 'notice',
    xmloption: 'content',
    statement_timeout: formatMs(limits.maxStatementTimeoutMs),
    lock_timeout: formatMs(limits.maxLockTimeoutMs),
    idle_in_transaction_session_timeout: formatMs(limits.maxIdleInTransactionSessionTimeoutMs),
    search_path: '"$user", public',
    default_transaction_isolation: 'read committed',
    transaction_isolation: 'read committed',
    default_transaction_deferrable: 'off',
    transaction_deferrable: 'off',
    default_transaction_read_only: 'on',
    transaction_read_only: 'on',
    server_version: version,
    server_version_num: String(Number(major) * 10000 + Number(minor)),
    server_encoding: 'UTF8',
    integer_datetimes: 'on',
    max_identifier_length: '63',
    is_superuser: 'off',
    session_authorization: options.userName ?? '',
  };
}

/** One transaction level: the values at BEGIN (name '') or at a SAVEPOINT. */
interface Level {
  name: string;
  values: Record<string, string>;
  local: Record<string, string>;
}

/**
 * The session's settings as the proxy tracks them, transactional as
 * PostgreSQL's GUCs are: SET LOCAL values live in an overlay dropped at
 * transaction end; a rollback restores the values from the start of the
 * transaction, ROLLBACK TO SAVEPOINT those from the savepoint (SET and SET
 * LOCAL alike), RELEASE keeps them. The wire layer drives it: it calls
 * beginTransaction() for explicit blocks and for the implicit transaction
 * of a statement run outside one (idempotent: a BEGIN inside an implicit
 * transaction converts it, as PostgreSQL does, keeping its start values).
 */
export class SessionSettings {
  private values: Record<string, string>;
  private local: Record<string, string> = {};
  /** [0] = transaction start, then one entry per open savepoint; empty outside a transaction. */
  private levels: Level[] = [];
  /** Values last reported with ParameterStatus, by lower-case name. */
  private reported: Record<string, string>;

  /** What RESET restores. */
  private readonly initial: Record<string, string>;

  constructor(defaults: Readonly<Record<string, string>> = defaultSettings()) {
    this.initial = { ...defaults };
    this.values = { ...defaults };
    this.reported = { ...defaults };
  }
  get defaults(): Readonly<Record<string, string>> {
    return this.initial;
  }
  /** A value from the startup packet: current, and what RESET returns to (as in PostgreSQL). */
  setStartupValue(name: string, value: string): void {
    const key = name.toLowerCase();
    this.initial[key] = value;
    this.values[key] = value;
  }
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.local[key] ?? this.values[key];
  }
  /**
   * Search path names as written (see validateSearchPath for the effective list).
   * Read for every statement: split again only when the value changed. Callers must not mutate it.
   */
  searchPath(): string[] {
    const value = this.get('search_path') ?? '';
    if (value !== this.searchPathValue) {
      this.searchPathValue = value;
      this.searchPathNames = splitIdentifiers(value);
    }
    return this.searchPathNames;
  }
  private searchPathValue: string | undefined;
  private searchPathNames: string[] = [];
  /** Session-level values (no SET LOCAL overlay) and the overlay: what the upstream must hold. */
  layers(): { values: Readonly<Record<string, string>>; local: Readonly<Record<string, string>> } {
    return { values: this.values, local: this.local };
  }
  apply(c: SetClassification | ResetClassification): void {
    const target = c.isLocal ? this.local : this.values;
    if (c.kind === 'set') {
      for (const a of c.assignments) {
        target[a.name] = a.value;
        // A session-level SET replaces an earlier SET LOCAL of the same transaction.
        if (!c.isLocal) delete this.local[a.name];
      }
    } else if (c.name === 'all') {
      this.values = { ...this.initial };
      this.local = {};
    } else {
      const value = this.initial[c.name];
      if (value !== undefined) target[c.name] = value;
      if (!c.isLocal) delete this.local[c.name];
    }
  }
  get inTransaction(): boolean {
    return this.levels.length > 0;
  }
  beginTransaction(): void {
    if (this.levels.length === 0) this.levels.push(this.level(''));
  }
  endTransaction(committed: boolean): void {
    const start = this.levels[0];
    if (!committed && start) this.values = start.values;
    this.values.transaction_isolation = this.values.default_transaction_isolation ?? 'read committed';
    this.values.transaction_deferrable = this.values.default_transaction_deferrable ?? 'off';
    this.local = {};
    this.levels = [];
  }
  savepoint(name: string): void {
    if (this.levels.length > 0) this.levels.push(this.level(name));
  }
  /** ROLLBACK TO SAVEPOINT: the savepoint's values come back; the savepoint stays. */
  rollbackToSavepoint(name: string): void {
    const i = this.findSavepoint(name);
    const level = this.levels[i];
    if (i < 1 || !level) return;
    this.values = { ...level.values };
    this.local = { ...level.local };
    this.levels.length = i + 1;
  }
  /** RELEASE SAVEPOINT: the values stay; that savepoint and later ones go. */
  releaseSavepoint(name: string): void {
    const i = this.findSavepoint(name);
    if (i >= 1) this.levels.length = i;
  }
  /**
   * Reported parameters (`names`: lower-case key → display name) whose value
   * differs from the one last reported; they count as reported from now on.
   */
  reportChanges(names: ReadonlyMap<string, string>): [display: string, value: string][] {
    const out: [string, string][] = [];
    for (const [key, display] of names) {
      const value = this.get(key);
      if (value === undefined || value === this.reported[key]) continue;
      this.reported[key] = value;
      out.push([display, value]);
    }
    return out;
  }
  private level(name: string): Level {
    return { name, values: { ...this.values }, local: { ...this.local } };
  }
  private findSavepoint(name: string): number {
    for (let i = this.levels.length - 1; i >= 1; i--) if (this.levels[i]!.name === name) return i;
    return -1;
  }
  /** SHOW name: `{ name: column name, value }` or 42501 for anything outside the list. */
  show(name: string): PgError | { name: string; value: string } {
    const key = name.toLowerCase();
    const param = PARAMS[key];
    const value = this.get(key);
    if (!param || value === undefined) {
      return new PgError(SQLSTATE.insufficientPrivilege, `permission denied to examine "${name}"`);
    }
    return { name: param.display, value };
  }
  /** SHOW ALL: the allowlisted parameters only, sorted like PostgreSQL (by name). */
  showAll(): { name: string; setting: string; description: string }[] {
    return Object.keys(PARAMS)
      .sort()
      .map((key) => ({
        name: PARAMS[key]?.display ?? key,
        setting: this.get(key) ?? '',
        description: PARAMS[key]?.description ?? '',
      }));
  }
}

/** `SET [LOCAL] name TO 'value'` for the wire layer to apply an assignment upstream. */
export function upstreamSetSql(a: Assignment, isLocal: boolean): string {
  return `SET ${isLocal ? 'LOCAL ' : ''}${a.name} TO ${quoteLiteral(a.value)}`;
}

/** A_Const / TypeCast arguments of SET as PostgreSQL flattens them to text. */
function argText(arg: Node): string | undefined {
  if (!('A_Const' in arg)) return undefined;
  const c = arg.A_Const;
  if (c.sval) return c.sval.sval ?? '';
  if (c.ival) return String(c.ival.ival ?? 0);
  if (c.fval) return c.fval.fval ?? '';
  if (c.boolval) return c.boolval.boolval ? 'on' : 'off';
  return undefined;
}

const permissionDenied = (name: string): PgError =>
  new PgError(SQLSTATE.insufficientPrivilege, `permission denied to set parameter "${name}"`);

function assign(
  name: string,
  values: string[],
  current: SessionSettings,
  limits: SettingsLimits,
): Assignment | PgError {
  const key = name.toLowerCase();
  if (key === 'role') return readOnly('SET ROLE');
  if (key === 'session_authorization') return readOnly('SET SESSION AUTHORIZATION');
  const param = PARAMS[key];
  if (!param) return permissionDenied(name);
  if (!param.parse) return new PgError('55P02', `parameter "${param.display}" cannot be changed`);
  const parsed = param.parse(values, current, limits);
  if (parsed instanceof PgError) return parsed;
  const upstream = param.upstream ?? false;
  return typeof parsed === 'string'
    ? { name: key, value: parsed, upstream }
    : { name: key, value: parsed.value, upstream, clamped: true };
}

/** SET TRANSACTION … / SET SESSION CHARACTERISTICS AS TRANSACTION … options. */
function transactionModes(
  stmt: VariableSetStmt,
  prefix: string,
  current: SessionSettings,
  limits: SettingsLimits,
) {
  const out: Assignment[] = [];
  for (const arg of stmt.args ?? []) {
    if (!('DefElem' in arg) || !arg.DefElem.arg) return readOnly(`SET ${stmt.name}`);
    const value = argText(arg.DefElem.arg as Node) ?? '0';
    const a = assign(`${prefix}${arg.DefElem.defname ?? ''}`, [value], current, limits);
    if (a instanceof PgError) return a;
    out.push(a);
  }
  return out;
}

/** Classifies and validates a VariableSetStmt (SET, SET LOCAL, RESET, SET … TO DEFAULT). */
export function classifySet(
  stmt: VariableSetStmt,
  current: SessionSettings,
  limits: SettingsLimits = DEFAULT_SETTINGS_LIMITS,
): SetClassification | ResetClassification | PgError {
  const isLocal = stmt.is_local ?? false;
  const name = stmt.name ?? '';
  switch (stmt.kind) {
    case 'VAR_RESET_ALL':
      return { kind: 'reset', name: 'all', isLocal: false };
    case 'VAR_RESET':
    case 'VAR_SET_DEFAULT': {
      const key = name.toLowerCase();
      const verb = stmt.kind === 'VAR_RESET' ? 'RESET' : 'SET';
      if (key === 'role') return readOnly(`${verb} ROLE`);
      if (key === 'session_authorization') return readOnly(`${verb} SESSION AUTHORIZATION`);
      const param = PARAMS[key];
      if (!param) return permissionDenied(name);
      if (!param.parse) return new PgError('55P02', `parameter "${param.display}" cannot be changed`);
      return { kind: 'reset', name: key, isLocal };
    }
    case 'VAR_SET_MULTI': {
      if (name === 'TRANSACTION SNAPSHOT') return readOnly('SET TRANSACTION SNAPSHOT');
      const prefix =
        name === 'SESSION CHARACTERISTICS' ? 'default_' : name === 'TRANSACTION' ? '' : undefined;
      if (prefix === undefined) return readOnly(`SET ${name}`);
      const assignments = transactionModes(stmt, prefix, current, limits);
      return assignments instanceof PgError
        ? assignments
        : { kind: 'set', isLocal: prefix === '', assignments };
    }
    case 'VAR_SET_VALUE': {
      // PostgreSQL's grammar has no parameter in SET: its syntax error, at the parameter.
      const param = (stmt.args ?? []).find((a) => 'ParamRef' in a);
      if (param && 'ParamRef' in param) {
        const { number = 0, location } = param.ParamRef;
        return new PgError(
          SQLSTATE.syntaxError,
          `syntax error at or near "$${number}"`,
          location !== undefined ? { position: location + 1 } : {},
        );
      }
      const values = (stmt.args ?? []).map(argText);
      if (values.some((v) => v === undefined)) {
        // Only `SET TIME ZONE INTERVAL '…' HOUR TO MINUTE` gets here.
        return new PgError(SQLSTATE.featureNotSupported, `SET ${name} with this value form is not supported`);
      }
      const a = assign(name, values as string[], current, limits);
      return a instanceof PgError ? a : { kind: 'set', isLocal, assignments: [a] };
    }
    default:
      return new PgError(SQLSTATE.featureNotSupported, 'SET … FROM CURRENT is not supported');
  }
}
