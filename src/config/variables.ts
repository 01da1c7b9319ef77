/**
 * The single table of environment variables Rowgate reads. Parsing looks
 * names and aliases up here (a name missing from the table does not
 * type-check), and the README table and `rowgate --help` are rendered from
 * `describeConfigVariables()`, so docs and behaviour cannot drift apart.
 */

export interface ConfigVariableRow {
  /** Primary name; always wins when both it and the alias are set. */
  readonly name: string;
  /** BetweenRows-compatible name accepted instead (`RUST_LOG` for the log level). */
  readonly alias: string | undefined;
  /** Human-readable default, for documentation. */
  readonly default: string;
  readonly description: string;
}

const VARIABLES = [
  {
    name: 'ROWGATE_DATA_DIR',
    alias: undefined,
    default: './data',
    description:
      'Directory holding the SQLite admin store and the auto-generated key files; created with mode 0700 when missing. Relative paths resolve against the working directory.',
  },
  {
    name: 'ROWGATE_DATABASE_URL',
    alias: 'BR_ADMIN_DATABASE_URL',
    default: 'sqlite://<data dir>/rowgate.db',
    description:
      'Admin store: sqlite://path[?mode=rwc], sqlite:path, or postgres://… / postgresql://…. A relative SQLite path resolves against the working directory.',
  },
  {
    name: 'ROWGATE_ENCRYPTION_KEY',
    alias: 'BR_ENCRYPTION_KEY',
    default: '<data dir>/encryption_key, else generated',
    description:
      'AES-256-GCM key for datasource secrets: exactly 64 hexadecimal characters. When unset, read from the key file, or generated and saved there (mode 0600). Back it up: secrets cannot be decrypted without it.',
  },
  {
    name: 'ROWGATE_JWT_SECRET',
    alias: 'BR_ADMIN_JWT_SECRET',
    default: '<data dir>/jwt_secret, else generated',
    description:
      'HS256 signing key for admin API tokens (any non-blank string, trimmed). When unset, read from the file, or generated and saved there (mode 0600).',
  },
  {
    name: 'ROWGATE_JWT_EXPIRY_HOURS',
    alias: 'BR_ADMIN_JWT_EXPIRY_HOURS',
    default: '24',
    description: 'Admin token lifetime in whole hours, 1 to 8760.',
  },
  {
    name: 'ROWGATE_ADMIN_USER',
    alias: 'BR_ADMIN_USER',
    default: 'admin',
    description: 'Username of the first admin, created only when the admin store has no users.',
  },
  {
    name: 'ROWGATE_ADMIN_PASSWORD',
    alias: 'BR_ADMIN_PASSWORD',
    default: '(none)',
    description: 'Password of the first admin. Required on first start (no users yet); ignored afterwards.',
  },
  {
    name: 'ROWGATE_PROXY_BIND_ADDR',
    alias: 'BR_PROXY_BIND_ADDR',
    default: '127.0.0.1:5434',
    description: 'PostgreSQL wire-protocol listener, host:port ([::1]:5434 for IPv6).',
  },
  {
    name: 'ROWGATE_ADMIN_BIND_ADDR',
    alias: 'BR_ADMIN_BIND_ADDR',
    default: '127.0.0.1:5435',
    description: 'Admin HTTP API and UI listener, host:port ([::1]:5435 for IPv6).',
  },
  {
    name: 'ROWGATE_IDLE_TIMEOUT_SECS',
    alias: 'BR_IDLE_TIMEOUT_SECS',
    default: '900',
    description: 'Close an authenticated proxy connection after this many idle seconds; 0 disables.',
  },
  {
    name: 'ROWGATE_MAX_CONNECTIONS',
    alias: undefined,
    default: '200',
    description:
      'Most proxy client connections at once; more are refused with FATAL 53300 "sorry, too many clients already". 0 = unlimited.',
  },
  {
    name: 'ROWGATE_MAX_CONNECTIONS_PER_USER',
    alias: undefined,
    default: '50',
    description:
      'Most proxy connections one Rowgate user may hold at once; more are refused with FATAL 53300 after authentication. 0 = unlimited.',
  },
  {
    name: 'ROWGATE_CORS_ALLOWED_ORIGINS',
    alias: 'BR_CORS_ALLOWED_ORIGINS',
    default: '(empty: same-origin only)',
    description:
      'Comma-separated browser origins (scheme://host[:port]) allowed to call the admin API. Unparsable entries are dropped with a warning.',
  },
  {
    name: 'ROWGATE_LOG_LEVEL',
    alias: 'RUST_LOG',
    default: 'info',
    description:
      'fatal, error, warn, info, debug, trace or silent. RUST_LOG is honoured only for its plain levels (trace/debug/info/warn/error).',
  },
  {
    name: 'ROWGATE_TLS_CERT',
    alias: undefined,
    default: '(unset: generated in <data dir>/tls/)',
    description:
      'PEM certificate (chain) file for TLS on the proxy listener; set together with ROWGATE_TLS_KEY. Unset: a private CA (ca.crt) and server certificate are generated once in <data dir>/tls/ and reused; the fingerprint is logged.',
  },
  {
    name: 'ROWGATE_TLS_KEY',
    alias: undefined,
    default: '(unset)',
    description: 'PEM private key file matching ROWGATE_TLS_CERT.',
  },
  {
    name: 'ROWGATE_TLS_REQUIRED',
    alias: undefined,
    default: 'false',
    description: 'Refuse proxy clients that do not negotiate TLS (true/false, 1/0, yes/no, on/off).',
  },
  {
    name: 'ROWGATE_CLEARTEXT_PASSWORD',
    alias: undefined,
    default: 'off',
    description:
      'Password authentication a proxy client may use besides SCRAM-SHA-256: off (SCRAM only), tls (cleartext password, only on TLS connections; SCRAM otherwise) or always (cleartext also without TLS; the password crosses the network readable).',
  },
  {
    name: 'ROWGATE_UPSTREAM_POOL_SIZE',
    alias: undefined,
    default: '100',
    description:
      'Most upstream connections per data source (in use and idle). A session that finds the pool full waits up to 10 s, then gets FATAL 53300.',
  },
  {
    name: 'ROWGATE_UPSTREAM_POOL_IDLE_SECS',
    alias: undefined,
    default: '60',
    description:
      'An upstream connection returned to the pool (reset with DISCARD ALL) is closed after this many idle seconds; 0 keeps none (every session opens its own).',
  },
  {
    name: 'ROWGATE_SHUTDOWN_TIMEOUT_SECS',
    alias: undefined,
    default: '30',
    description:
      'On SIGTERM/SIGINT: stop accepting, let running statements finish for up to this many seconds, then end every proxy session with FATAL 57P01 and flush the query audit.',
  },
  {
    name: 'ROWGATE_QUERY_AUDIT_MAX_AGE_DAYS',
    alias: undefined,
    default: '0',
    description:
      'Query-audit rows older than this many days are deleted by the periodic pruning job; 0 keeps them forever.',
  },
  {
    name: 'ROWGATE_QUERY_AUDIT_MAX_ROWS',
    alias: undefined,
    default: '0',
    description: 'The pruning job keeps at most this many newest query-audit rows; 0 = no limit.',
  },
  {
    name: 'ROWGATE_ADMIN_AUDIT_MAX_AGE_DAYS',
    alias: undefined,
    default: '0',
    description:
      'Admin-audit rows older than this many days are deleted by the pruning job; 0 keeps them forever.',
  },
  {
    name: 'ROWGATE_ADMIN_AUDIT_MAX_ROWS',
    alias: undefined,
    default: '0',
    description: 'The pruning job keeps at most this many newest admin-audit rows; 0 = no limit.',
  },
  {
    name: 'ROWGATE_AUDIT_PRUNE_INTERVAL_SECS',
    alias: undefined,
    default: '3600',
    description: 'How often the audit pruning job runs (seconds, at least 1); it also runs once at start-up.',
  },
] as const satisfies readonly ConfigVariableRow[];

export type VariableName = (typeof VARIABLES)[number]['name'];

function spec(name: VariableName): ConfigVariableRow {
  // The lookup cannot miss: VariableName is derived from the table itself.
  return VARIABLES.find((v) => v.name === name) as ConfigVariableRow;
}

/** Rows for the README table and `rowgate --help`, in a stable, meaningful order. */
export function describeConfigVariables(): ConfigVariableRow[] {
  return VARIABLES.map((v) => ({ ...v }));
}

/** `NAME (alias ALIAS)` — how every error message names a variable. */
export function label(name: VariableName): string {
  const { alias } = spec(name);
  return alias === undefined ? name : `${name} (alias ${alias})`;
}

export interface RawValue {
  readonly value: string;
  /** The name the value was actually found under (primary or alias). */
  readonly from: string;
}

/**
 * Reads a variable, primary name first. A variable set to the empty string
 * counts as set: an explicitly empty value is a mistake worth reporting, not
 * a request for the default.
 */
export function readVar(env: NodeJS.ProcessEnv, name: VariableName): RawValue | undefined {
  const primary = env[name];
  if (primary !== undefined) return { value: primary, from: name };
  const { alias } = spec(name);
  if (alias === undefined) return undefined;
  const aliased = env[alias];
  return aliased === undefined ? undefined : { value: aliased, from: alias };
}
