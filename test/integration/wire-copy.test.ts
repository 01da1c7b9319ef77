/**
 * COPY … TO STDOUT through the proxy, as alice (tenant acme): psql 15's
 * `\copy (query) to stdout` and `\copy table to stdout` (simple protocol),
 * and COPY through Parse / Bind / Execute. The copied data carries the row
 * filter and the mask, never the hidden column; COPY FROM, COPY to a file
 * or a program are refused with PostgreSQL's errors and the session goes on.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEBIAN_POSTGRES_15_BIN } from '../../src/embedded/system-postgres.js';
import * as fe from '../../src/wire/frontend.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { serverUrl } from '../support/postgres.js';
import { DEMO_DATABASE, openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { pbe, RawClient } from './wire-settings-support.js';

const PSQL = join(DEBIAN_POSTGRES_15_BIN, 'psql');
const hasPsql = (() => {
  try {
    accessSync(PSQL, constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();
const run = promisify(execFile);

let demo: DemoStore;
let server: ProxyServer;
let direct: pg.Client;

beforeAll(async () => {
  demo = await openDemoStore();
  server = await demo.proxy();
  direct = new pg.Client({ connectionString: serverUrl(DEMO_DATABASE) });
  await direct.connect();
});

afterAll(async () => {
  await direct?.end();
  await server?.close();
  await demo?.admin.dispose();
});

/** psql 15 as alice; every -c runs in the same session, in order. */
async function psql(...commands: string[]): Promise<{ stdout: string; stderr: string }> {
  const url = `postgresql://alice:Demo1234!@127.0.0.1:${server.port}/${DEMO_DATABASE}?sslmode=disable`;
  const args = ['-X', '-q', ...commands.flatMap((c) => ['-c', c]), url];
  try {
    const child = run(PSQL, args, { env: { ...process.env, PGCONNECT_TIMEOUT: '10' }, timeout: 20_000 });
    // `\copy … from stdin` reads psql's stdin even after the server refused: give it an empty one.
    child.child.stdin?.end();
    return await child;
  } catch (err) {
    const e = err as { stdout: string; stderr: string };
    return { stdout: e.stdout, stderr: e.stderr };
  }
}

/** The acme customers as COPY text lines (id, org, masked ssn), computed directly. */
async function expectedLines(): Promise<string[]> {
  const r = await direct.query(
    "SELECT id, org, '***-**-' || right(ssn, 4) AS ssn FROM customers WHERE org = 'acme' ORDER BY id",
  );
  return r.rows.map((x) => `${x.id}\t${x.org}\t${x.ssn}`);
}

describe.skipIf(!hasPsql)('COPY TO STDOUT with psql 15 (skipped: no Debian PostgreSQL 15 psql)', () => {
  it('\\copy (query) to stdout copies only permitted, masked rows', async () => {
    const { stdout, stderr } = await psql(
      '\\copy (SELECT id, org, ssn FROM customers ORDER BY id) to stdout',
    );
    expect(stderr).toBe('');
    expect(stdout.trim().split('\n')).toEqual(await expectedLines());
  });

  it('\\copy table to stdout is secured like a query: no other tenant, no hidden column', async () => {
    const { stdout, stderr } = await psql('\\copy customers to stdout');
    expect(stderr).toBe('');
    const lines = stdout.trim().split('\n');
    expect(lines.length).toBe((await expectedLines()).length);
    const visible = await direct.query(
      "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'customers' AND column_name <> 'credit_card'",
    );
    const cards = (await direct.query("SELECT credit_card FROM customers WHERE org = 'acme'")).rows.map(
      (r) => r.credit_card as string,
    );
    for (const line of lines) {
      const fields = line.split('\t');
      expect(fields.length).toBe(visible.rows[0].n);
      expect(fields).toContain('acme');
      expect(fields.some((f) => /^\d{3}-\d{2}-\d{4}$/.test(f))).toBe(false);
      for (const card of cards) expect(line).not.toContain(card);
    }
    expect(stdout).not.toMatch(/globex|stark/);
  });

  it('refuses a hidden column, COPY FROM, files and programs; the session carries on', async () => {
    const { stdout, stderr } = await psql(
      '\\copy (SELECT credit_card FROM customers) to stdout',
      '\\copy customers from stdin',
      "COPY customers TO '/tmp/rowgate-copy-test'",
      "COPY customers TO PROGRAM 'cat'",
      'SELECT count(*) FROM orders WHERE org <> $$acme$$',
    );
    expect(stderr).toContain('ERROR:  column "credit_card" does not exist');
    expect(stderr).toContain('ERROR:  cannot execute COPY FROM in a read-only transaction');
    expect(stderr).toContain('ERROR:  permission denied to COPY to a file');
    expect(stderr).toContain('ERROR:  permission denied to COPY to or from an external program');
    expect(stdout).toMatch(/^\s*0\s*$/m);
  });
});

describe('COPY TO STDOUT in the extended protocol', () => {
  it('relays CopyOutResponse, CopyData, CopyDone with the policies applied', async () => {
    const raw = await RawClient.proxy(server.port);
    try {
      const frames = await raw.frames(
        ...pbe('COPY (SELECT id, org, ssn FROM customers ORDER BY id) TO STDOUT'),
        fe.sync(),
      );
      const types = frames.map((f) => f.type).join('');
      expect(types).toMatch(/^12Hd+cCZ$/);
      const data = frames
        .filter((f) => f.type === 'd')
        .map((f) => f.body.toString('utf8').replace(/\n$/, ''));
      expect(data).toEqual(await expectedLines());
      const refused = await raw.run(...pbe('COPY customers FROM STDIN'), fe.sync());
      expect(refused).toEqual(['E:ERROR:25006:cannot execute COPY FROM in a read-only transaction', 'Z:I']);
      const table = await raw.frames(...pbe('COPY customers TO STDOUT'), fe.sync());
      expect(table.filter((f) => f.type === 'd').length).toBe(data.length);
    } finally {
      raw.close();
    }
  });
});
