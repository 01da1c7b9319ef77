import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import type { SessionPolicySet } from '../../src/policy/session.js';
import type { DataSourceConnection } from '../../src/store/repos/datasources.js';
import type { Notice } from '../../src/wire/backend.js';
import type { SessionAccess } from '../../src/wire/session-access.js';
import { ACCESS_REVOKED, type RefreshableSession, SessionRegistry } from '../../src/wire/session-registry.js';

const logger = createLogger('silent');

function policy(fingerprint: string): SessionPolicySet {
  return {
    fingerprint,
    user: { id: 'u', username: 'u' },
    dataSource: { id: 'd', name: 'd', accessMode: 'open' },
    tables: [],
    policiesApplied: [],
  };
}
const dataSource = { id: 'd', name: 'd' } as DataSourceConnection;

class FakeSession implements RefreshableSession {
  fingerprint = 'v0';
  ended: Notice | undefined;
  constructor(
    readonly userId: string,
    readonly dataSourceId = 'd',
  ) {}
  applyPolicy(p: SessionPolicySet): void {
    this.fingerprint = p.fingerprint;
  }
  end(notice: Notice): void {
    this.ended ??= notice;
  }
}

/** A loader whose answers the test sets, counting calls per user. */
function loader() {
  const answers = new Map<string, SessionAccess | Error>();
  const calls = new Map<string, number>();
  let version = 0;
  const load = async (userId: string): Promise<SessionAccess> => {
    calls.set(userId, (calls.get(userId) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 1));
    const a = answers.get(userId);
    if (a instanceof Error) throw a;
    return a ?? { granted: true, dataSource, policy: policy(`v${version}`) };
  };
  return { load, answers, calls, bump: () => version++ };
}

describe('SessionRegistry', () => {
  it('does nothing before a change: no load on the statement path', async () => {
    const l = loader();
    const reg = new SessionRegistry(l.load, logger);
    const s = new FakeSession('alice');
    reg.add(s);
    expect(reg.stale(s)).toBe(false);
    expect(await reg.current(s)).toBe(true);
    expect(l.calls.size).toBe(0);
    expect(s.fingerprint).toBe('v0');
    // A change makes it stale (the statement path then awaits current()); refreshed, it is not.
    reg.changed(false);
    expect(reg.stale(s)).toBe(true);
    expect(await reg.current(s)).toBe(true);
    expect(reg.stale(s)).toBe(false);
    expect(reg.stale(new FakeSession('bob'))).toBe(false);
  });

  it('re-resolves once per user and data source after a change, before the next statement', async () => {
    const l = loader();
    const reg = new SessionRegistry(l.load, logger);
    const a1 = new FakeSession('alice');
    const a2 = new FakeSession('alice');
    const b = new FakeSession('bob');
    for (const s of [a1, a2, b]) reg.add(s);
    l.bump();
    reg.changed(false);
    expect(a1.fingerprint).toBe('v0'); // lazy: nothing happens until a statement
    await Promise.all([reg.current(a1), reg.current(a2), reg.current(b)]);
    expect([a1.fingerprint, a2.fingerprint, b.fingerprint]).toEqual(['v1', 'v1', 'v1']);
    expect(l.calls.get('alice')).toBe(1);
    expect(l.calls.get('bob')).toBe(1);
    // Up to date now: no further loads.
    await reg.current(a1);
    expect(l.calls.get('alice')).toBe(1);
  });

  it('a change during a load is not lost: the next statement loads again', async () => {
    const l = loader();
    const reg = new SessionRegistry(l.load, logger);
    const s = new FakeSession('alice');
    reg.add(s);
    l.bump();
    reg.changed(false);
    const first = reg.current(s);
    l.bump();
    reg.changed(false);
    await first;
    expect(s.fingerprint).toBe('v2');
    await reg.current(s);
    expect(s.fingerprint).toBe('v2');
    expect(l.calls.get('alice')).toBe(2);
  });

  it('an access change sweeps every session at once and ends the revoked ones', async () => {
    const l = loader();
    const reg = new SessionRegistry(l.load, logger);
    const alice = new FakeSession('alice');
    const bob = new FakeSession('bob');
    reg.add(alice);
    reg.add(bob);
    l.answers.set('alice', { granted: false, reason: 'user inactive' });
    reg.changed(true);
    await reg.settled();
    expect(alice.ended).toEqual(ACCESS_REVOKED);
    expect(bob.ended).toBeUndefined();
    expect(reg.size).toBe(1);
    expect(await reg.current(alice)).toBe(true); // unregistered: the session is gone anyway
  });

  it('fails closed: a store error ends the session instead of keeping old policies', async () => {
    const l = loader();
    const reg = new SessionRegistry(l.load, logger);
    const s = new FakeSession('alice');
    reg.add(s);
    l.answers.set('alice', new Error('store down'));
    reg.changed(false);
    expect(await reg.current(s)).toBe(false);
    expect(s.ended?.code).toBe('58000');
    expect(s.fingerprint).toBe('v0');
  });

  it('statement-path refresh also ends a revoked session', async () => {
    const l = loader();
    const reg = new SessionRegistry(l.load, logger);
    const s = new FakeSession('alice');
    reg.add(s);
    l.answers.set('alice', { granted: false, reason: 'not granted' });
    reg.changed(false);
    expect(await reg.current(s)).toBe(false);
    expect(s.ended).toEqual(ACCESS_REVOKED);
  });
});
