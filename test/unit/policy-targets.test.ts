import { describe, expect, it } from 'vitest';
import {
  matchesPattern,
  targetMatches,
  validateTargets,
  type TargetEntry,
} from '../../src/policy/targets.js';

describe('matchesPattern', () => {
  it.each([
    ['*', 'anything', true],
    ['*', '', true],
    ['orders', 'orders', true],
    ['orders', 'Orders', false],
    ['orders', 'orders_2024', false],
    ['order*', 'orders', true],
    ['order*', 'order', true],
    ['order*', 'xorders', false],
    ['*_log', 'audit_log', true],
    ['*_log', 'audit_logs', false],
    ['*_LOG', 'audit_log', false],
    // Trailing-* rule wins: "*ab*" means "starts with *ab".
    ['*ab*', 'xaby', false],
    ['*ab*', '*abc', true],
    ['**', '*x', true],
    ['**', 'x', false],
    // No inner wildcards and no `?`.
    ['a*c', 'abc', false],
    ['a*c', 'a*c', true],
    ['a?c', 'abc', false],
  ])('%j vs %j → %s', (pattern, value, expected) => {
    expect(matchesPattern(pattern, value)).toBe(expected);
  });
});

describe('targetMatches', () => {
  const targets: TargetEntry[] = [
    { schemas: ['public'], tables: ['customers'], columns: ['ssn', 'credit_*'] },
    { schemas: ['sales*'], tables: ['*_items'], columns: ['*'] },
  ];

  it('ORs entries and needs both schema and table to match', () => {
    expect(targetMatches(targets, 'public', 'customers')).toBe(true);
    expect(targetMatches(targets, 'sales_eu', 'order_items')).toBe(true);
    expect(targetMatches(targets, 'public', 'order_items')).toBe(false);
    expect(targetMatches(targets, 'sales', 'customers')).toBe(false);
  });

  it('checks column patterns when a column is given', () => {
    expect(targetMatches(targets, 'public', 'customers', 'ssn')).toBe(true);
    expect(targetMatches(targets, 'public', 'customers', 'credit_card')).toBe(true);
    expect(targetMatches(targets, 'public', 'customers', 'email')).toBe(false);
    expect(targetMatches(targets, 'sales', 'line_items', 'anything')).toBe(true);
  });

  it('treats an entry without columns as not constraining columns', () => {
    expect(targetMatches([{ schemas: ['*'], tables: ['orders'] }], 'public', 'orders', 'org')).toBe(true);
  });

  it('matches nothing for an empty target list', () => {
    expect(targetMatches([], 'public', 'orders')).toBe(false);
  });
});

describe('validateTargets', () => {
  const issues = (...args: Parameters<typeof validateTargets>) => {
    const result = validateTargets(...args);
    return result.ok ? [] : result.issues;
  };

  it('normalizes valid entries, dropping unknown keys in API mode', () => {
    expect(
      validateTargets('row_filter', [{ schemas: ['public'], tables: ['t'], columns: null, note: 1 }]),
    ).toEqual({
      ok: true,
      targets: [{ schemas: ['public'], tables: ['t'] }],
    });
    expect(validateTargets('column_deny', [{ schemas: ['*'], tables: ['*'], columns: ['c'] }])).toEqual({
      ok: true,
      targets: [{ schemas: ['*'], tables: ['*'], columns: ['c'] }],
    });
  });

  it('rejects missing or empty targets with the API messages', () => {
    expect(issues('row_filter', [])).toEqual([{ path: 'targets', message: "'targets' must not be empty" }]);
    expect(issues('row_filter', undefined)).toEqual([
      { path: 'targets', message: "'targets' must not be empty" },
    ]);
    expect(issues('row_filter', 'x')).toEqual([{ path: 'targets', message: "'targets' must be an array" }]);
  });

  it('requires non-empty schemas and tables', () => {
    expect(issues('table_deny', [{ schemas: [], tables: ['t'] }, { schemas: ['s'] }])).toEqual([
      { path: 'targets[0].schemas', message: "targets[0]: 'schemas' must not be empty" },
      { path: 'targets[1].tables', message: "targets[1]: 'tables' must not be empty" },
    ]);
  });

  it('requires columns for column types and forbids them for the others', () => {
    for (const type of ['column_mask', 'column_allow', 'column_deny'] as const) {
      expect(issues(type, [{ schemas: ['s'], tables: ['t'] }])).toEqual([
        { path: 'targets[0].columns', message: `targets[0]: '${type}' requires non-empty 'columns'` },
      ]);
      expect(issues(type, [{ schemas: ['s'], tables: ['t'], columns: [] }])).toEqual([
        { path: 'targets[0].columns', message: `targets[0]: '${type}' requires non-empty 'columns'` },
      ]);
    }
    for (const type of ['row_filter', 'table_deny'] as const) {
      expect(issues(type, [{ schemas: ['s'], tables: ['t'], columns: [] }])).toEqual([
        { path: 'targets[0].columns', message: `targets[0]: '${type}' must not have 'columns'` },
      ]);
    }
  });

  it('rejects non-string patterns and non-object entries', () => {
    expect(issues('row_filter', [{ schemas: ['s', 3], tables: 't' }, 'x'])).toEqual([
      { path: 'targets[0].schemas', message: "targets[0]: 'schemas' must be an array of strings" },
      { path: 'targets[0].tables', message: "targets[0]: 'tables' must be an array of strings" },
      { path: 'targets[1]', message: "targets[1]: entry must be an object with 'schemas' and 'tables'" },
    ]);
  });

  it('in strict mode rejects unknown keys and empty patterns', () => {
    expect(
      issues('column_mask', [{ schemas: [''], tables: ['t'], columns: ['c'], colums: ['x'] }], {
        strict: true,
      }),
    ).toEqual([
      { path: 'targets[0].colums', message: "targets[0]: unknown key 'colums'" },
      { path: 'targets[0].schemas[0]', message: "targets[0]: 'schemas' patterns must not be empty" },
    ]);
  });
});
