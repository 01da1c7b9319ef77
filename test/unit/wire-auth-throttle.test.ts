import { describe, expect, it } from 'vitest';
import { addressKey, AuthThrottle } from '../../src/wire/auth-throttle.js';

function clock(start = 1_000_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

const OPTIONS = { maxFailuresPerUser: 3, maxFailuresPerAddress: 5, windowMs: 10_000, lockoutMs: 30_000 };

describe('AuthThrottle', () => {
  it('allows until the per-user limit, then locks the user for lockoutMs', () => {
    const c = clock();
    const t = new AuthThrottle({ ...OPTIONS, now: c.now });
    for (let i = 0; i < 2; i++) {
      expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: true });
      t.recordFailure('alice', `10.0.0.${i + 1}`);
    }
    expect(t.check('alice', '10.0.0.9')).toEqual({ allowed: true });
    t.recordFailure('alice', '10.0.0.3');
    // Locked from any address, other users unaffected.
    expect(t.check('alice', '10.9.9.9')).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(t.check('bob', '10.0.0.1')).toEqual({ allowed: true });
    c.advance(29_000);
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterMs: 1_000 });
    c.advance(1_000);
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: true });
    // The count restarts after a lockout.
    t.recordFailure('alice', '10.0.0.1');
    t.recordFailure('alice', '10.0.0.1');
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: true });
  });

  it('counts failures in a sliding window', () => {
    const c = clock();
    const t = new AuthThrottle({ ...OPTIONS, now: c.now });
    t.recordFailure('alice', 'a');
    c.advance(6_000);
    t.recordFailure('alice', 'b');
    c.advance(5_000); // the first failure left the window
    t.recordFailure('alice', 'c');
    expect(t.check('alice', 'd')).toEqual({ allowed: true });
    c.advance(1_000);
    t.recordFailure('alice', 'e'); // 6 s, 5 s… within 10 s: b, c, e
    expect(t.check('alice', 'd')).toMatchObject({ allowed: false });
  });

  it('locks an address spraying many user names, known or not, alike', () => {
    const c = clock();
    const t = new AuthThrottle({ ...OPTIONS, now: c.now });
    for (let i = 0; i < 5; i++) t.recordFailure(`user${i}`, '192.0.2.7');
    expect(t.check('someone-else', '192.0.2.7')).toEqual({ allowed: false, retryAfterMs: 30_000 });
    expect(t.check('someone-else', '192.0.2.8')).toEqual({ allowed: true });
    // The same address as IPv4-mapped IPv6 is the same key.
    expect(t.check('x', '::ffff:192.0.2.7')).toMatchObject({ allowed: false });
  });

  it('does not let a locked attempt extend the lock, nor concurrent failures while locked', () => {
    const c = clock();
    const t = new AuthThrottle({ ...OPTIONS, now: c.now });
    for (let i = 0; i < 3; i++) t.recordFailure('alice', 'a');
    c.advance(10_000);
    t.recordFailure('alice', 'a'); // an attempt that passed check() before the lock
    expect(t.check('alice', 'z')).toEqual({ allowed: false, retryAfterMs: 20_000 });
  });

  it('a success clears the user count but not the address count', () => {
    const c = clock();
    const t = new AuthThrottle({ ...OPTIONS, now: c.now });
    t.recordFailure('alice', 'a');
    t.recordFailure('alice', 'a');
    t.recordSuccess('alice', 'a');
    t.recordFailure('alice', 'a');
    t.recordFailure('alice', 'a');
    expect(t.check('alice', 'b')).toEqual({ allowed: true }); // 2 since the success
    t.recordFailure('bob', 'a'); // fifth failure from address a
    expect(t.check('carol', 'a')).toMatchObject({ allowed: false });
  });

  it('uses sensible defaults (10 per user, 30 per address, 60 s window, 60 s lock)', () => {
    const c = clock();
    const t = new AuthThrottle({ now: c.now });
    for (let i = 0; i < 9; i++) t.recordFailure('alice', `10.0.0.${i}`);
    expect(t.check('alice', '10.0.1.1')).toEqual({ allowed: true });
    t.recordFailure('alice', '10.0.0.99');
    expect(t.check('alice', '10.0.1.1')).toEqual({ allowed: false, retryAfterMs: 60_000 });
    for (let i = 0; i < 29; i++) t.recordFailure(`u${i}`, '10.1.1.1');
    expect(t.check('v', '10.1.1.1')).toEqual({ allowed: true });
    t.recordFailure('u99', '10.1.1.1');
    expect(t.check('v', '10.1.1.1')).toEqual({ allowed: false, retryAfterMs: 60_000 });
  });

  it('ignores undefined options and rejects invalid ones', () => {
    expect(() => new AuthThrottle({ windowMs: undefined })).not.toThrow();
    expect(() => new AuthThrottle({ windowMs: 0 })).toThrow(RangeError);
    expect(() => new AuthThrottle({ maxFailuresPerUser: 1.5 })).toThrow(RangeError);
    expect(() => new AuthThrottle({ maxTrackedKeys: -1 })).toThrow(RangeError);
  });

  it('bounds memory: evicts the least recently touched keys', () => {
    const c = clock();
    const t = new AuthThrottle({ ...OPTIONS, maxTrackedKeys: 100, now: c.now });
    for (let i = 0; i < 3; i++) t.recordFailure('victim', `198.51.100.${i}`);
    for (let i = 0; i < 1_000; i++) t.recordFailure(`spray${i}`, `203.0.${i >> 8}.${i & 255}`);
    expect(t.trackedKeys.users).toBeLessThanOrEqual(100);
    expect(t.trackedKeys.addresses).toBeLessThanOrEqual(100);
    expect(t.check('spray999', '1.1.1.1')).toEqual({ allowed: true }); // 1 failure only
    // Re-touching an entry keeps it.
    const u = new AuthThrottle({ ...OPTIONS, maxTrackedKeys: 3, now: c.now });
    u.recordFailure('keep', 'a');
    u.recordFailure('x1', 'a');
    u.recordFailure('keep', 'a');
    u.recordFailure('x2', 'a');
    u.recordFailure('x3', 'a'); // evicts x1, not keep
    u.recordFailure('keep', 'b');
    expect(u.check('keep', 'c')).toMatchObject({ allowed: false });
  });

  it('forgets keys whose failures left the window', () => {
    const c = clock();
    const t = new AuthThrottle({ ...OPTIONS, now: c.now });
    t.recordFailure('alice', 'a');
    c.advance(10_001);
    expect(t.check('alice', 'a')).toEqual({ allowed: true });
    expect(t.trackedKeys).toEqual({ users: 0, addresses: 0 });
  });
});

describe('addressKey', () => {
  it('normalises IPv4-mapped IPv6 and groups IPv6 by /64', () => {
    expect(addressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('::FFFF:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:0db8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('/tmp/.s.PGSQL.5434')).toBe('/tmp/.s.PGSQL.5434');
    expect(addressKey(' 10.0.0.1 ')).toBe('10.0.0.1');
  });
});
