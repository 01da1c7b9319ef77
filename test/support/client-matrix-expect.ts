/**
 * What each client-matrix user must get from the fixture's data
 * (test/support/client-matrix.ts): `restricted` sees the 'eu' customers only,
 * with the email masked; `open_user` sees every row as stored.
 */
import type { MatrixUser } from './client-matrix.js';

const CUSTOMERS = [
  { id: 1, name: 'Ada', email: 'ada@example.com', region: 'eu' },
  { id: 2, name: 'Bob', email: 'bob@example.com', region: 'us' },
  { id: 3, name: 'Cleo', email: 'cleo@example.com', region: 'eu' },
] as const;

export const MASKED_EMAIL = '***@***';

type CustomerColumn = keyof (typeof CUSTOMERS)[number];

/** customers ORDER BY id as `user` sees it, as rows of the given columns. */
export function customersAsSeen(user: MatrixUser, columns: readonly CustomerColumn[]): unknown[][] {
  return CUSTOMERS.filter((c) => user === 'open_user' || c.region === 'eu').map((c) =>
    columns.map((column) => (column === 'email' && user === 'restricted' ? MASKED_EMAIL : c[column])),
  );
}
