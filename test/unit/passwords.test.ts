import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkPasswordRule,
  hashPassword,
  parseScramVerifier,
  scramMatches,
  scramVerifier,
  verifyPassword,
} from '../../src/identity/passwords.js';
import { saslprep } from '../../src/identity/saslprep.js';
import { createTestDatabase, dropTestDatabase, serverUrl } from '../support/postgres.js';

describe('argon2id', () => {
  it('hashes to a PHC string with default parameters and verifies', async () => {
    const hash = await hashPassword('Demo1234!');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verifyPassword(hash, 'Demo1234!')).toBe(true);
    expect(await verifyPassword(hash, 'demo1234!')).toBe(false);
    expect(await hashPassword('Demo1234!')).not.toBe(hash); // random salt
  });

  it('treats an unreadable hash as a failed verification', async () => {
    expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
    expect(await verifyPassword('', 'x')).toBe(false);
  });
});

describe('checkPasswordRule (§4.3.1)', () => {
  it.each([
    ['Ab1!', 'Password must be at least 8 characters'],
    ['abcdefg1!', 'Password must contain at least one uppercase letter'],
    ['ABCDEFG1!', 'Password must contain at least one lowercase letter'],
    ['Abcdefgh!', 'Password must contain at least one digit'],
    ['Abcdefg12', 'Password must contain at least one special character'],
    ['Ábcdefg١٢', 'Password must contain at least one digit'], // Arabic-Indic digits are not ASCII
    ['Ábcdefg1٢', 'Password must contain at least one special character'], // ٢ is numeric, not special
  ])('%s → %s', (pw, message) => {
    expect(checkPasswordRule(pw)).toBe(message);
  });

  it('accepts valid passwords, counting bytes and Unicode letters', () => {
    expect(checkPasswordRule('Demo1234!')).toBeNull();
    expect(checkPasswordRule('Ab1 cdef')).toBeNull(); // a space is special
    expect(checkPasswordRule('Éé1!ü')).toBeNull(); // 5 chars but 8 bytes
    expect(checkPasswordRule('ÉÉ1!')).toBe('Password must be at least 8 characters'); // 6 bytes
  });
});

describe('SCRAM-SHA-256 verifier', () => {
  it('has PostgreSQL’s text format and round-trips through the parser', () => {
    const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
    const verifier = scramVerifier('pencil', { salt });
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    const parsed = parseScramVerifier(verifier);
    expect(parsed.iterations).toBe(4096);
    expect(parsed.salt.equals(salt)).toBe(true);
    expect(parsed.storedKey).toHaveLength(32);
    expect(scramVerifier('pencil', { salt })).toBe(verifier); // deterministic for a given salt
    expect(scramMatches(verifier, 'pencil')).toBe(true);
    expect(scramMatches(verifier, 'pencil2')).toBe(false);
    expect(scramVerifier('pencil', { iterations: 10000 })).toMatch(/^SCRAM-SHA-256\$10000:/);
  });

  it('rejects malformed verifiers', () => {
    expect(() => parseScramVerifier('md5abc')).toThrow();
    expect(() => parseScramVerifier('SCRAM-SHA-256$4096:AAAA$AAAA:AAAA')).toThrow();
  });

  it('applies PostgreSQL’s SASLprep mapping, and keeps ASCII and prohibited input raw', () => {
    expect(saslprep('plain\u0007ascii')).toBe('plain\u0007ascii');
    expect(saslprep('a\u00A0b\u00ADc')).toBe('a bc');
    expect(saslprep('ｐａｓｓ')).toBe('pass');
    expect(saslprep('x\uE000ü')).toBe('x\uE000ü'); // private use → raw
  });
});

/** Interoperability with a real PostgreSQL server (the run's embedded server). */
describe('SCRAM verifier against PostgreSQL', () => {
  const admin = new pg.Client({ connectionString: serverUrl() });
  let database: { name: string; url: string };
  const roles: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase('scram');
    await admin.connect();
  });
  afterAll(async () => {
    for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
    await dropTestDatabase(database.name);
  });

  const newRoleName = () => {
    const name = `scram_${randomBytes(4).toString('hex')}`;
    roles.push(name);
    return name;
  };
  const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

  async function login(role: string, password: string): Promise<boolean> {
    const url = new URL(database.url);
    url.username = role;
    url.password = password; // percent-encoded by the URL setter, decoded by pg
    const client = new pg.Client({ connectionString: url.toString() });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ who: string }>('SELECT current_user AS who');
      return rows[0]?.who === role;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  it('a role created with our verifier logs in with the password, not with another', async () => {
    const role = newRoleName();
    const password = 'Demo1234!';
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD ${literal(scramVerifier(password))}`);
    const { rows } = await admin.query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [role],
    );
    expect(rows[0]?.rolpassword).toMatch(/^SCRAM-SHA-256\$4096:/); // stored as given, not re-hashed
    expect(await login(role, password)).toBe(true);
    expect(await login(role, 'Demo1234?')).toBe(false);
  });

  it('works with non-default iterations and a non-ASCII password', async () => {
    const role = newRoleName();
    const password = 'Pässwörd\u00A0ｘ1!';
    await admin.query(
      `CREATE ROLE ${role} LOGIN PASSWORD ${literal(scramVerifier(password, { iterations: 5000 }))}`,
    );
    expect(await login(role, password)).toBe(true);
    expect(await login(role, 'Pässwörd x1!')).toBe(true); // SASLprep: NBSP→space, fullwidth→ASCII
    expect(await login(role, 'Passwort1!')).toBe(false);
  });

  it.each([
    ['Demo1234!'],
    ['Pässwörd\u00A0ｘ1!'],
    ['soft\u00ADhyphen ＡＢＣ'],
    ['ﬁligature①'],
    ['priv\uE000ate ü'], // prohibited: PostgreSQL falls back to the raw password
    ['emoji 😀 ok'],
  ])('matches the verifier PostgreSQL computes itself for %j', async (password) => {
    const role = newRoleName();
    await admin.query("SET password_encryption = 'scram-sha-256'");
    await admin.query(`CREATE ROLE ${role} PASSWORD ${literal(password)}`);
    const { rows } = await admin.query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [role],
    );
    const theirs = rows[0]?.rolpassword ?? '';
    const { iterations, salt } = parseScramVerifier(theirs);
    expect(scramVerifier(password, { iterations, salt })).toBe(theirs);
  });
});
