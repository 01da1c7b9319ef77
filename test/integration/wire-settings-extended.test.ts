/**
 * SET / SHOW / RESET through Parse / Bind / Describe / Execute: every
 * pipeline is sent both straight to PostgreSQL and through the proxy, and
 * the answers must be the same messages — ParseComplete, ParameterDescription,
 * RowDescription / NoData, BindComplete, DataRow, CommandComplete,
 * ParameterStatus, errors and warnings with their codes, ReadyForQuery
 * status — including transaction semantics (rollback, SET LOCAL,
 * savepoints, a failed pipeline). What differs by design (the allowlist,
 * SHOW ALL) is asserted on its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fe from '../../src/wire/frontend.js';
import type { ProxyServer } from '../../src/wire/server.js';
import { openDemoStore, type DemoStore } from '../support/wire-demo.js';
import { bindWithFormats, pbe, RawClient } from './wire-settings-support.js';

let demo: DemoStore;
let server: ProxyServer;
let direct: RawClient;
let proxied: RawClient;

beforeAll(async () => {
  demo = await openDemoStore();
  server = await demo.proxy();
  direct = await RawClient.direct();
  proxied = await RawClient.proxy(server.port);
  // Same starting point on both sides.
  for (const c of [direct, proxied]) await c.run(fe.query("SET TimeZone = 'UTC'"));
});

afterAll(async () => {
  direct?.close();
  proxied?.close();
  await server?.close();
  await demo?.admin.dispose();
});

/** Runs the pipeline on both connections and expects identical answers. */
async function same(...messages: Buffer[]): Promise<string[]> {
  const expected = await direct.run(...messages);
  const got = await proxied.run(...messages);
  expect(got).toEqual(expected);
  return got;
}

const showTz = () => same(fe.query('SHOW TimeZone'));

describe('SET / SHOW / RESET in the extended protocol, compared with PostgreSQL', () => {
  it('answers a described SET and SHOW with the same messages', async () => {
    const set = await same(
      fe.parse('s1', "SET application_name = 'ext-test'"),
      fe.describe('S', 's1'),
      fe.bind('', 's1'),
      fe.describe('P', ''),
      fe.execute(''),
      fe.sync(),
    );
    expect(set).toEqual(['1', 't:', 'n', '2', 'n', 'C:SET', 'S:application_name=ext-test', 'Z:I']);
    const show = await same(
      fe.parse('s2', 'SHOW application_name'),
      fe.describe('S', 's2'),
      fe.bind('', 's2'),
      fe.describe('P', ''),
      fe.execute(''),
      fe.sync(),
    );
    expect(show).toContain('D:ext-test');
    await same(fe.parse('s3', 'RESET application_name'), fe.bind('', 's3'), fe.execute(''), fe.sync());
    // Named statements stay usable, and their names are taken.
    await same(fe.bind('', 's2'), fe.execute(''), fe.sync());
    await same(fe.parse('s2', 'SELECT 1'), fe.sync());
    await same(fe.close('S', 's1'), fe.close('S', 's2'), fe.close('S', 's3'), fe.sync());
  });

  it('matches row limits, binary result formats, parameter counts and types', async () => {
    await same(
      fe.parse('', 'SHOW DateStyle'),
      fe.bind('', ''),
      fe.execute('', 1),
      fe.execute('', 1),
      fe.sync(),
    );
    await same(
      fe.parse('', 'SHOW TimeZone'),
      bindWithFormats('', '', [], [1]),
      fe.describe('P', ''),
      fe.execute(''),
      fe.sync(),
    );
    await same(fe.parse('', 'SHOW TimeZone'), fe.bind('', '', ['x']), fe.execute(''), fe.sync());
    await same(
      fe.parse('', "SET TimeZone = 'UTC'", [25]),
      fe.describe('S', ''),
      fe.bind('', '', ['x']),
      fe.execute(''),
      fe.sync(),
    );
    await same(fe.parse('', "SET TimeZone = 'UTC'", [0]), fe.sync());
    // A parameter is not a value SET accepts: PostgreSQL's syntax error.
    await same(fe.parse('', 'SET application_name = $1'), fe.bind('', '', ['x']), fe.execute(''), fe.sync());
  });

  it('validates at Execute, with the upstream judging names it knows', async () => {
    await same(fe.parse('bad', "SET TimeZone = 'Nowhere/Special'"), fe.sync());
    await same(fe.bind('', 'bad'), fe.execute(''), fe.sync());
    await same(fe.close('S', 'bad'), fe.sync());
    await showTz();
  });

  it('rolls a SET back with its failed pipeline, and skips what follows an error', async () => {
    await same(...pbe("SET TimeZone = 'Europe/Paris'"), ...pbe('SELECT 1/0'), fe.sync());
    await showTz();
    await same(
      ...pbe('SELECT 1/0'),
      ...pbe("SET TimeZone = 'Asia/Tokyo'"),
      ...pbe('SHOW TimeZone'),
      fe.sync(),
    );
    await showTz();
    // Without an error the SET holds, announced once before ReadyForQuery.
    const ok = await same(...pbe("SET TimeZone = 'Europe/Paris'"), ...pbe('SHOW TimeZone'), fe.sync());
    expect(ok).toContain('S:TimeZone=Europe/Paris');
    await same(...pbe("SET TimeZone = 'UTC'"), fe.sync());
  });

  it('keeps SET LOCAL to its transaction and warns outside one', async () => {
    await same(...pbe("SET LOCAL TimeZone = 'Europe/Paris'"), ...pbe('SHOW TimeZone'), fe.sync());
    await showTz();
    await same(...pbe('BEGIN'), ...pbe("SET LOCAL TimeZone = 'Asia/Tokyo'"), fe.sync());
    await same(...pbe('SHOW TimeZone'), fe.sync());
    await same(...pbe('COMMIT'), ...pbe('SHOW TimeZone'), fe.sync());
    await same(...pbe('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE'), fe.sync());
  });

  it('restores values at ROLLBACK and ROLLBACK TO SAVEPOINT, keeps them at RELEASE and COMMIT', async () => {
    await same(...pbe('BEGIN'), ...pbe("SET TimeZone = 'Asia/Tokyo'"), ...pbe('SAVEPOINT a'), fe.sync());
    await same(
      ...pbe("SET TimeZone = 'Europe/Paris'"),
      ...pbe('SAVEPOINT b'),
      ...pbe("SET LOCAL TimeZone = 'America/Lima'"),
      fe.sync(),
    );
    await same(...pbe('ROLLBACK TO SAVEPOINT b'), ...pbe('SHOW TimeZone'), fe.sync());
    await same(...pbe('ROLLBACK TO a'), ...pbe('SHOW TimeZone'), ...pbe('RELEASE a'), fe.sync());
    await same(...pbe('COMMIT'), fe.sync());
    await showTz();
    await same(...pbe('BEGIN'), ...pbe("SET TimeZone = 'Europe/Paris'"), ...pbe('ROLLBACK'), fe.sync());
    await showTz();
    // A failed block: SET is refused (25P02) until ROLLBACK, then everything is as before.
    await same(fe.query("BEGIN; SET TimeZone = 'Europe/Paris'; SELECT 1/0"));
    await same(...pbe('SHOW TimeZone'), fe.sync());
    await same(...pbe("SET TimeZone = 'Asia/Tokyo'"), fe.sync());
    await same(...pbe('COMMIT'), fe.sync());
    await showTz();
  });

  it('answers the simple protocol alike (implicit transaction of a multi-statement string)', async () => {
    await same(fe.query("SET TimeZone = 'Europe/Paris'; SELECT 1/0"));
    await showTz();
    await same(fe.query("SET TimeZone = 'Europe/Paris'; BEGIN; ROLLBACK; SHOW TimeZone"));
    await same(
      fe.query(
        "BEGIN; SET TimeZone = 'Asia/Tokyo'; SAVEPOINT a; SET TimeZone = 'Europe/Paris'; ROLLBACK TO a; SHOW TimeZone",
      ),
    );
    await same(fe.query('COMMIT'));
    await same(fe.query("SET LOCAL TimeZone = 'Europe/Paris'"));
    await same(fe.query("SET TimeZone = 'UTC'"));
  });
});

describe('SET / SHOW in the extended protocol, where the proxy differs by design', () => {
  it('refuses parameters outside the allowlist with 42501, and the session carries on', async () => {
    expect(await proxied.run(...pbe('SHOW work_mem'), fe.sync())).toEqual([
      'E:ERROR:42501:permission denied to examine "work_mem"',
      'Z:I',
    ]);
    expect(await proxied.run(fe.parse('', 'SET work_mem = 1'), fe.sync())).toEqual([
      'E:ERROR:42501:permission denied to set parameter "work_mem"',
      'Z:I',
    ]);
    expect(await proxied.run(fe.parse('', 'SET ROLE postgres'), fe.sync())).toEqual([
      'E:ERROR:25006:cannot execute SET ROLE in a read-only transaction',
      'Z:I',
    ]);
    // Inside a block the refusal fails the transaction, as an upstream error would.
    expect(await proxied.run(...pbe('BEGIN'), ...pbe('SET work_mem = 1'), fe.sync())).toEqual([
      '1',
      '2',
      'C:BEGIN',
      'E:ERROR:42501:permission denied to set parameter "work_mem"',
      'Z:E',
    ]);
    expect(await proxied.run(...pbe('ROLLBACK'), ...pbe('SELECT 1 AS one'), fe.sync())).toEqual([
      '1',
      '2',
      'C:ROLLBACK',
      '1',
      '2',
      'D:1',
      'C:SELECT 1',
      'Z:I',
    ]);
  });

  it('answers SHOW ALL with three text columns of allowlisted parameters, in row-limited chunks', async () => {
    const frames = await proxied.run(
      fe.parse('', 'SHOW ALL'),
      fe.describe('S', ''),
      fe.bind('', ''),
      fe.execute('', 10),
      fe.execute('', 0),
      fe.sync(),
    );
    expect(frames.slice(0, 4)).toEqual(['1', 't:', 'T:name/25/0,setting/25/0,description/25/0', '2']);
    const rows = frames.filter((f) => f.startsWith('D:'));
    expect(rows.length).toBe(27);
    expect(frames.indexOf('s')).toBe(14);
    expect(frames.slice(-2)).toEqual(['C:SHOW', 'Z:I']);
    expect(rows.some((r) => r.startsWith('D:work_mem|'))).toBe(false);
  });
});
