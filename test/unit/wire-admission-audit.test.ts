/**
 * Pure parts of connection admission: the refusal-audit rate limit
 * (admission-audit-limit.ts) under fake timers, name clipping as PostgreSQL
 * truncates startup names, and the PasswordMessage parser.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { clipName } from '../../src/wire/admission-audit.js';
import { RefusalAuditLimiter, type SuppressedRefusals } from '../../src/wire/admission-audit-limit.js';
import { parsePasswordMessage } from '../../src/wire/password-cleartext.js';

describe('refusal audit rate limit', () => {
  let summaries: SuppressedRefusals[];
  const limiter = (options: ConstructorParameters<typeof RefusalAuditLimiter>[1] = {}) =>
    new RefusalAuditLimiter((s) => summaries.push(s), {
      perAddress: 3,
      total: 5,
      windowMs: 60_000,
      ...options,
    });

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2025-01-01T00:00:00Z'));
    summaries = [];
  });
  afterEach(() => vi.useRealTimers());

  it('records at most perAddress per address and total in all per window', () => {
    const l = limiter();
    const a = Array.from({ length: 5 }, () => l.admit('198.51.100.1'));
    expect(a).toEqual([true, true, true, false, false]);
    expect([l.admit('198.51.100.2'), l.admit('198.51.100.3'), l.admit('198.51.100.4')]).toEqual([
      true,
      true,
      false, // 5 recorded in all: the total budget is spent
    ]);
    expect(summaries).toEqual([]);
  });

  it('reports the suppressed ones once, by timer at the end of the window, naming the top address', () => {
    const l = limiter();
    for (let i = 0; i < 7; i++) l.admit('198.51.100.1');
    l.admit('2001:db8:1:2::5');
    vi.advanceTimersByTime(59_999);
    expect(summaries).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({
      count: 4,
      topAddress: '198.51.100.1',
      topCount: 4,
      from: Date.parse('2025-01-01T00:00:00Z'),
      to: Date.parse('2025-01-01T00:01:00Z'),
    });
    // A new window: the budget is back, and nothing more is reported for a quiet one.
    expect(l.admit('198.51.100.1')).toBe(true);
    vi.advanceTimersByTime(120_000);
    expect(summaries).toHaveLength(1);
  });

  it('rolls the window on the next refusal too, and flush() reports at once', () => {
    const l = limiter({ perAddress: 1 });
    l.admit('203.0.113.1');
    l.admit('203.0.113.1');
    vi.setSystemTime(Date.now() + 61_000); // the timer has not run yet
    expect(l.admit('203.0.113.1')).toBe(true);
    expect(summaries.map((s) => s.count)).toEqual([1]);
    l.admit('203.0.113.1');
    l.flush();
    expect(summaries.map((s) => s.count)).toEqual([1, 1]);
    l.flush();
    expect(summaries).toHaveLength(2);
  });

  it('tracks a bounded number of addresses; the rest count as suppressed', () => {
    const l = limiter({ maxTrackedAddresses: 2, total: 100 });
    expect(['10.9.0.1', '10.9.0.2', '10.9.0.3'].map((a) => l.admit(a))).toEqual([true, true, false]);
    l.flush();
    expect(summaries[0]).toMatchObject({ count: 1, topAddress: '', topCount: 0 });
  });

  it('survives a throwing summary sink and validates its options', () => {
    const l = new RefusalAuditLimiter(
      () => {
        throw new Error('sink down');
      },
      { perAddress: 1 },
    );
    l.admit('10.0.0.1');
    l.admit('10.0.0.1');
    expect(() => l.flush()).not.toThrow();
    expect(l.admit('10.0.0.1')).toBe(true);
    expect(() => new RefusalAuditLimiter(() => undefined, { total: 0 })).toThrow(RangeError);
  });
});

describe('clipName', () => {
  it('cuts to 63 bytes on a character boundary', () => {
    expect(clipName('a'.repeat(63))).toBe('a'.repeat(63));
    expect(clipName('a'.repeat(64))).toBe('a'.repeat(63));
    // 62 ASCII bytes + a 2-byte character would end at byte 64: the character goes whole.
    expect(clipName(`${'a'.repeat(62)}é`)).toBe('a'.repeat(62));
    expect(clipName(`${'a'.repeat(61)}é`)).toBe(`${'a'.repeat(61)}é`);
    expect(Buffer.byteLength(clipName('€'.repeat(40)))).toBe(63);
    expect(clipName('')).toBe('');
  });
});

describe('PasswordMessage', () => {
  const body = (s: string) => Buffer.from(s, 'utf8');

  it('takes one NUL-terminated string', () => {
    expect(parsePasswordMessage(body('sécret\0'))).toEqual({ password: 'sécret' });
  });

  it('refuses what PostgreSQL refuses, with its codes', () => {
    const refusal = (b: Buffer) => {
      const r = parsePasswordMessage(b);
      return 'refusal' in r ? [r.refusal.code, r.refusal.message] : r;
    };
    expect(refusal(body('x'))).toEqual(['08P01', 'invalid password packet size']);
    expect(refusal(body('x\0y\0'))).toEqual(['08P01', 'invalid password packet size']);
    expect(refusal(body('x\0y'))).toEqual(['08P01', 'invalid password packet size']);
    expect(refusal(Buffer.alloc(0))).toEqual(['08P01', 'invalid password packet size']);
    expect(refusal(body('\0'))).toEqual(['28P01', 'empty password returned by client']);
    expect(refusal(Buffer.alloc(65_536, 0x61))).toEqual(['08P01', 'invalid message length']);
    const longest = Buffer.alloc(65_535, 0x61);
    longest[65_534] = 0;
    expect(parsePasswordMessage(longest)).toEqual({ password: 'a'.repeat(65_534) });
  });
});
