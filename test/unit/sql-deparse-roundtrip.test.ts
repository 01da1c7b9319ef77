/** Constructs the stock deparser printed wrongly (deparse.ts patches): each must re-parse to the same tree. */
import { loadModule, parseSync } from 'libpg-query';
import { beforeAll, describe, expect, it } from 'vitest';
import { deparseStatement } from '../../src/sql/deparse.js';
import { verifyDeparsed } from '../../src/sql/verify.js';

beforeAll(async () => loadModule());

describe('deparse round trip', () => {
  it.each([
    'SELECT NULL::pg_catalog.text, 1::pg_catalog.int4, x::pg_catalog.regclass::pg_catalog.oid',
    'SELECT (CASE WHEN $1 THEN ARRAY[1] END)[1], ($1)[2], (f(x)).y[1:2], (a.b).*',
    'SELECT nspname FROM pg_namespace WHERE nspname = (pg_catalog.current_schemas(true))[1]',
  ])('%s', (sql) => {
    const tree = parseSync(sql).stmts![0]!.stmt!;
    expect(() => verifyDeparsed(deparseStatement(tree), tree)).not.toThrow();
  });
});
