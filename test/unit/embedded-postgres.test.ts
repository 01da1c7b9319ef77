import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { traversableByOthers } from '../../src/embedded/postgres.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

it('tells whether other OS users can reach a path', () => {
  dir = mkdtempSync(join(tmpdir(), 'rowgate-trav-'));
  const nested = join(dir, 'a', 'b');
  mkdirSync(nested, { recursive: true });
  chmodSync(dir, 0o700);
  expect(traversableByOthers(nested)).toBe(false);
  chmodSync(dir, 0o711);
  chmodSync(join(dir, 'a'), 0o755);
  expect(traversableByOthers(nested)).toBe(true);
  // The path itself need not exist, nor be traversable: only its ancestors matter.
  expect(traversableByOthers(join(nested, 'missing', 'deeper'))).toBe(true);
});
