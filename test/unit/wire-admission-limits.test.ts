/**
 * ConnectionLimits' start-up cap and total slots (limits.ts): the default cap
 * formula, the hard cap, the per-address share once the table is half full,
 * authenticated connections leaving the start-up count, and slots taken at
 * the startup packet rather than at accept.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionLimits, defaultMaxStarting } from '../../src/wire/limits.js';

const from = (remoteAddress: string) => ({ remoteAddress });

describe('start-up cap', () => {
  it('defaults to max(2 × max, max + 100), and 10 000 when unlimited', () => {
    expect(defaultMaxStarting(1)).toBe(101);
    expect(defaultMaxStarting(100)).toBe(200);
    expect(defaultMaxStarting(200)).toBe(400);
    expect(defaultMaxStarting(0)).toBe(10_000);
    const limits = new ConnectionLimits({ maxConnections: 1, maxConnectionsPerUser: 0 });
    const opened = Array.from({ length: 150 }, (_, i) => limits.open(from(`10.0.${i}.1`)));
    expect(opened.filter(Boolean)).toHaveLength(101);
    expect(limits.refusedAtStartup).toBe(49);
  });

  it('refuses past the hard cap and admits again once a socket leaves', () => {
    const limits = new ConnectionLimits({ maxConnections: 0, maxConnectionsPerUser: 0, maxStarting: 4 });
    const conns = [1, 2, 3, 4].map((i) => from(`10.0.0.${i}`));
    for (const c of conns) expect(limits.open(c)).toBe(true);
    const late = from('10.0.0.9');
    expect(limits.open(late)).toBe(false);
    expect(limits.connections).toBe(4); // a refused socket is not counted
    limits.release(conns[0]!);
    expect(limits.open(late)).toBe(true);
    expect(limits.startingUp).toBe(4);
  });

  it('holds an address to its share only once the table is half full', () => {
    const limits = new ConnectionLimits({
      maxConnections: 0,
      maxConnectionsPerUser: 0,
      maxStarting: 10,
      maxStartingPerAddress: 2,
    });
    // One address alone: admitted up to half the table (5), not beyond.
    const flood = Array.from({ length: 8 }, () => limits.open(from('192.0.2.1')));
    expect(flood.filter(Boolean)).toHaveLength(5);
    // Others still get their 2 each while the table is crowded, until the cap.
    expect([1, 2, 3].map(() => limits.open(from('192.0.2.2')))).toEqual([true, true, false]);
    expect([1, 2, 3].map(() => limits.open(from('192.0.2.3')))).toEqual([true, true, false]);
    expect(limits.open(from('192.0.2.4'))).toBe(true);
    expect(limits.open(from('192.0.2.5'))).toBe(false); // 10 in start-up: the hard cap
  });

  it('counts IPv6 addresses per /64 and IPv4-mapped ones as IPv4', () => {
    const limits = new ConnectionLimits({
      maxConnections: 0,
      maxConnectionsPerUser: 0,
      maxStarting: 4,
      maxStartingPerAddress: 1,
    });
    expect(limits.open(from('2001:db8::1'))).toBe(true);
    expect(limits.open(from('2001:db8::2'))).toBe(true);
    expect(limits.open(from('2001:db8::3'))).toBe(false); // same /64, table half full
    expect(limits.open(from('::ffff:192.0.2.1'))).toBe(true);
    expect(limits.open(from('192.0.2.1'))).toBe(false);
  });

  it('an authenticated connection leaves the start-up count but stays live', () => {
    const limits = new ConnectionLimits({ maxConnections: 0, maxConnectionsPerUser: 0, maxStarting: 2 });
    const [a, b, c] = [from('10.1.0.1'), from('10.1.0.2'), from('10.1.0.3')];
    expect(limits.open(a) && limits.open(b)).toBe(true);
    expect(limits.open(c)).toBe(false);
    limits.authenticated(a);
    limits.authenticated(a); // idempotent
    expect(limits.startingUp).toBe(1);
    expect(limits.connections).toBe(2);
    expect(limits.open(c)).toBe(true);
    limits.release(a);
    limits.release(b);
    limits.release(c);
    limits.release(c);
    expect(limits.startingUp).toBe(0);
    expect(limits.connections).toBe(0);
  });

  it('rejects a cap that is not a positive integer', () => {
    expect(
      () => new ConnectionLimits({ maxConnections: 0, maxConnectionsPerUser: 0, maxStarting: 0 }),
    ).toThrow(RangeError);
    expect(
      () => new ConnectionLimits({ maxConnections: 0, maxConnectionsPerUser: 0, maxStartingPerAddress: 1.5 }),
    ).toThrow(/maxStartingPerAddress/);
  });
});

describe('total slots', () => {
  it('are taken at the startup packet, not at accept, and freed on release', () => {
    const limits = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerUser: 0 });
    const idle = Array.from({ length: 5 }, (_, i) => from(`10.2.0.${i}`));
    for (const c of idle) expect(limits.open(c)).toBe(true); // sockets that send nothing take no slot
    const [a, b, c] = [from('10.3.0.1'), from('10.3.0.2'), from('10.3.0.3')];
    for (const x of [a, b, c]) limits.open(x);
    expect(limits.admitted(a)).toBeUndefined();
    expect(limits.admitted(a)).toBeUndefined(); // idempotent
    expect(limits.admitted(b)).toBeUndefined();
    expect(limits.admitted(c)).toEqual({
      severity: 'FATAL',
      code: '53300',
      message: 'sorry, too many clients already',
    });
    limits.release(a);
    expect(limits.admitted(c)).toBeUndefined();
  });
});
