/**
 * Known gaps of the client matrix (issue 6): checks that fail today for a
 * reason recorded here, by full test name ("<describe> > <test>", as vitest
 * prints it). `matrixIt` runs such a check and requires it to FAIL still:
 * when a fix makes it pass, the test fails with "now passes — remove it", so
 * this list can only shrink and never hides a regression of a passing check.
 * Everything not listed must pass as usual.
 */
import { expect, it } from 'vitest';

const XMIN =
  'DataGrip reads xmin of catalog rows; exposing real xmin would let age(xmin) read the transaction counter (threat model V96). Needs a synthetic xmin column added only when referenced.';
const TXID =
  'txid_current() is refused by design (V96); DataGrip needs an agreed constant or must tolerate 42883.';
const VIEW_DEFINITION =
  "Views over a filtered or masked table hide their definition (it can embed other tenants' literals); the check expects the definition. Decide: a rewritten definition, or change the expectation.";

export const KNOWN_GAPS: ReadonlyMap<string, string> = new Map<string, string>([
  ["'datagrip.sql' > as restricted > current_txid", TXID],
  ["'datagrip.sql' > as restricted > schemas", XMIN],
  ["'datagrip.sql' > as restricted > tables", XMIN],
  ["'datagrip.sql' > as restricted > columns", XMIN],
  ["'datagrip.sql' > as restricted > keys_and_constraints", XMIN],
  ["'datagrip.sql' > as restricted > indices", XMIN],
  ["'datagrip.sql' > as open_user > current_txid", TXID],
  ["'datagrip.sql' > as open_user > schemas", XMIN],
  ["'datagrip.sql' > as open_user > tables", XMIN],
  ["'datagrip.sql' > as open_user > columns", XMIN],
  ["'datagrip.sql' > as open_user > keys_and_constraints", XMIN],
  ["'datagrip.sql' > as open_user > indices", XMIN],
  ["'dbeaver.sql' > as restricted > view_definition", VIEW_DEFINITION],
  ['SQLAlchemy Inspector as restricted > view_definition', VIEW_DEFINITION],
]);

export function matrixIt(name: string, body: () => unknown, timeoutMs?: number): void {
  it(
    name,
    async () => {
      const full = expect.getState().currentTestName ?? name;
      const gap = KNOWN_GAPS.get(full);
      if (gap === undefined) {
        await body();
        return;
      }
      let passed = false;
      try {
        await body();
        passed = true;
      } catch {
        // The recorded failure (see the reason in KNOWN_GAPS).
      }
      if (passed) throw new Error(`known gap now passes — remove it from KNOWN_GAPS: ${full}`);
    },
    timeoutMs,
  );
}
