/** A verifier computed by PostgreSQL itself works with our SCRAM server and node-postgres's client. */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScramExchange, SCRAM_AUTH_FAILED, SCRAM_MECHANISM } from '../../src/wire/scram-server.js';
import { serverUrl } from '../support/postgres.js';

interface PgSaslSession {
  response: string;
}
interface PgSasl {
  startSession(mechanisms: string[]): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
}
const pgSasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as PgSasl;

describe('SCRAM server with a PostgreSQL-generated verifier', () => {
  const admin = new pg.Client({ connectionString: serverUrl() });
  const role = `rowgate_scram_${randomBytes(4).toString('hex')}`;
  const password = 'Gr\u00FC\u00DFe Demo1234!'; // non-ASCII: SASLprep on both sides
  let verifier = '';

  beforeAll(async () => {
    await admin.connect();
    await admin.query(`SET password_encryption = 'scram-sha-256'`);
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    const { rows } = await admin.query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [role],
    );
    verifier = rows[0]?.rolpassword ?? '';
  });
  afterAll(async () => {
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
    await admin.end();
  });

  async function run(attempt: string) {
    const exchange = createScramExchange(role, verifier);
    const session = pgSasl.startSession([SCRAM_MECHANISM]);
    const first = exchange.start(session.response);
    if (!('serverFirst' in first)) throw new Error(first.error);
    await pgSasl.continueSession(session, attempt, first.serverFirst);
    const final = exchange.finish(session.response);
    if ('serverFinal' in final) pgSasl.finalizeSession(session, final.serverFinal);
    return final;
  }

  it('authenticates the right password, refuses a wrong one', async () => {
    expect(verifier).toMatch(/^SCRAM-SHA-256\$\d+:/);
    expect(await run(password)).toMatchObject({ serverFinal: expect.stringMatching(/^v=/) });
    expect(await run(password.normalize('NFD'))).toMatchObject({ serverFinal: expect.any(String) });
    expect(await run('Demo1234!')).toEqual({ ok: false, error: SCRAM_AUTH_FAILED });
  });
});
