/**
 * The introspection-SQL regression corpus (test/clients/introspection/*.sql:
 * psql 15 tab completion, DBeaver, DataGrip, Metabase, pgAdmin, Tableau's
 * cursor pattern, Npgsql / Power BI; each file's header says where its
 * queries come from). Every statement runs, in file order on one connection
 * (simple query protocol, as these tools send literal SQL):
 *
 * - directly on the upstream as its owner — the corpus itself must be valid
 *   SQL whose results show every name it annotates (`-- expect:` and
 *   `-- expect-open:`), so a wrong annotation cannot make a test vacuous;
 * - through the proxy as `restricted` and as `open_user`: no error, the
 *   annotated names shown (`-- expect-open:` only to open_user), and no
 *   hidden name nor the upstream database's real name anywhere in the result.
 *
 * FAILING through the proxy at the last run: DataGrip (xmin columns 42703,
 * pg_is_in_recovery 42883), Metabase describe_database (has_schema_privilege
 * with a schema NAME → 22P02), DBeaver sequences (pg_sequences empty) and
 * view_definition for restricted (null), pgAdmin column_defaults (nextval
 * default hidden), psql 15 tab completion (XX000 "rewritten statement does
 * not round-trip").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject } from 'vitest';
import {
  MATRIX_USERS,
  openClientMatrix,
  type ClientMatrix,
  type MatrixUser,
} from '../support/client-matrix.js';
import { CLIENTS_DIR, expectLeakFree, recordFailedStatements } from '../support/client-matrix-run.js';
import { matrixIt } from '../support/client-matrix-gaps.js';

interface CorpusStatement {
  name: string;
  sql: string;
  expect: string[];
  expectOpen: string[];
}

const CORPUS_DIR = join(CLIENTS_DIR, 'introspection');

/** Splits a corpus file: `-- name:` / `-- expect:` / `-- expect-open:` annotate the next statement, which ends with a line ending in ';'. */
function parseCorpus(text: string): CorpusStatement[] {
  const statements: CorpusStatement[] = [];
  let pending: CorpusStatement | null = null;
  let lines: string[] = [];
  const list = (value: string) =>
    value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  for (const line of text.split('\n')) {
    const annotation = /^-- (name|expect|expect-open):\s*(.*)$/.exec(line);
    if (annotation && lines.length === 0) {
      const [, key, value] = annotation as unknown as [string, string, string];
      if (key === 'name') pending = { name: value.trim(), sql: '', expect: [], expectOpen: [] };
      else if (!pending) throw new Error(`-- ${key}: before any -- name:`);
      else if (key === 'expect') pending.expect = list(value);
      else pending.expectOpen = list(value);
      continue;
    }
    if (!pending || (lines.length === 0 && (line.trim() === '' || line.startsWith('--')))) continue;
    lines.push(line);
    if (line.trimEnd().endsWith(';')) {
      statements.push({ ...pending, sql: lines.join('\n') });
      pending = null;
      lines = [];
    }
  }
  if (lines.length > 0 || pending) throw new Error('corpus file ends inside a statement');
  return statements;
}

const CORPUS = readdirSync(CORPUS_DIR)
  .filter((f) => f.endsWith('.sql'))
  .sort()
  .map((file) => ({ file, statements: parseCorpus(readFileSync(join(CORPUS_DIR, file), 'utf8')) }));

let matrix: ClientMatrix;
beforeAll(async () => (matrix = await openClientMatrix()));
afterAll(async () => {
  for (const user of MATRIX_USERS)
    if (matrix) await recordFailedStatements(matrix, 'introspection corpus', user);
  await matrix?.close();
});

matrixIt('the corpus has every tool the issue names', () => {
  expect(CORPUS.map((c) => c.file)).toEqual(
    expect.arrayContaining([
      'datagrip.sql',
      'dbeaver.sql',
      'metabase.sql',
      'npgsql.sql',
      'pgadmin.sql',
      'tableau.sql',
    ]),
  );
  for (const { statements } of CORPUS) expect(statements.length).toBeGreaterThan(0);
});

type Runner = 'direct' | MatrixUser;

/** What an annotated name is called on the upstream itself: its real database and owner role. */
function directName(name: string): string {
  if (name === '$user') return inject('postgres').user;
  return name === 'shopdb' ? matrix.upstreamDatabase : name;
}

describe.each(CORPUS)('$file', ({ statements }) => {
  describe.each<Runner>(['direct', ...MATRIX_USERS])('as %s', (runner) => {
    let client: pg.Client;
    beforeAll(async () => {
      client = new pg.Client({
        connectionString: runner === 'direct' ? matrix.upstreamUrl : matrix.url(runner),
      });
      client.on('error', () => undefined);
      await client.connect();
    });
    afterAll(async () => client?.end());

    for (const statement of statements) {
      matrixIt(statement.name, async () => {
        let result: pg.QueryResult | pg.QueryResult[];
        try {
          result = await client.query(statement.sql);
        } catch (error) {
          const e = error as { code?: string; message?: string };
          // Keep the connection usable for the file's next statement.
          await client.query('ROLLBACK').catch(() => undefined);
          throw new Error(`${e.code ?? '?'} ${e.message ?? String(error)}\nSQL:\n${statement.sql}`);
        }
        const results = Array.isArray(result) ? result : [result];
        const text = JSON.stringify(
          results.map((r: pg.QueryResult) => ({ fields: r.fields.map((f) => f.name), rows: r.rows })),
        );
        const user = runner === 'direct' ? 'open_user' : runner;
        const shown = [...statement.expect, ...(user === 'open_user' ? statement.expectOpen : [])];
        for (const name of shown) {
          const wanted = runner === 'direct' ? directName(name) : name === '$user' ? runner : name;
          expect(text, `${statement.name} should show ${wanted}`).toContain(wanted);
        }
        if (runner === 'restricted') expectLeakFree(text, 'restricted', matrix.upstreamDatabase);
        else if (runner === 'open_user')
          expectLeakFree(text, 'open_user', matrix.upstreamDatabase, { hiddenMustShow: false });
      });
    }
  });
});
