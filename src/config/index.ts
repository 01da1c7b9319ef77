/**
 * Configuration from the environment. `loadConfig` reads only the `env` it is
 * given (no `process.env`, no `.env`); the file system is touched only for
 * the data directory, key files and TLS PEM files. The CLI calls
 * `loadDotEnv()` first, then `loadConfig()`, and prints any ConfigError as
 * `rowgate: <message>`.
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseStoreUrl, type StoreLocation } from '../store/db.js';
import { ConfigError, reason, shown } from './errors.js';
import {
  parseBindAddress,
  parseBoolean,
  parseLogLevel,
  parseOrigins,
  parseRustLog,
  parseWholeNumber,
  type BindAddress,
  type LogLevel,
} from './parse.js';
import { ensureDataDir, readPemFile, resolveEncryptionKey, resolveJwtSecret } from './secrets.js';
import { label, readVar, type VariableName } from './variables.js';

export { ConfigError } from './errors.js';
export { loadDotEnv } from './dotenv.js';
export { bindError, type BindVariable } from './listen.js';
export { formatBindAddress, type BindAddress, type LogLevel } from './parse.js';
export { describeConfigVariables, type ConfigVariableRow } from './variables.js';

export interface TlsMaterial {
  /** PEM contents, not paths: the files are read once, at start-up. */
  readonly cert: string;
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
}

export interface Config {
  /** Absolute path. */
  readonly dataDir: string;
  /** SQLite targets are absolute paths (or `:memory:`). */
  readonly store: Readonly<StoreLocation>;
  /** Where the store URL came from: the variable name that set it, or `default`. */
  readonly storeUrlSource: string;
  readonly encryptionKeyHex: string;
  readonly jwtSecret: string;
  readonly jwtExpiryHours: number;
  readonly adminUser: string;
  /** Undefined when unset or empty; see requireAdminPassword. */
  readonly adminPassword: string | undefined;
  readonly proxyBind: BindAddress;
  readonly adminBind: BindAddress;
  /** 0 disables the idle timeout. */
  readonly idleTimeoutSecs: number;
  /** Proxy connection limits; 0 = unlimited. */
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
  /** Normalised origins (`https://host[:port]`); empty means no CORS headers. */
  readonly corsAllowedOrigins: readonly string[];
  readonly logLevel: LogLevel;
  readonly tls: TlsMaterial | undefined;
  readonly tlsRequired: boolean;
  /** Cleartext password authentication on the proxy: never, only over TLS, or always. */
  readonly cleartextPassword: CleartextPasswordMode;
  /** Upstream pool per data source: most connections; idle seconds before an idle one closes (0: no reuse). */
  readonly upstreamPoolSize: number;
  readonly upstreamPoolIdleSecs: number;
  /** Drain time for running statements on SIGTERM/SIGINT. */
  readonly shutdownTimeoutSecs: number;
  /** Audit retention; 0 = unlimited. */
  readonly auditRetention: AuditRetention;
  /** Things the operator should see at start-up (generated keys, ignored values); log them. */
  readonly warnings: readonly string[];
}

export interface LoadConfigOptions {
  /** Base for relative paths (data dir, SQLite file, TLS files). Default: process.cwd(). */
  readonly cwd?: string;
}

// setTimeout overflows above 2^31-1 ms and would then fire at once, closing every connection.
const MAX_IDLE_TIMEOUT_SECS = Math.floor(0x7fffffff / 1000);
// Far beyond what one process can serve (file descriptors), low enough to catch a typo.
const MAX_CONNECTION_LIMIT = 1_000_000;

export interface AuditRetention {
  queryMaxAgeDays: number;
  queryMaxRows: number;
  adminMaxAgeDays: number;
  adminMaxRows: number;
  pruneIntervalSecs: number;
}

export type CleartextPasswordMode = 'off' | 'tls' | 'always';
const CLEARTEXT_MODES: readonly CleartextPasswordMode[] = ['off', 'tls', 'always'];

/** Reads and validates the whole configuration; throws ConfigError on the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadConfigOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const warnings: string[] = [];
  const get = (name: VariableName): string | undefined => readVar(env, name)?.value;

  // Validate every plain value before touching the disk, so a typo does not leave key files behind.
  const dataDirRaw = get('ROWGATE_DATA_DIR');
  if (dataDirRaw !== undefined && dataDirRaw.trim() === '') {
    throw new ConfigError('ROWGATE_DATA_DIR: must not be empty', 'ROWGATE_DATA_DIR');
  }
  const dataDir = resolve(cwd, dataDirRaw?.trim() ?? 'data');
  const { store, storeUrlSource } = loadStore(env, cwd, dataDir);

  const expiry = get('ROWGATE_JWT_EXPIRY_HOURS');
  const jwtExpiryHours =
    expiry === undefined
      ? 24
      : parseWholeNumber(
          'ROWGATE_JWT_EXPIRY_HOURS',
          expiry,
          1,
          8760,
          'a whole number of hours from 1 to 8760',
        );

  const adminUser = (get('ROWGATE_ADMIN_USER') ?? 'admin').trim();
  if (adminUser === '')
    throw new ConfigError(`${label('ROWGATE_ADMIN_USER')}: must not be blank`, 'ROWGATE_ADMIN_USER');
  // Empty means "not given", as in BetweenRows; whether it is needed is decided at serve time.
  const password = get('ROWGATE_ADMIN_PASSWORD');
  const adminPassword = password === undefined || password === '' ? undefined : password;

  const bind = (name: VariableName, fallback: string): BindAddress =>
    parseBindAddress(name, get(name) ?? fallback);
  const proxyBind = bind('ROWGATE_PROXY_BIND_ADDR', '127.0.0.1:5434');
  const adminBind = bind('ROWGATE_ADMIN_BIND_ADDR', '127.0.0.1:5435');

  const idle = get('ROWGATE_IDLE_TIMEOUT_SECS');
  const idleTimeoutSecs =
    idle === undefined
      ? 900
      : parseWholeNumber(
          'ROWGATE_IDLE_TIMEOUT_SECS',
          idle,
          0,
          MAX_IDLE_TIMEOUT_SECS,
          `a whole number of seconds from 0 (disabled) to ${MAX_IDLE_TIMEOUT_SECS}`,
        );

  const limit = (name: VariableName, fallback: number): number => {
    const raw = get(name);
    return raw === undefined
      ? fallback
      : parseWholeNumber(
          name,
          raw,
          0,
          MAX_CONNECTION_LIMIT,
          `a whole number from 0 (unlimited) to ${MAX_CONNECTION_LIMIT}`,
        );
  };
  const maxConnections = limit('ROWGATE_MAX_CONNECTIONS', 200);
  const maxConnectionsPerUser = limit('ROWGATE_MAX_CONNECTIONS_PER_USER', 50);

  const cors = parseOrigins('ROWGATE_CORS_ALLOWED_ORIGINS', get('ROWGATE_CORS_ALLOWED_ORIGINS') ?? '');
  warnings.push(...cors.warnings);

  const logLevel = loadLogLevel(env, warnings);
  const tlsRequiredRaw = get('ROWGATE_TLS_REQUIRED');
  const tlsRequired =
    tlsRequiredRaw === undefined ? false : parseBoolean('ROWGATE_TLS_REQUIRED', tlsRequiredRaw);
  const tls = loadTls(env, cwd);
  const cleartextRaw = get('ROWGATE_CLEARTEXT_PASSWORD');
  if (cleartextRaw !== undefined && !CLEARTEXT_MODES.includes(cleartextRaw as CleartextPasswordMode))
    throw new ConfigError(
      `${label('ROWGATE_CLEARTEXT_PASSWORD')}: must be one of ${CLEARTEXT_MODES.join(', ')} (got ${shown(cleartextRaw)})`,
      'ROWGATE_CLEARTEXT_PASSWORD',
    );
  const cleartextPassword = (cleartextRaw ?? 'off') as CleartextPasswordMode;
  const whole = (name: VariableName, fallback: number, max: number): number => {
    const raw = get(name);
    return raw === undefined
      ? fallback
      : parseWholeNumber(name, raw, 0, max, `a whole number from 0 to ${max}`);
  };
  const poolRaw = get('ROWGATE_UPSTREAM_POOL_SIZE');
  const upstreamPoolSize =
    poolRaw === undefined
      ? 100
      : parseWholeNumber(
          'ROWGATE_UPSTREAM_POOL_SIZE',
          poolRaw,
          1,
          100_000,
          'a whole number from 1 to 100000',
        );
  const upstreamPoolIdleSecs = whole('ROWGATE_UPSTREAM_POOL_IDLE_SECS', 60, MAX_IDLE_TIMEOUT_SECS);
  const shutdownTimeoutSecs = whole('ROWGATE_SHUTDOWN_TIMEOUT_SECS', 30, 3600);
  const auditRetention: AuditRetention = {
    queryMaxAgeDays: whole('ROWGATE_QUERY_AUDIT_MAX_AGE_DAYS', 0, 100_000),
    queryMaxRows: whole('ROWGATE_QUERY_AUDIT_MAX_ROWS', 0, 1_000_000_000),
    adminMaxAgeDays: whole('ROWGATE_ADMIN_AUDIT_MAX_AGE_DAYS', 0, 100_000),
    adminMaxRows: whole('ROWGATE_ADMIN_AUDIT_MAX_ROWS', 0, 1_000_000_000),
    pruneIntervalSecs: whole('ROWGATE_AUDIT_PRUNE_INTERVAL_SECS', 3600, MAX_IDLE_TIMEOUT_SECS),
  };
  if (auditRetention.pruneIntervalSecs === 0)
    throw new ConfigError(
      `${label('ROWGATE_AUDIT_PRUNE_INTERVAL_SECS')}: must be at least 1 (got "0")`,
      'ROWGATE_AUDIT_PRUNE_INTERVAL_SECS',
    );

  // Side effects from here on: data directory and key files.
  if (store.engine === 'sqlite' && isInside(dataDir, store.target)) ensureDataDir(dataDir);
  const encryptionKey = resolveEncryptionKey(env, dataDir);
  const jwtSecret = resolveJwtSecret(env, dataDir);
  warnings.push(...encryptionKey.warnings, ...jwtSecret.warnings);

  return Object.freeze({
    dataDir,
    store: Object.freeze(store),
    storeUrlSource,
    encryptionKeyHex: encryptionKey.value,
    jwtSecret: jwtSecret.value,
    jwtExpiryHours,
    adminUser,
    adminPassword,
    proxyBind: Object.freeze(proxyBind),
    adminBind: Object.freeze(adminBind),
    idleTimeoutSecs,
    maxConnections,
    maxConnectionsPerUser,
    corsAllowedOrigins: Object.freeze(cors.origins),
    logLevel,
    tls: tls === undefined ? undefined : Object.freeze(tls),
    tlsRequired,
    cleartextPassword,
    upstreamPoolSize,
    upstreamPoolIdleSecs,
    shutdownTimeoutSecs,
    auditRetention: Object.freeze(auditRetention),
    warnings: Object.freeze(warnings),
  });
}

/**
 * Serve-time check for the first start: with no users in the store, the
 * first admin needs a password. Returns the password so callers need no `!`.
 */
export function requireAdminPassword(config: Pick<Config, 'adminPassword'>): string {
  if (config.adminPassword !== undefined) return config.adminPassword;
  throw new ConfigError(
    `${label('ROWGATE_ADMIN_PASSWORD')} must be set on first start: the admin store has no users`,
    'ROWGATE_ADMIN_PASSWORD',
  );
}

function loadStore(
  env: NodeJS.ProcessEnv,
  cwd: string,
  dataDir: string,
): { store: StoreLocation; storeUrlSource: string } {
  const raw = readVar(env, 'ROWGATE_DATABASE_URL');
  if (raw === undefined) {
    return { store: { engine: 'sqlite', target: join(dataDir, 'rowgate.db') }, storeUrlSource: 'default' };
  }
  let store: StoreLocation;
  try {
    store = parseStoreUrl(raw.value);
  } catch (err) {
    // The URL is not echoed: a PostgreSQL URL may carry a password.
    throw new ConfigError(`${label('ROWGATE_DATABASE_URL')}: ${reason(err)}`, 'ROWGATE_DATABASE_URL', {
      cause: err,
    });
  }
  if (store.engine === 'sqlite' && store.target !== ':memory:') {
    store = { engine: 'sqlite', target: resolve(cwd, store.target) };
  }
  return { store, storeUrlSource: raw.from };
}

function loadLogLevel(env: NodeJS.ProcessEnv, warnings: string[]): LogLevel {
  const raw = readVar(env, 'ROWGATE_LOG_LEVEL');
  if (raw === undefined) return 'info';
  // Our own variable is validated strictly; BetweenRows' RUST_LOG only as far as it maps.
  if (raw.from === 'ROWGATE_LOG_LEVEL') return parseLogLevel('ROWGATE_LOG_LEVEL', raw.value);
  const { level, warning } = parseRustLog(raw.value);
  if (warning !== undefined) warnings.push(warning);
  return level;
}

function loadTls(env: NodeJS.ProcessEnv, cwd: string): TlsMaterial | undefined {
  const cert = readVar(env, 'ROWGATE_TLS_CERT')?.value;
  const key = readVar(env, 'ROWGATE_TLS_KEY')?.value;
  if (cert === undefined && key === undefined) return undefined;
  if (key === undefined) {
    throw new ConfigError('ROWGATE_TLS_KEY: must be set together with ROWGATE_TLS_CERT', 'ROWGATE_TLS_KEY');
  }
  if (cert === undefined) {
    throw new ConfigError('ROWGATE_TLS_CERT: must be set together with ROWGATE_TLS_KEY', 'ROWGATE_TLS_CERT');
  }
  const path = (name: VariableName, value: string): string => {
    if (value.trim() === '')
      throw new ConfigError(`${label(name)}: expected a file path, got ${shown(value)}`, name);
    return resolve(cwd, value.trim());
  };
  const certPath = path('ROWGATE_TLS_CERT', cert);
  const keyPath = path('ROWGATE_TLS_KEY', key);
  return {
    cert: readPemFile('ROWGATE_TLS_CERT', certPath),
    key: readPemFile('ROWGATE_TLS_KEY', keyPath),
    certPath,
    keyPath,
  };
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}
