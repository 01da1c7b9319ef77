/**
 * sanitize.ts on ErrorResponse fields as PostgreSQL sends them for the
 * rewritten statement (the wordings are copied from real servers), including
 * the ones the integration test cannot provoke on demand: hints and messages
 * naming the internal alias, upstream schema-qualified names, CONTEXT lines
 * quoting function bodies.
 */
import { describe, expect, it } from 'vitest';
import { parseNoticeFields } from '../../src/wire/upstream.js';
import { encodeNotice, mentionsInternal, sanitizeFields } from '../../src/wire/sanitize.js';

const fields = (o: Record<string, string>) => new Map(Object.entries(o));
const base = { S: 'ERROR', V: 'ERROR' };
const clean = (o: Record<string, string>, sql: string) =>
  Object.fromEntries(sanitizeFields(fields({ ...base, ...o }), sql));

describe('sanitizeFields', () => {
  it('drops positions, internal query, object names and source location', () => {
    const out = clean(
      {
        C: '42703',
        M: 'column "ssm" does not exist',
        P: '252',
        p: '12',
        q: 'SELECT _rg_1.ssn FROM public.customers _rg_1',
        s: 'public',
        t: 'customers',
        c: 'ssn',
        d: 'hidden_schema.secret_domain',
        n: 'customers_pkey',
        F: 'parse_relation.c',
        L: '3838',
        R: 'errorMissingColumn',
      },
      'SELECT ssm FROM customers',
    );
    expect(out).toEqual({ ...base, C: '42703', M: 'column "ssm" does not exist' });
  });

  it('strips a hint naming the internal alias (and a hidden column behind it)', () => {
    const out = clean(
      {
        C: '42703',
        M: 'column "ssm" does not exist',
        H: 'Perhaps you meant to reference the column "_rg_1.ssn".',
      },
      'SELECT ssm FROM customers',
    );
    expect(out).toEqual({ ...base, C: '42703', M: 'column "ssm" does not exist' });
  });

  it('keeps a hint naming a column of a relation the user wrote', () => {
    const H = 'Perhaps you meant to reference the column "c.ssn" or the column "o.note".';
    expect(
      clean({ C: '42703', M: 'column c.ssm does not exist', H }, 'SELECT c.ssm FROM customers c, orders o').H,
    ).toBe(H);
  });

  it('replaces a message naming the internal alias with the generic text of its SQLSTATE', () => {
    for (const M of ['column _rg_1.tenant does not exist', 'column "_rg0_2.x" does not exist'])
      expect(clean({ C: '42703', M, D: 'x', W: 'y' }, 'SELECT * FROM t')).toEqual({
        ...base,
        C: '42703',
        M: 'column does not exist',
      });
  });

  it('keeps a _rg_ name the user wrote', () => {
    const sql = 'SELECT _rg_x FROM t';
    expect(mentionsInternal('column "_rg_x" does not exist', sql)).toBe(false);
    expect(clean({ C: '42703', M: 'column "_rg_x" does not exist' }, sql).M).toBe(
      'column "_rg_x" does not exist',
    );
    // With _rg_ in the text the rewriter picks another prefix, which the user did not write.
    expect(mentionsInternal('column _rg0_1.ssn does not exist', sql)).toBe(true);
  });

  it('replaces names the user did not write (upstream schema, other spellings)', () => {
    expect(
      clean({ C: '42P01', M: 'relation "public.customers" does not exist' }, 'SELECT * FROM customers').M,
    ).toBe('relation does not exist');
    expect(clean({ C: '42P01', M: 'relation "customers" does not exist' }, 'SELECT * FROM customers').M).toBe(
      'relation "customers" does not exist',
    );
    expect(clean({ C: '42501', M: 'permission denied for table payroll' }, 'SELECT * FROM orders').M).toBe(
      'permission denied',
    );
    expect(clean({ C: '42703', M: 'column "credit_card" does not exist' }, 'SELECT * FROM customers').M).toBe(
      'column does not exist',
    );
  });

  it('keeps data exceptions with their detail and data context, not a function context', () => {
    const json = {
      C: '22P02',
      M: 'invalid input syntax for type json',
      D: 'Token "note3" is invalid.',
      W: 'JSON data, line 1: note3',
    };
    expect(clean(json, 'SELECT note::json FROM orders')).toEqual({ ...base, ...json });
    const fn = clean(
      { ...json, W: 'SQL function "f" statement 1\nSELECT secret FROM payroll' },
      'SELECT f()',
    );
    expect(fn.W).toBeUndefined();
    expect(clean({ C: '22012', M: 'division by zero' }, 'SELECT 1/0').M).toBe('division by zero');
  });

  it('keeps nameless messages of transaction, cancel and resource classes; not unknown ones', () => {
    const aborted = 'current transaction is aborted, commands ignored until end of transaction block';
    expect(clean({ C: '25P02', M: aborted }, 'SELECT 1').M).toBe(aborted);
    expect(clean({ C: '57014', M: 'canceling statement due to user request' }, '').M).toBe(
      'canceling statement due to user request',
    );
    expect(clean({ C: '55P03', M: 'could not obtain lock on relation "payroll"' }, '').M).toBe(
      'statement failed',
    );
    expect(clean({ C: 'XX001', M: 'invalid page in block 7 of relation base/16384/16385' }, '').M).toBe(
      'internal error',
    );
    expect(clean({ C: 'bogus', M: 'x' }, '').C).toBe('XX000');
  });
});

describe('encodeNotice', () => {
  it('round-trips through the upstream field parser, as an E or N message', () => {
    const f = fields({ ...base, C: '22012', M: 'division by zero' });
    const e = encodeNotice('E', f);
    expect(String.fromCharCode(e[0]!)).toBe('E');
    expect(e.readInt32BE(1)).toBe(e.length - 1);
    expect(parseNoticeFields(e.subarray(5))).toEqual(f);
    expect(String.fromCharCode(encodeNotice('N', f)[0]!)).toBe('N');
  });
});
