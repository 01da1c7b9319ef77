import { describe, expect, it } from 'vitest';
import { dateToTimestamp, formatTimestamp, nowTimestamp, toApiTimestamp } from '../../src/store/time.js';

describe('store timestamps', () => {
  it('are fixed-width UTC with microseconds, and strictly increasing', () => {
    const a = nowTimestamp();
    const b = nowTimestamp();
    expect(a).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$/);
    expect(b > a).toBe(true);
    expect(formatTimestamp(1_767_225_600_000_001)).toBe('2026-01-01T00:00:00.000001');
    expect(dateToTimestamp(new Date('2026-04-26T10:20:30.123Z'))).toBe('2026-04-26T10:20:30.123000');
  });

  it('serialise for the API without a zone, in the shortest exact width', () => {
    expect(toApiTimestamp('2026-04-26T10:20:30.000000')).toBe('2026-04-26T10:20:30');
    expect(toApiTimestamp('2026-04-26T10:20:30.120000')).toBe('2026-04-26T10:20:30.120');
    expect(toApiTimestamp('2026-04-26T10:20:30.123456')).toBe('2026-04-26T10:20:30.123456');
    expect(toApiTimestamp('2026-04-26T10:20:30.123400')).toBe('2026-04-26T10:20:30.123400');
  });
});
