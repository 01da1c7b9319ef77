/**
 * Cleartext password authentication (ROWGATE_CLEARTEXT_PASSWORD) through real
 * clients and the raw protocol: which request the proxy sends in each mode
 * on plain and TLS connections, logins with node-postgres and psql, the
 * uniform 28P01 for wrong password / unknown / inactive / throttled, the
 * PostgreSQL errors for malformed password messages, and unknown users
 * costing the same argon2 work as known ones.
 *
 * `cleartext_only` has the SCRAM verifier of another password: it can only
 * get in through a cleartext exchange, which makes "the login went through
 * cleartext" observable from any client.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleartextPasswordMode } from '../../src/config/index.js';
import { AuthThrottle } from '../../src/wire/auth-throttle.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { addDemoUser, authCode, errorFields, passwordBody, RawClient } from './wire-auth-support.js';

const PASSWORD = 'Clear-Text-1';
let demo: DemoStore;
let dataDir: string;
const servers = {} as Record<CleartextPasswordMode, ProxyServer>;

beforeAll(async () => {
  demo = await openDemoStore();
  dataDir = mkdtempSync(join(tmpdir(), 'rowgate-wire-auth-'));
  await addDemoUser(demo, 'cleartext_only', PASSWORD, { scramPassword: 'Another-pass-2' });
  await addDemoUser(demo, 'retired', PASSWORD, { active: false });
  // High thresholds: this file makes many failed attempts on purpose (the throttle has its own test).
  const throttle = () => new AuthThrottle({ maxFailuresPerUser: 1000, maxFailuresPerAddress: 1000 });
  for (const mode of ['off', 'tls', 'always'] as const) {
    servers[mode] = await demo.proxy({ tls: { dataDir }, cleartextPassword: mode, throttle: throttle() });
  }
});

afterAll(async () => {
  for (const server of Object.values(servers)) await server.close();
  await demo?.admin.dispose();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The authentication request the proxy answers a startup packet with. */
async function requestCode(server: ProxyServer, ssl: boolean): Promise<number> {
  const c = await RawClient.connect(server.port, {
    ssl,
    params: { user: 'alice', database: DEMO_DATABASE },
  });
  try {
    return authCode(await c.message());
  } finally {
    c.end();
  }
}

async function login(
  server: ProxyServer,
  options: { ssl: boolean; user?: string; password?: string },
): Promise<{ ok: true; encrypted: boolean } | { ok: false; code?: string; message: string }> {
  const c = new pg.Client({
    host: '127.0.0.1',
    port: server.port,
    user: options.user ?? 'alice',
    password: options.password ?? 'Demo1234!',
    database: DEMO_DATABASE,
    ssl: options.ssl ? { rejectUnauthorized: false } : false,
  });
  try {
    await c.connect();
  } catch (e) {
    const err = e as { code?: string; message: string };
    await c.end().catch(() => undefined);
    return { ok: false, code: err.code, message: err.message };
  }
  try {
    const { rows } = await c.query<{ one: number }>('SELECT 1 AS one');
    expect(rows).toEqual([{ one: 1 }]);
    return { ok: true, encrypted: options.ssl };
  } finally {
    await c.end();
  }
}

const failed = (user: string) => ({
  ok: false,
  code: '28P01',
  message: `password authentication failed for user "${user}"`,
});

describe('which method the proxy asks for', () => {
  it.each([
    ['off', false, 10],
    ['off', true, 10],
    ['tls', false, 10],
    ['tls', true, 3],
    ['always', false, 3],
    ['always', true, 3],
  ] as const)('mode %s, TLS %s → authentication request %i', async (mode, ssl, code) => {
    expect(await requestCode(servers[mode], ssl)).toBe(code);
  });
});

describe('logins with node-postgres', () => {
  it('tls mode: a TLS client logs in by cleartext, a plain one by SCRAM', async () => {
    expect(await login(servers.tls, { ssl: true })).toEqual({ ok: true, encrypted: true });
    expect(await login(servers.tls, { ssl: false })).toEqual({ ok: true, encrypted: false });
    // Only a cleartext exchange can let this account in: so the TLS login above was cleartext too.
    expect(await login(servers.tls, { ssl: true, user: 'cleartext_only', password: PASSWORD })).toMatchObject(
      {
        ok: true,
      },
    );
    expect(await login(servers.tls, { ssl: false, user: 'cleartext_only', password: PASSWORD })).toEqual(
      failed('cleartext_only'),
    );
  });

  it('always mode: a plain client logs in by cleartext', async () => {
    expect(await login(servers.always, { ssl: false })).toEqual({ ok: true, encrypted: false });
    expect(
      await login(servers.always, { ssl: false, user: 'cleartext_only', password: PASSWORD }),
    ).toMatchObject({ ok: true });
  });

  it('off mode never takes a cleartext password', async () => {
    expect(await login(servers.off, { ssl: true })).toMatchObject({ ok: true });
    expect(await login(servers.off, { ssl: true, user: 'cleartext_only', password: PASSWORD })).toEqual(
      failed('cleartext_only'),
    );
  });

  it.each([
    ['tls', true],
    ['tls', false],
    ['always', false],
    ['off', true],
  ] as const)(
    'mode %s, TLS %s: wrong password, unknown and inactive user get one error',
    async (mode, ssl) => {
      const server = servers[mode];
      expect(await login(server, { ssl, password: 'wrong' })).toEqual(failed('alice'));
      expect(await login(server, { ssl, user: 'nobody', password: PASSWORD })).toEqual(failed('nobody'));
      expect(await login(server, { ssl, user: 'retired', password: PASSWORD })).toEqual(failed('retired'));
    },
  );

  it('a throttled user gets the same error, even with the right password', async () => {
    const server = await demo.proxy({
      tls: { dataDir },
      cleartextPassword: 'always',
      throttle: new AuthThrottle({ maxFailuresPerUser: 2 }),
    });
    try {
      expect(await login(server, { ssl: false, password: 'wrong' })).toEqual(failed('alice'));
      expect(await login(server, { ssl: false, password: 'wrong' })).toEqual(failed('alice'));
      expect(await login(server, { ssl: false })).toEqual(failed('alice'));
      expect(await login(server, { ssl: false, user: 'bob' })).toMatchObject({ ok: true });
    } finally {
      await server.close();
    }
  });
});

describe('the password message', () => {
  async function answer(body: Buffer | null, type = 'p'): Promise<Record<string, string>> {
    const c = await RawClient.connect(servers.always.port, {
      params: { user: 'alice', database: DEMO_DATABASE },
    });
    try {
      expect(authCode(await c.message())).toBe(3);
      c.send(type, body ?? Buffer.alloc(0));
      const fields = errorFields(await c.message());
      expect(await c.closed()).toBe(true);
      return fields;
    } finally {
      c.end();
    }
  }

  it('authenticates a well-formed one over the raw protocol', async () => {
    const c = await RawClient.connect(servers.always.port, {
      params: { user: 'alice', database: DEMO_DATABASE },
    });
    try {
      expect(authCode(await c.message())).toBe(3);
      c.send('p', passwordBody('Demo1234!'));
      expect(authCode(await c.message())).toBe(0);
    } finally {
      c.end();
    }
  });

  it('refuses malformed ones as PostgreSQL does', async () => {
    const violation = (message: string) => ({ S: 'FATAL', V: 'FATAL', C: '08P01', M: message });
    expect(await answer(Buffer.from('Demo1234!'))).toEqual(violation('invalid password packet size'));
    expect(await answer(Buffer.from('Demo1234!\0extra\0'))).toEqual(
      violation('invalid password packet size'),
    );
    expect(await answer(Buffer.alloc(0))).toEqual(violation('invalid password packet size'));
    expect(await answer(passwordBody('Demo1234!'), 'Q')).toEqual(
      violation('expected password response, got message type 81'),
    );
    expect(await answer(Buffer.alloc(70_000, 0x61))).toEqual(violation('invalid message length'));
    expect(await answer(passwordBody(''))).toMatchObject({
      C: '28P01',
      M: 'empty password returned by client',
    });
  });

  it('does not buffer an oversized password message: refused before it is complete', async () => {
    const c = await RawClient.connect(servers.always.port, {
      params: { user: 'alice', database: DEMO_DATABASE },
    });
    try {
      expect(authCode(await c.message())).toBe(3);
      const header = Buffer.alloc(5);
      header.write('p', 0, 'latin1');
      header.writeInt32BE(10_000_000, 1); // under the 16 MiB message limit, far over an auth message
      c.socket.write(Buffer.concat([header, Buffer.alloc(100_000, 0x61)]));
      expect(errorFields(await c.message())).toMatchObject({ C: '08P01', M: 'invalid message length' });
      expect(await c.closed()).toBe(true);
    } finally {
      c.end();
    }
  });
});

describe('timing', () => {
  it('an unknown user costs the same argon2 work as a known one', async () => {
    async function micros(user: string): Promise<number> {
      const c = await RawClient.connect(servers.always.port, { params: { user, database: DEMO_DATABASE } });
      try {
        expect(authCode(await c.message())).toBe(3);
        const started = process.hrtime.bigint();
        c.send('p', passwordBody('wrong-password'));
        expect(errorFields(await c.message()).C).toBe('28P01');
        return Number(process.hrtime.bigint() - started) / 1000;
      } finally {
        c.end();
      }
    }
    const known: number[] = [];
    const unknown: number[] = [];
    await micros('nobody'); // computes the dummy hash
    for (let i = 0; i < 9; i++) {
      known.push(await micros('alice'));
      unknown.push(await micros(`nobody${i}`));
    }
    const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? 0;
    // Without the dummy verification an unknown user would answer in ~1 ms instead of tens.
    expect(median(unknown) / median(known)).toBeGreaterThan(0.5);
    expect(median(unknown) / median(known)).toBeLessThan(2);
    expect(median(known)).toBeGreaterThan(3_000);
  });
});

const run = promisify(execFile);
const hasPsql = (() => {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasPsql)('psql in tls mode (skipped: no psql binary installed)', () => {
  async function psql(user: string, password: string, sslmode: string): Promise<string> {
    const env = { ...process.env, PGPASSWORD: password, PGSSLMODE: sslmode, PGCONNECT_TIMEOUT: '10' };
    const conninfo = `host=127.0.0.1 port=${servers.tls.port} user=${user} dbname=${DEMO_DATABASE}`;
    const { stdout } = await run('psql', ['-X', '-A', '-t', '-w', '-c', 'SELECT 42', conninfo], { env });
    return stdout.trim();
  }

  it('logs in with PGSSLMODE=require by cleartext, and by SCRAM without TLS', async () => {
    expect(await psql('alice', 'Demo1234!', 'require')).toBe('42');
    expect(await psql('cleartext_only', PASSWORD, 'require')).toBe('42');
    expect(await psql('alice', 'Demo1234!', 'disable')).toBe('42');
    await expect(psql('cleartext_only', PASSWORD, 'disable')).rejects.toThrow(
      /password authentication failed for user "cleartext_only"/,
    );
    await expect(psql('alice', 'wrong', 'require')).rejects.toThrow(
      /password authentication failed for user "alice"/,
    );
  });
});
