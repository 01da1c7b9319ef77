/**
 * Reading what clients write in reg* literals (catalog/literals.ts): array
 * constants as array_in reads them and dotted names as the reg* input
 * functions read them. Upstream agreement: test/integration/catalog-calls-naming.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseArrayLiteral, splitQualifiedName } from '../../src/sql/catalog/literals.js';

describe('parseArrayLiteral', () => {
  it.each([
    ['{}', []],
    ['{a,b}', ['a', 'b']],
    ['  { a , b c }  ', ['a', 'b c']],
    ['{NULL,null,"NULL",\\NULL}', [null, null, 'NULL', 'NULL']],
    ['{"a,b","x\\"y","",  " s "}', ['a,b', 'x"y', '', ' s ']],
    ['{a\\,b,c\\ }', ['a,b', 'c ']],
    [
      '{{a,b},{c,NULL}}',
      [
        ['a', 'b'],
        ['c', null],
      ],
    ],
    ['{{{1}},{{2}}}', [[['1']], [['2']]]],
  ])('%s', (text, expected) => {
    expect(parseArrayLiteral(text)).toEqual(expected);
  });

  it('leaves constants with explicit bounds to the caller', () => {
    expect(parseArrayLiteral('[1:2]={a,b}')).toBeNull();
  });

  it.each([
    '',
    'a',
    '{a',
    '{a,}',
    '{,a}',
    '{a,,b}',
    '{a}x',
    '{a}}',
    '{"a}',
    '{a"b}',
    '{a{b}',
    '{{a},b}',
    '{a,{b}}',
    '{{a},{b,c}}',
    '{{},{}}',
    '{a\\',
  ])('%s is 22P02 malformed array literal', (text) => {
    expect(() => parseArrayLiteral(text, 8)).toThrow(
      expect.objectContaining({ sqlstate: '22P02', message: `malformed array literal: "${text}"` }),
    );
  });

  it('refuses more than 6 dimensions without recursing (54000)', () => {
    expect(() => parseArrayLiteral('{{{{{{{1}}}}}}}')).toThrow(
      expect.objectContaining({ sqlstate: '54000' }),
    );
    expect(() => parseArrayLiteral('{'.repeat(200_000))).toThrow(
      expect.objectContaining({ sqlstate: '54000' }),
    );
  });
});

describe('splitQualifiedName', () => {
  it.each([
    ['orders', ['orders']],
    ['  Public . ORDERS ', ['public', 'orders']],
    ['"Mixed"."a""b"', ['Mixed', 'a"b']],
    ['db.s.t', ['db', 's', 't']],
    ['a;b', ['a;b']],
    ['""', ['']],
    ['', []],
    ['   ', []],
    ['x'.repeat(70), ['x'.repeat(63)]],
    ['é'.repeat(40), ['é'.repeat(31)]],
  ])('%s', (text, expected) => {
    expect(splitQualifiedName(text)).toEqual(expected);
  });

  it.each(['a b', 'a.', '.a', 'a..b', '"a', '"a"b'])('%s is invalid name syntax', (text) => {
    expect(splitQualifiedName(text)).toBeNull();
  });
});
