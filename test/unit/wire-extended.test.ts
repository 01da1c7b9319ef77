/**
 * ExtendedSession and ExtendedPipeline without sockets: what goes upstream
 * for each client message, re-preparation when the session's policy set
 * changes between Parse and Bind/Execute, and the "poison" refusal that keeps
 * the upstream and the client in step.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionPolicySet } from '../../src/policy/session.js';
import { defaultSettings, SessionSettings } from '../../src/sql/settings.js';
import * as be from '../../src/wire/backend.js';
import { BufferReader, Writer } from '../../src/wire/buffer.js';
import { ExtendedSession } from '../../src/wire/extended.js';
import { ExtendedPipeline, POISON_STATEMENT } from '../../src/wire/extended-upstream.js';
import type { Frame } from '../../src/wire/frames.js';
import * as fe from '../../src/wire/frontend.js';
import { filter, loadParser, policySet, table } from '../support/policy-fixtures.js';

beforeAll(loadParser);

const frame = (raw: Buffer): Frame => ({
  type: String.fromCharCode(raw[0]!),
  code: 0,
  body: raw.subarray(5),
  raw,
});

const ordersFor = (org: string): SessionPolicySet =>
  policySet([
    table(
      'public',
      'orders',
      [
        ['id', 'int4'],
        ['org', 'text'],
      ],
      [filter(`org = '${org}'`)],
    ),
  ]);

function setup(policy: SessionPolicySet = ordersFor('acme')) {
  const up: Buffer[] = [];
  const client: Buffer[] = [];
  const auth = {
    userId: 'u-1',
    username: 'alice',
    dataSource: { id: 'd-1', name: 'ds' } as never,
    policy,
  };
  const state = { status: 'I' as be.TransactionStatus, settings: new SessionSettings(defaultSettings()) };
  const pipeline = new ExtendedPipeline({
    writeUpstream: (b) => void up.push(b),
    sendClient: (b) => void client.push(b),
    onReady: (s) => session.ready(s),
  });
  const session = new ExtendedSession(auth, state, pipeline);
  const send = (raw: Buffer) => session.message(frame(raw));
  /** The upstream answers (complete frames). */
  const answer = (...raws: Buffer[]) => raws.forEach((r) => pipeline.handle(frame(r)));
  return { up, client, auth, state, send, answer, pipeline };
}

const upTypes = (up: Buffer[]) => up.map((b) => String.fromCharCode(b[0]!)).join('');
const parsedText = (b: Buffer) => fe.parseParse(b.subarray(5)).text;
const done = (code: string) => new Writer().message(code);
const upstreamError = (code: string) =>
  be.errorResponse({ severity: 'ERROR', code, message: 'upstream said' });

describe('ExtendedSession', () => {
  it('forwards the rewritten text at Parse and the client bytes for the rest', async () => {
    const s = setup();
    const bind = fe.bind('', 'q', ['5']);
    expect(await s.send(fe.parse('q', 'SELECT id FROM orders WHERE id = $1', [23]))).toBe(true);
    expect(await s.send(bind)).toBe(true);
    expect(await s.send(fe.execute('', 0))).toBe(true);
    expect(await s.send(fe.sync())).toBe(true);
    expect(upTypes(s.up)).toBe('PBES');
    const parse = fe.parseParse(s.up[0]!.subarray(5));
    expect(parse).toMatchObject({ name: 'q', paramTypes: [23] });
    expect(parse.text).toContain("org = 'acme'");
    expect(parse.text).toContain('$1');
    expect(s.up[1]).toEqual(bind); // parameters untouched
  });

  it('re-prepares a named statement when the policy set changed before Bind', async () => {
    const s = setup();
    await s.send(fe.parse('q', 'SELECT id FROM orders WHERE id = $1'));
    s.auth.policy = ordersFor('globex');
    expect(await s.send(fe.bind('', 'q', ['5']))).toBe(true);
    expect(upTypes(s.up)).toBe('PCPB');
    expect(fe.parseTarget(s.up[1]!.subarray(5))).toEqual({ kind: 'S', name: 'q' });
    expect(parsedText(s.up[2]!)).toContain("org = 'globex'");
    // The hidden CloseComplete / ParseComplete of the re-prepare never reach the client.
    s.answer(done('1'), done('3'), done('1'), done('2'));
    expect(s.client.map((b) => String.fromCharCode(b[0]!)).join('')).toBe('12');
  });

  it('fails cleanly when the new policies refuse the statement, never running the old rewrite', async () => {
    const s = setup();
    await s.send(fe.parse('q', 'SELECT id FROM orders'));
    s.answer(done('1'));
    // The new set hides `orders` altogether.
    s.auth.policy = policySet([table('public', 'customers', [['id', 'int4']])]);
    expect(await s.send(fe.bind('', 'q'))).toBe(false);
    expect(upTypes(s.up)).toBe('PCB');
    expect(fe.parseBindNames(s.up[2]!.subarray(5)).statement).toBe(POISON_STATEMENT);
    await s.send(fe.sync());
    s.client.length = 0;
    // Upstream: CloseComplete (hidden), its error for the poison (replaced), ReadyForQuery.
    s.answer(done('3'), upstreamError('26000'), new Writer().byte(0x49).message('Z'));
    expect(s.client).toHaveLength(2);
    const fields = new BufferReader(s.client[0]!.subarray(5));
    const error = new Map<string, string>();
    for (let c = fields.byte(); c !== 0; c = fields.byte())
      error.set(String.fromCharCode(c), fields.cstring());
    expect(error.get('C')).toBe('42P01');
    expect(String.fromCharCode(s.client[1]![0]!)).toBe('Z');
    expect(s.pipeline.active).toBe(false);
  });

  it('refuses to execute a portal bound under other policies', async () => {
    const s = setup();
    await s.send(fe.parse('', 'SELECT id FROM orders'));
    await s.send(fe.bind('p', ''));
    s.auth.policy = ordersFor('globex');
    expect(await s.send(fe.execute('p', 10))).toBe(false);
    expect(upTypes(s.up)).toBe('PBB');
    expect(fe.parseBindNames(s.up[2]!.subarray(5)).statement).toBe(POISON_STATEMENT);
  });

  it('refuses multiple statements and the reserved statement name', async () => {
    const s = setup();
    expect(await s.send(fe.parse('', 'SELECT 1; SELECT 2'))).toBe(false);
    expect(await s.send(fe.parse(POISON_STATEMENT, 'SELECT 1'))).toBe(false);
    // The unnamed refusal also drops the unnamed statement upstream, as PostgreSQL's Parse does.
    expect(upTypes(s.up)).toBe('CBB');
  });
});

describe('ExtendedPipeline', () => {
  it('drops the answers upstream skips after an error, and sends nothing more until Sync', async () => {
    const s = setup();
    await s.send(fe.parse('', 'SELECT 1'));
    await s.send(fe.bind('', ''));
    s.answer(upstreamError('42804'));
    expect(s.pipeline.active).toBe(false);
    await s.send(fe.execute(''));
    expect(upTypes(s.up)).toBe('PB'); // the Execute was not sent: upstream would skip it
    expect(await s.pipeline.settle()).toBe(false);
    await s.send(fe.sync());
    s.answer(new Writer().byte(0x49).message('Z'));
    expect(await s.pipeline.settle()).toBe(true);
    expect(s.client.map((b) => String.fromCharCode(b[0]!)).join('')).toBe('EZ');
  });
});
