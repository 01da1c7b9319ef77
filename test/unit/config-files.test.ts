/**
 * The parts of configuration that touch the disk or the network: data
 * directory, store URL paths, generated key files, TLS PEM files, `.env`,
 * and listen errors turned into ConfigErrors.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bindError, ConfigError, loadConfig, loadDotEnv, type Config } from '../../src/config/index.js';

const KEY_A = 'a'.repeat(64);
const KEY_UPPER = '0123456789ABCDEF'.repeat(4);
const HEX64 = /^[0-9a-f]{64}$/;
const PEM_CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const PEM_KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-config-files-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mode = (path: string): number => statSync(path).mode & 0o777;

function load(env: NodeJS.ProcessEnv = {}): Config {
  return loadConfig({ ROWGATE_DATA_DIR: dir, ...env }, { cwd: dir });
}

function failure(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).not.toMatch(/[\r\n]/);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('ROWGATE_DATA_DIR', () => {
  it('defaults to ./data under the working directory, created with mode 0700', () => {
    const config = loadConfig({}, { cwd: dir });
    expect(config.dataDir).toBe(join(dir, 'data'));
    expect(statSync(config.dataDir).isDirectory()).toBe(true);
    expect(mode(config.dataDir)).toBe(0o700);
    expect(config.store).toEqual({ engine: 'sqlite', target: join(dir, 'data', 'rowgate.db') });
  });

  it('resolves a relative value against the working directory and creates missing parents', () => {
    const config = loadConfig({ ROWGATE_DATA_DIR: 'state/rowgate' }, { cwd: dir });
    expect(config.dataDir).toBe(join(dir, 'state', 'rowgate'));
    expect(mode(config.dataDir)).toBe(0o700);
    expect(existsSync(join(config.dataDir, 'encryption_key'))).toBe(true);
  });

  // The forks pool runs tests in child processes, where process.umask may be changed.
  it('sets exact modes even under a restrictive umask', () => {
    const previous = process.umask(0o277);
    try {
      const config = loadConfig({ ROWGATE_DATA_DIR: 'strict' }, { cwd: dir });
      expect(mode(config.dataDir)).toBe(0o700);
      expect(mode(join(config.dataDir, 'encryption_key'))).toBe(0o600);
      expect(mode(join(config.dataDir, 'jwt_secret'))).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('leaves the mode of an existing directory alone', () => {
    chmodSync(dir, 0o755);
    load();
    expect(mode(dir)).toBe(0o755);
  });

  it('is not created when nothing needs it (PostgreSQL store, secrets in the environment)', () => {
    const dataDir = join(dir, 'unused');
    const config = loadConfig(
      {
        ROWGATE_DATA_DIR: dataDir,
        ROWGATE_DATABASE_URL: 'postgres://u:p@db:5432/rowgate',
        ROWGATE_ENCRYPTION_KEY: KEY_A,
        ROWGATE_JWT_SECRET: 'x',
      },
      { cwd: dir },
    );
    expect(config.dataDir).toBe(dataDir);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('rejects an empty value and a path that is a file', () => {
    expect(failure(() => load({ ROWGATE_DATA_DIR: ' ' })).message).toBe(
      'ROWGATE_DATA_DIR: must not be empty',
    );
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const err = failure(() => load({ ROWGATE_DATA_DIR: file }));
    expect(err.message).toMatch(new RegExp(`^ROWGATE_DATA_DIR: cannot create ${file}: `));
    expect(err.variable).toBe('ROWGATE_DATA_DIR');
  });
});

describe('ROWGATE_DATABASE_URL', () => {
  const secrets = { ROWGATE_ENCRYPTION_KEY: KEY_A, ROWGATE_JWT_SECRET: 'j' };

  it('defaults to rowgate.db in the data directory', () => {
    const config = load(secrets);
    expect(config.store).toEqual({ engine: 'sqlite', target: join(dir, 'rowgate.db') });
    expect(config.storeUrlSource).toBe('default');
  });

  it('resolves relative SQLite paths against the working directory', () => {
    const config = load({ ...secrets, ROWGATE_DATABASE_URL: 'sqlite://proxy_admin.db?mode=rwc' });
    expect(config.store).toEqual({ engine: 'sqlite', target: join(dir, 'proxy_admin.db') });
    expect(config.storeUrlSource).toBe('ROWGATE_DATABASE_URL');
    expect(load({ ...secrets, ROWGATE_DATABASE_URL: 'sqlite:sub/x.db' }).store.target).toBe(
      join(dir, 'sub/x.db'),
    );
    expect(load({ ...secrets, ROWGATE_DATABASE_URL: 'sqlite:///var/lib/r.db' }).store.target).toBe(
      '/var/lib/r.db',
    );
    expect(load({ ...secrets, ROWGATE_DATABASE_URL: 'sqlite::memory:' }).store.target).toBe(':memory:');
  });

  it('accepts PostgreSQL through the alias, and the primary name wins', () => {
    const viaAlias = load({ ...secrets, BR_ADMIN_DATABASE_URL: 'postgresql://u:p@db:5432/admin' });
    expect(viaAlias.store).toEqual({ engine: 'postgres', target: 'postgresql://u:p@db:5432/admin' });
    expect(viaAlias.storeUrlSource).toBe('BR_ADMIN_DATABASE_URL');
    const both = load({
      ...secrets,
      ROWGATE_DATABASE_URL: 'postgres://a@h/one',
      BR_ADMIN_DATABASE_URL: 'postgres://b@h/two',
    });
    expect(both.store).toEqual({ engine: 'postgres', target: 'postgres://a@h/one' });
    expect(both.storeUrlSource).toBe('ROWGATE_DATABASE_URL');
  });

  it.each(['', 'mysql://h/db', 'sqlite://', 'postgres://user:hunter2@[bad/db', '/just/a/path.db'])(
    'rejects %j naming the variable and never echoing the URL',
    (url) => {
      const err = failure(() => load({ ...secrets, ROWGATE_DATABASE_URL: url }));
      expect(err.message.startsWith('ROWGATE_DATABASE_URL (alias BR_ADMIN_DATABASE_URL): ')).toBe(true);
      expect(err.message).not.toContain('hunter2');
      expect(err.variable).toBe('ROWGATE_DATABASE_URL');
    },
  );
});

describe('ROWGATE_ENCRYPTION_KEY', () => {
  const keyFile = (): string => join(dir, 'encryption_key');

  it('takes the primary name, the alias, and prefers the primary', () => {
    expect(load({ ROWGATE_ENCRYPTION_KEY: KEY_UPPER }).encryptionKeyHex).toBe(KEY_UPPER);
    expect(load({ BR_ENCRYPTION_KEY: KEY_A }).encryptionKeyHex).toBe(KEY_A);
    expect(load({ ROWGATE_ENCRYPTION_KEY: KEY_UPPER, BR_ENCRYPTION_KEY: KEY_A }).encryptionKeyHex).toBe(
      KEY_UPPER,
    );
    expect(existsSync(keyFile())).toBe(false);
  });

  it.each([
    ['', 'it is empty'],
    ['a'.repeat(63), 'got 63 characters'],
    ['a'.repeat(65), 'got 65 characters'],
    ['g'.repeat(64), 'got 64 characters'],
  ])('rejects %j without echoing it', (value, detail) => {
    const err = failure(() => load({ ROWGATE_ENCRYPTION_KEY: value }));
    expect(err.message).toBe(
      `ROWGATE_ENCRYPTION_KEY (alias BR_ENCRYPTION_KEY): must be 64 hexadecimal characters (${detail})`,
    );
    expect(existsSync(keyFile())).toBe(false);
  });

  it('rejects an invalid alias value even when a key file exists', () => {
    writeFileSync(keyFile(), KEY_A);
    expect(failure(() => load({ BR_ENCRYPTION_KEY: 'nope' })).variable).toBe('ROWGATE_ENCRYPTION_KEY');
  });

  it('generates, persists with mode 0600, warns, and reads the same key back', () => {
    const first = load();
    expect(first.encryptionKeyHex).toMatch(HEX64);
    expect(readFileSync(keyFile(), 'utf8')).toBe(first.encryptionKeyHex);
    expect(mode(keyFile())).toBe(0o600);
    expect(first.warnings).toContain(
      `ROWGATE_ENCRYPTION_KEY (alias BR_ENCRYPTION_KEY) is not set: generated a new key in ${keyFile()}; back it up, datasource secrets cannot be decrypted without it`,
    );
    const second = load();
    expect(second.encryptionKeyHex).toBe(first.encryptionKeyHex);
    expect(second.warnings).toEqual([]);
    expect(load({ ROWGATE_DATA_DIR: join(dir, 'other') }).encryptionKeyHex).not.toBe(first.encryptionKeyHex);
  });

  it('trims the key file', () => {
    writeFileSync(keyFile(), `  ${KEY_UPPER}\n`, { mode: 0o600 });
    expect(load().encryptionKeyHex).toBe(KEY_UPPER);
  });

  it.each(['', 'short', 'z'.repeat(64)])(
    'refuses a key file holding %j instead of replacing it',
    (content) => {
      writeFileSync(keyFile(), content, { mode: 0o600 });
      const err = failure(() => load());
      expect(err.message).toBe(
        `ROWGATE_ENCRYPTION_KEY (alias BR_ENCRYPTION_KEY) is not set and ${keyFile()} does not hold 64 hexadecimal characters: fix the file or set the variable`,
      );
      expect(readFileSync(keyFile(), 'utf8')).toBe(content);
    },
  );

  it('names the variable when the key file cannot be read', () => {
    mkdirSync(keyFile());
    const err = failure(() => load());
    expect(err.message).toMatch(
      /^ROWGATE_ENCRYPTION_KEY \(alias BR_ENCRYPTION_KEY\) is not set and .* cannot be read: /,
    );
  });

  it('warns when a key file is readable by others', () => {
    writeFileSync(keyFile(), KEY_A);
    chmodSync(keyFile(), 0o644);
    expect(load().warnings).toContain(
      `${keyFile()} is accessible by other users (mode 0644); run chmod 600 on it`,
    );
  });
});

describe('ROWGATE_JWT_SECRET', () => {
  const secretFile = (): string => join(dir, 'jwt_secret');

  it('takes the primary name (trimmed), the alias, and prefers the primary', () => {
    expect(load({ ROWGATE_JWT_SECRET: '  my secret \n' }).jwtSecret).toBe('my secret');
    expect(load({ BR_ADMIN_JWT_SECRET: 'br' }).jwtSecret).toBe('br');
    expect(load({ ROWGATE_JWT_SECRET: 'mine', BR_ADMIN_JWT_SECRET: 'br' }).jwtSecret).toBe('mine');
    expect(existsSync(secretFile())).toBe(false);
  });

  it.each(['', '   ', '\n'])('rejects a blank value %j', (value) => {
    expect(failure(() => load({ ROWGATE_JWT_SECRET: value })).message).toBe(
      'ROWGATE_JWT_SECRET (alias BR_ADMIN_JWT_SECRET): must not be blank',
    );
    expect(failure(() => load({ BR_ADMIN_JWT_SECRET: value })).variable).toBe('ROWGATE_JWT_SECRET');
  });

  it('generates 64 hex characters with mode 0600 and reads them back', () => {
    const first = load();
    expect(first.jwtSecret).toMatch(HEX64);
    expect(readFileSync(secretFile(), 'utf8')).toBe(first.jwtSecret);
    expect(mode(secretFile())).toBe(0o600);
    expect(first.warnings).toContain(
      `ROWGATE_JWT_SECRET (alias BR_ADMIN_JWT_SECRET) is not set: generated a new secret in ${secretFile()}`,
    );
    expect(load().jwtSecret).toBe(first.jwtSecret);
    expect(first.jwtSecret).not.toBe(first.encryptionKeyHex);
  });

  it('uses any non-blank file content, trimmed', () => {
    writeFileSync(secretFile(), 'hand written secret\n', { mode: 0o600 });
    expect(load().jwtSecret).toBe('hand written secret');
  });

  it('regenerates a blank file in place and tightens its mode', () => {
    writeFileSync(secretFile(), '  \n');
    chmodSync(secretFile(), 0o644);
    const config = load();
    expect(config.jwtSecret).toMatch(HEX64);
    expect(readFileSync(secretFile(), 'utf8')).toBe(config.jwtSecret);
    expect(mode(secretFile())).toBe(0o600);
    expect(config.warnings).toContain(
      `ROWGATE_JWT_SECRET (alias BR_ADMIN_JWT_SECRET) is not set: ${secretFile()} was blank: generated a new secret in it`,
    );
  });
});

describe('validation order', () => {
  it('writes no key files when another variable is invalid', () => {
    const dataDir = join(dir, 'fresh');
    failure(() => loadConfig({ ROWGATE_DATA_DIR: dataDir, ROWGATE_PROXY_BIND_ADDR: 'nope' }, { cwd: dir }));
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('ROWGATE_TLS_CERT / ROWGATE_TLS_KEY', () => {
  const secrets = { ROWGATE_ENCRYPTION_KEY: KEY_A, ROWGATE_JWT_SECRET: 'j' };
  const pem = (): { cert: string; key: string } => {
    writeFileSync(join(dir, 'cert.pem'), PEM_CERT);
    writeFileSync(join(dir, 'key.pem'), PEM_KEY);
    return { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  };

  it('is off by default', () => {
    expect(load(secrets).tls).toBeUndefined();
  });

  it('loads both PEM files, resolving relative paths against the working directory', () => {
    const files = pem();
    const config = load({ ...secrets, ROWGATE_TLS_CERT: 'cert.pem', ROWGATE_TLS_KEY: files.key });
    expect(config.tls).toEqual({ cert: PEM_CERT, key: PEM_KEY, certPath: files.cert, keyPath: files.key });
  });

  it('names the missing half when only one is set', () => {
    const files = pem();
    expect(failure(() => load({ ...secrets, ROWGATE_TLS_CERT: files.cert })).message).toBe(
      'ROWGATE_TLS_KEY: must be set together with ROWGATE_TLS_CERT',
    );
    expect(failure(() => load({ ...secrets, ROWGATE_TLS_KEY: files.key })).message).toBe(
      'ROWGATE_TLS_CERT: must be set together with ROWGATE_TLS_KEY',
    );
  });

  it('names the variable and path of a missing, unreadable or non-PEM file', () => {
    const files = pem();
    const missing = join(dir, 'missing.pem');
    const err = failure(() => load({ ...secrets, ROWGATE_TLS_CERT: missing, ROWGATE_TLS_KEY: files.key }));
    expect(err.message).toMatch(new RegExp(`^ROWGATE_TLS_CERT: cannot read ${missing}: ENOENT`));
    expect(err.variable).toBe('ROWGATE_TLS_CERT');

    const unreadable = failure(() =>
      load({ ...secrets, ROWGATE_TLS_CERT: files.cert, ROWGATE_TLS_KEY: dir }),
    );
    expect(unreadable.message).toMatch(new RegExp(`^ROWGATE_TLS_KEY: cannot read ${dir}: EISDIR`));

    writeFileSync(join(dir, 'key.der'), Buffer.from([0x30, 0x82, 0x01]));
    const notPem = failure(() =>
      load({ ...secrets, ROWGATE_TLS_CERT: files.cert, ROWGATE_TLS_KEY: 'key.der' }),
    );
    expect(notPem.message).toBe(
      `ROWGATE_TLS_KEY: ${join(dir, 'key.der')} is not a PEM file (no "-----BEGIN" line)`,
    );
  });

  it('rejects an empty path', () => {
    const files = pem();
    expect(
      failure(() => load({ ...secrets, ROWGATE_TLS_CERT: '', ROWGATE_TLS_KEY: files.key })).message,
    ).toBe('ROWGATE_TLS_CERT: expected a file path, got ""');
  });
});

describe('loadDotEnv', () => {
  it('fills in variables from <cwd>/.env without overriding the environment', () => {
    writeFileSync(
      join(dir, '.env'),
      '# comment\nROWGATE_ADMIN_USER=from-file\nROWGATE_LOG_LEVEL=debug\nEMPTY_BUT_SET=file\nQUOTED="a b"\n',
    );
    const env: NodeJS.ProcessEnv = { ROWGATE_ADMIN_USER: 'real', EMPTY_BUT_SET: '' };
    expect(loadDotEnv(dir, env)).toEqual(['ROWGATE_LOG_LEVEL', 'QUOTED']);
    expect(env).toEqual({
      ROWGATE_ADMIN_USER: 'real',
      EMPTY_BUT_SET: '',
      ROWGATE_LOG_LEVEL: 'debug',
      QUOTED: 'a b',
    });
    const config = loadConfig({ ...env, ROWGATE_DATA_DIR: dir }, { cwd: dir });
    expect(config.adminUser).toBe('real');
    expect(config.logLevel).toBe('debug');
  });

  it('does nothing without a .env file', () => {
    const env: NodeJS.ProcessEnv = { A: '1' };
    expect(loadDotEnv(dir, env)).toEqual([]);
    expect(env).toEqual({ A: '1' });
  });

  it('fails with a ConfigError when .env cannot be read', () => {
    mkdirSync(join(dir, '.env'));
    expect(failure(() => loadDotEnv(dir, {})).message).toMatch(/^cannot read .*\.env: EISDIR/);
  });
});

describe('bindError', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((done) => s.close(done))));
  });

  const listen = (port: number, host: string): Promise<Server> =>
    new Promise((resolve, reject) => {
      const server = createServer();
      servers.push(server);
      server.once('error', reject);
      server.listen(port, host, () => resolve(server));
    });

  it('reports a port that is really in use, naming the variable', async () => {
    const first = await listen(0, '127.0.0.1');
    const address = first.address();
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
    const err = await listen(address.port, '127.0.0.1').then(
      () => {
        throw new Error('second listen unexpectedly succeeded');
      },
      (e: unknown) => e,
    );
    expect((err as NodeJS.ErrnoException).code).toBe('EADDRINUSE');
    const configError = bindError('ROWGATE_ADMIN_BIND_ADDR', { host: '127.0.0.1', port: address.port }, err);
    expect(configError).toBeInstanceOf(ConfigError);
    expect(configError.message).toBe(
      `ROWGATE_ADMIN_BIND_ADDR (alias BR_ADMIN_BIND_ADDR): 127.0.0.1:${address.port} is already in use`,
    );
    expect(configError.variable).toBe('ROWGATE_ADMIN_BIND_ADDR');
    expect(configError.cause).toBe(err);
  });

  const errno = (code: string, message = code): Error => Object.assign(new Error(message), { code });

  it.each([
    [
      'EACCES',
      { host: '0.0.0.0', port: 80 },
      'permission denied for 0.0.0.0:80 (ports below 1024 need extra privileges)',
    ],
    ['EACCES', { host: '0.0.0.0', port: 8080 }, 'permission denied for 0.0.0.0:8080'],
    ['EADDRNOTAVAIL', { host: '192.0.2.1', port: 5434 }, '192.0.2.1:5434 is not an address of this machine'],
    ['EADDRINUSE', { host: '::1', port: 5434 }, '[::1]:5434 is already in use'],
    ['ENOTFOUND', { host: 'nohost', port: 5434 }, 'cannot resolve the host of nohost:5434'],
    ['EWHATEVER', { host: 'h', port: 1 }, 'cannot listen on h:1: boom'],
  ])('maps %s', (code, addr, text) => {
    expect(bindError('ROWGATE_PROXY_BIND_ADDR', addr, errno(code, 'boom')).message).toBe(
      `ROWGATE_PROXY_BIND_ADDR (alias BR_PROXY_BIND_ADDR): ${text}`,
    );
  });

  it('accepts the address as text and keeps the message on one line', () => {
    expect(bindError('ROWGATE_PROXY_BIND_ADDR', '127.0.0.1:443', errno('EACCES')).message).toContain(
      'ports below 1024',
    );
    expect(bindError('ROWGATE_PROXY_BIND_ADDR', 'h:1', new Error('two\nlines')).message).toBe(
      'ROWGATE_PROXY_BIND_ADDR (alias BR_PROXY_BIND_ADDR): cannot listen on h:1: two lines',
    );
  });
});
