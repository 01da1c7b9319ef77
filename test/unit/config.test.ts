/**
 * Environment variables: default, primary name, BetweenRows alias, primary
 * wins over alias, and every invalid value failing with the variable named.
 * Key files, TLS files, .env and listen errors: config-files.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  describeConfigVariables,
  formatBindAddress,
  loadConfig,
  requireAdminPassword,
  type Config,
} from '../../src/config/index.js';

const KEY_A = 'a'.repeat(64);
const KEY_B = '0123456789abcdef'.repeat(4);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-config-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Loads with the temp dir as data dir and cwd; secrets given so no files are needed. */
function load(env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig(
    { ROWGATE_DATA_DIR: dir, ROWGATE_ENCRYPTION_KEY: KEY_A, ROWGATE_JWT_SECRET: 'jwt', ...env },
    { cwd: dir },
  );
}

function failure(env: NodeJS.ProcessEnv): ConfigError {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const error = err as ConfigError;
    expect(error.message).not.toMatch(/[\r\n]/);
    return error;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(env)}`);
}

describe('ROWGATE_JWT_EXPIRY_HOURS', () => {
  it('defaults to 24 and reads primary, alias, primary over alias', () => {
    expect(load().jwtExpiryHours).toBe(24);
    expect(load({ ROWGATE_JWT_EXPIRY_HOURS: '48' }).jwtExpiryHours).toBe(48);
    expect(load({ BR_ADMIN_JWT_EXPIRY_HOURS: '12' }).jwtExpiryHours).toBe(12);
    expect(load({ ROWGATE_JWT_EXPIRY_HOURS: ' 8760 ', BR_ADMIN_JWT_EXPIRY_HOURS: '12' }).jwtExpiryHours).toBe(
      8760,
    );
    expect(load({ ROWGATE_JWT_EXPIRY_HOURS: '1' }).jwtExpiryHours).toBe(1);
  });

  it.each(['0', '-1', '1.5', 'abc', '', '8761', '1e3', '0x10'])('rejects %j', (value) => {
    const err = failure({ ROWGATE_JWT_EXPIRY_HOURS: value });
    expect(err.message).toBe(
      `ROWGATE_JWT_EXPIRY_HOURS (alias BR_ADMIN_JWT_EXPIRY_HOURS): must be a whole number of hours from 1 to 8760, got ${JSON.stringify(value)}`,
    );
    expect(err.variable).toBe('ROWGATE_JWT_EXPIRY_HOURS');
  });

  it('rejects an invalid alias value too', () => {
    expect(failure({ BR_ADMIN_JWT_EXPIRY_HOURS: 'soon' }).message).toContain('BR_ADMIN_JWT_EXPIRY_HOURS');
  });
});

describe('ROWGATE_ADMIN_USER', () => {
  it('defaults to admin and reads primary, alias, primary over alias', () => {
    expect(load().adminUser).toBe('admin');
    expect(load({ ROWGATE_ADMIN_USER: 'root' }).adminUser).toBe('root');
    expect(load({ BR_ADMIN_USER: 'boss' }).adminUser).toBe('boss');
    expect(load({ ROWGATE_ADMIN_USER: 'root', BR_ADMIN_USER: 'boss' }).adminUser).toBe('root');
  });

  it.each(['', '   '])('rejects %j', (value) => {
    expect(failure({ ROWGATE_ADMIN_USER: value }).message).toBe(
      'ROWGATE_ADMIN_USER (alias BR_ADMIN_USER): must not be blank',
    );
  });
});

describe('ROWGATE_ADMIN_PASSWORD', () => {
  it('is optional and reads primary, alias, primary over alias', () => {
    expect(load().adminPassword).toBeUndefined();
    expect(load({ ROWGATE_ADMIN_PASSWORD: '' }).adminPassword).toBeUndefined();
    expect(load({ ROWGATE_ADMIN_PASSWORD: ' s3cret ' }).adminPassword).toBe(' s3cret ');
    expect(load({ BR_ADMIN_PASSWORD: 'br-pass' }).adminPassword).toBe('br-pass');
    expect(load({ ROWGATE_ADMIN_PASSWORD: 'mine', BR_ADMIN_PASSWORD: 'br-pass' }).adminPassword).toBe('mine');
  });

  it('requireAdminPassword returns it or fails with the first-start message', () => {
    expect(requireAdminPassword(load({ BR_ADMIN_PASSWORD: 'pw' }))).toBe('pw');
    expect(() => requireAdminPassword(load())).toThrow(ConfigError);
    expect(() => requireAdminPassword({ adminPassword: undefined })).toThrow(
      'ROWGATE_ADMIN_PASSWORD (alias BR_ADMIN_PASSWORD) must be set on first start: the admin store has no users',
    );
  });
});

describe.each([
  ['ROWGATE_PROXY_BIND_ADDR', 'BR_PROXY_BIND_ADDR', 'proxyBind', 5434],
  ['ROWGATE_ADMIN_BIND_ADDR', 'BR_ADMIN_BIND_ADDR', 'adminBind', 5435],
] as const)('%s', (name, alias, field, defaultPort) => {
  it('defaults to 127.0.0.1 and reads primary, alias, primary over alias', () => {
    expect(load()[field]).toEqual({ host: '127.0.0.1', port: defaultPort });
    expect(load({ [name]: '0.0.0.0:6000' })[field]).toEqual({ host: '0.0.0.0', port: 6000 });
    expect(load({ [alias]: 'localhost:7000' })[field]).toEqual({ host: 'localhost', port: 7000 });
    expect(load({ [name]: 'db.internal:1', [alias]: 'localhost:7000' })[field]).toEqual({
      host: 'db.internal',
      port: 1,
    });
  });

  it('accepts bracketed IPv6 and port 0', () => {
    expect(load({ [name]: '[::1]:5434' })[field]).toEqual({ host: '::1', port: 5434 });
    expect(load({ [name]: '[::]:0' })[field]).toEqual({ host: '::', port: 0 });
    expect(load({ [name]: '127.0.0.1:65535' })[field]).toEqual({ host: '127.0.0.1', port: 65535 });
  });

  it.each([
    '',
    '5434',
    'localhost',
    ':5434',
    'localhost:',
    'localhost:65536',
    'localhost:-1',
    'localhost:12a',
    'localhost:99999999',
    '::1:5434',
    '[::1]',
    '[nothex]:5434',
    'a b:5434',
    'http://localhost:5434',
  ])('rejects %j', (value) => {
    const err = failure({ [name]: value });
    expect(err.message.startsWith(`${name} (alias ${alias}): `)).toBe(true);
    expect(err.message).toContain(JSON.stringify(value));
    expect(err.variable).toBe(name);
  });

  it('explains that IPv6 needs brackets', () => {
    expect(failure({ [name]: '::1:5434' }).message).toBe(
      `${name} (alias ${alias}): write IPv6 addresses in brackets, e.g. [::1]:5434, got "::1:5434"`,
    );
  });
});

describe('formatBindAddress', () => {
  it('puts IPv6 hosts back in brackets', () => {
    expect(formatBindAddress({ host: '127.0.0.1', port: 5434 })).toBe('127.0.0.1:5434');
    expect(formatBindAddress({ host: '::1', port: 5435 })).toBe('[::1]:5435');
  });
});

describe('ROWGATE_IDLE_TIMEOUT_SECS', () => {
  it('defaults to 900; 0 disables; reads primary, alias, primary over alias', () => {
    expect(load().idleTimeoutSecs).toBe(900);
    expect(load({ ROWGATE_IDLE_TIMEOUT_SECS: '0' }).idleTimeoutSecs).toBe(0);
    expect(load({ ROWGATE_IDLE_TIMEOUT_SECS: '60' }).idleTimeoutSecs).toBe(60);
    expect(load({ BR_IDLE_TIMEOUT_SECS: '30' }).idleTimeoutSecs).toBe(30);
    expect(load({ ROWGATE_IDLE_TIMEOUT_SECS: '60', BR_IDLE_TIMEOUT_SECS: '30' }).idleTimeoutSecs).toBe(60);
    expect(load({ ROWGATE_IDLE_TIMEOUT_SECS: '2147483' }).idleTimeoutSecs).toBe(2147483);
  });

  // 2147484 s exceeds what setTimeout can wait; it would fire at once.
  it.each(['-5', 'abc', '', '1.5', '2147484', '9999999999'])('rejects %j', (value) => {
    const err = failure({ ROWGATE_IDLE_TIMEOUT_SECS: value });
    expect(err.message).toBe(
      `ROWGATE_IDLE_TIMEOUT_SECS (alias BR_IDLE_TIMEOUT_SECS): must be a whole number of seconds from 0 (disabled) to 2147483, got ${JSON.stringify(value)}`,
    );
  });
});

describe('ROWGATE_CORS_ALLOWED_ORIGINS', () => {
  it('defaults to none and reads primary, alias, primary over alias', () => {
    expect(load().corsAllowedOrigins).toEqual([]);
    expect(load({ ROWGATE_CORS_ALLOWED_ORIGINS: '' }).corsAllowedOrigins).toEqual([]);
    expect(
      load({ ROWGATE_CORS_ALLOWED_ORIGINS: 'https://app.example.com, http://localhost:3000,, ' })
        .corsAllowedOrigins,
    ).toEqual(['https://app.example.com', 'http://localhost:3000']);
    expect(load({ BR_CORS_ALLOWED_ORIGINS: 'https://br.example.com' }).corsAllowedOrigins).toEqual([
      'https://br.example.com',
    ]);
    expect(
      load({
        ROWGATE_CORS_ALLOWED_ORIGINS: 'https://a.example',
        BR_CORS_ALLOWED_ORIGINS: 'https://b.example',
      }).corsAllowedOrigins,
    ).toEqual(['https://a.example']);
  });

  it('normalises to the browser Origin form and removes duplicates', () => {
    const config = load({
      ROWGATE_CORS_ALLOWED_ORIGINS: 'HTTPS://App.Example.com:443/,https://app.example.com,http://h:8080',
    });
    expect(config.corsAllowedOrigins).toEqual(['https://app.example.com', 'http://h:8080']);
    expect(config.warnings).toEqual([]);
  });

  it('drops unparsable entries with one warning each, naming the variable', () => {
    const config = load({
      ROWGATE_CORS_ALLOWED_ORIGINS:
        'not a url,https://ok.example,https://x.example/path,*,ftp://files.example,https://u:p@x.example,https://x.example?q=1,https:x.example',
    });
    expect(config.corsAllowedOrigins).toEqual(['https://ok.example']);
    expect(config.warnings).toHaveLength(7);
    for (const warning of config.warnings) {
      expect(
        warning.startsWith('ROWGATE_CORS_ALLOWED_ORIGINS (alias BR_CORS_ALLOWED_ORIGINS): ignoring '),
      ).toBe(true);
    }
    expect(config.warnings[0]).toBe(
      'ROWGATE_CORS_ALLOWED_ORIGINS (alias BR_CORS_ALLOWED_ORIGINS): ignoring "not a url": not a URL, expected scheme://host[:port]',
    );
    expect(config.warnings[2]).toContain('wildcards are not supported');
  });
});

describe('ROWGATE_LOG_LEVEL', () => {
  it('defaults to info and accepts every pino level, case-insensitively', () => {
    expect(load().logLevel).toBe('info');
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) {
      expect(load({ ROWGATE_LOG_LEVEL: level.toUpperCase() }).logLevel).toBe(level);
    }
  });

  it.each(['verbose', '', 'proxy=debug', 'warning'])('rejects %j', (value) => {
    expect(failure({ ROWGATE_LOG_LEVEL: value }).message).toBe(
      `ROWGATE_LOG_LEVEL (alias RUST_LOG): must be one of fatal, error, warn, info, debug, trace, silent, got ${JSON.stringify(value)}`,
    );
  });

  it('takes plain levels from RUST_LOG without warning', () => {
    const config = load({ RUST_LOG: 'WARN' });
    expect(config.logLevel).toBe('warn');
    expect(config.warnings).toEqual([]);
    expect(load({ RUST_LOG: 'debug,trace' }).logLevel).toBe('trace');
    expect(load({ RUST_LOG: '' }).logLevel).toBe('info');
  });

  it('uses the last plain RUST_LOG level and warns about directives it ignores', () => {
    const config = load({ RUST_LOG: 'error,proxy=debug,tower_http=trace' });
    expect(config.logLevel).toBe('error');
    expect(config.warnings).toEqual([
      'RUST_LOG: ignoring "proxy=debug", "tower_http=trace" (only plain levels are supported); using log level error, set ROWGATE_LOG_LEVEL to choose',
    ]);
  });

  it('falls back to info with a warning when RUST_LOG has no plain level', () => {
    const config = load({ RUST_LOG: 'proxy=debug' });
    expect(config.logLevel).toBe('info');
    expect(config.warnings).toHaveLength(1);
    expect(config.warnings[0]).toContain('using log level info');
  });

  it('prefers ROWGATE_LOG_LEVEL over RUST_LOG, without looking at RUST_LOG', () => {
    const config = load({ ROWGATE_LOG_LEVEL: 'debug', RUST_LOG: 'proxy=trace' });
    expect(config.logLevel).toBe('debug');
    expect(config.warnings).toEqual([]);
  });
});

describe('ROWGATE_TLS_REQUIRED', () => {
  it('defaults to false', () => {
    expect(load().tlsRequired).toBe(false);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    [' On ', true],
    ['false', false],
    ['0', false],
    ['No', false],
    ['off', false],
  ])('parses %j as %s', (value, expected) => {
    expect(load({ ROWGATE_TLS_REQUIRED: value }).tlsRequired).toBe(expected);
  });

  it.each(['maybe', '', '2', 'y'])('rejects %j', (value) => {
    expect(failure({ ROWGATE_TLS_REQUIRED: value }).message).toBe(
      `ROWGATE_TLS_REQUIRED: must be true/false, 1/0, yes/no or on/off, got ${JSON.stringify(value)}`,
    );
  });
});

describe('the loaded config', () => {
  it('is frozen', () => {
    const config = load({ ROWGATE_CORS_ALLOWED_ORIGINS: 'https://a.example' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.corsAllowedOrigins)).toBe(true);
    expect(Object.isFrozen(config.proxyBind)).toBe(true);
    expect(Object.isFrozen(config.store)).toBe(true);
  });

  it('reads nothing from process.env', () => {
    process.env.ROWGATE_ADMIN_USER = 'from-process-env';
    try {
      expect(load().adminUser).toBe('admin');
    } finally {
      delete process.env.ROWGATE_ADMIN_USER;
    }
  });
});

describe('describeConfigVariables', () => {
  it('lists every variable once with its alias and default', () => {
    const rows = describeConfigVariables();
    expect(rows.map((r) => [r.name, r.alias])).toEqual([
      ['ROWGATE_DATA_DIR', undefined],
      ['ROWGATE_DATABASE_URL', 'BR_ADMIN_DATABASE_URL'],
      ['ROWGATE_ENCRYPTION_KEY', 'BR_ENCRYPTION_KEY'],
      ['ROWGATE_JWT_SECRET', 'BR_ADMIN_JWT_SECRET'],
      ['ROWGATE_JWT_EXPIRY_HOURS', 'BR_ADMIN_JWT_EXPIRY_HOURS'],
      ['ROWGATE_ADMIN_USER', 'BR_ADMIN_USER'],
      ['ROWGATE_ADMIN_PASSWORD', 'BR_ADMIN_PASSWORD'],
      ['ROWGATE_PROXY_BIND_ADDR', 'BR_PROXY_BIND_ADDR'],
      ['ROWGATE_ADMIN_BIND_ADDR', 'BR_ADMIN_BIND_ADDR'],
      ['ROWGATE_IDLE_TIMEOUT_SECS', 'BR_IDLE_TIMEOUT_SECS'],
      ['ROWGATE_MAX_CONNECTIONS', undefined],
      ['ROWGATE_MAX_CONNECTIONS_PER_USER', undefined],
      ['ROWGATE_CORS_ALLOWED_ORIGINS', 'BR_CORS_ALLOWED_ORIGINS'],
      ['ROWGATE_LOG_LEVEL', 'RUST_LOG'],
      ['ROWGATE_TLS_CERT', undefined],
      ['ROWGATE_TLS_KEY', undefined],
      ['ROWGATE_TLS_REQUIRED', undefined],
      ['ROWGATE_CLEARTEXT_PASSWORD', undefined],
      ['ROWGATE_UPSTREAM_POOL_SIZE', undefined],
      ['ROWGATE_UPSTREAM_POOL_IDLE_SECS', undefined],
      ['ROWGATE_SHUTDOWN_TIMEOUT_SECS', undefined],
      ['ROWGATE_QUERY_AUDIT_MAX_AGE_DAYS', undefined],
      ['ROWGATE_QUERY_AUDIT_MAX_ROWS', undefined],
      ['ROWGATE_ADMIN_AUDIT_MAX_AGE_DAYS', undefined],
      ['ROWGATE_ADMIN_AUDIT_MAX_ROWS', undefined],
      ['ROWGATE_AUDIT_PRUNE_INTERVAL_SECS', undefined],
    ]);
    const byName = new Map(rows.map((r) => [r.name, r]));
    expect(byName.get('ROWGATE_PROXY_BIND_ADDR')?.default).toBe('127.0.0.1:5434');
    expect(byName.get('ROWGATE_JWT_EXPIRY_HOURS')?.default).toBe('24');
    expect(byName.get('ROWGATE_IDLE_TIMEOUT_SECS')?.default).toBe('900');
    for (const row of rows) expect(row.description.length).toBeGreaterThan(10);
  });

  it('returns copies, so callers cannot change the table', () => {
    const rows = describeConfigVariables();
    (rows[0] as { default: string }).default = 'changed';
    expect(describeConfigVariables()[0]?.default).toBe('./data');
  });

  it('has no variable the loader ignores: each documented name changes or breaks loading', () => {
    const base = load();
    const probes: Record<string, string> = {
      ROWGATE_DATA_DIR: join(dir, 'elsewhere'),
      ROWGATE_DATABASE_URL: 'sqlite::memory:',
      ROWGATE_ENCRYPTION_KEY: KEY_B,
      ROWGATE_JWT_SECRET: 'other',
      ROWGATE_JWT_EXPIRY_HOURS: '2',
      ROWGATE_ADMIN_USER: 'other',
      ROWGATE_ADMIN_PASSWORD: 'other',
      ROWGATE_PROXY_BIND_ADDR: '127.0.0.1:1',
      ROWGATE_ADMIN_BIND_ADDR: '127.0.0.1:1',
      ROWGATE_IDLE_TIMEOUT_SECS: '1',
      ROWGATE_MAX_CONNECTIONS: '1',
      ROWGATE_MAX_CONNECTIONS_PER_USER: '1',
      ROWGATE_CORS_ALLOWED_ORIGINS: 'https://x.example',
      ROWGATE_LOG_LEVEL: 'trace',
      ROWGATE_TLS_CERT: join(dir, 'missing.pem'),
      ROWGATE_TLS_KEY: join(dir, 'missing.pem'),
      ROWGATE_TLS_REQUIRED: 'true',
      ROWGATE_CLEARTEXT_PASSWORD: 'tls',
      ROWGATE_UPSTREAM_POOL_SIZE: '3',
      ROWGATE_UPSTREAM_POOL_IDLE_SECS: '0',
      ROWGATE_SHUTDOWN_TIMEOUT_SECS: '5',
      ROWGATE_QUERY_AUDIT_MAX_AGE_DAYS: '30',
      ROWGATE_QUERY_AUDIT_MAX_ROWS: '1000',
      ROWGATE_ADMIN_AUDIT_MAX_AGE_DAYS: '365',
      ROWGATE_ADMIN_AUDIT_MAX_ROWS: '1000',
      ROWGATE_AUDIT_PRUNE_INTERVAL_SECS: '60',
    };
    for (const row of describeConfigVariables()) {
      const probe = probes[row.name];
      expect(probe, row.name).toBeDefined();
      let changed: boolean;
      try {
        changed = JSON.stringify(load({ [row.name]: probe })) !== JSON.stringify(base);
      } catch (err) {
        changed = err instanceof ConfigError && err.message.includes(row.name);
      }
      expect(changed, row.name).toBe(true);
    }
  });
});
