/**
 * One vitest suite per scripted client of the matrix (Python, Java, pgcli):
 * the script runs once per user (test/clients/*, one JSON line per check,
 * see matrix_checks.py), then every check is its own test — it must have
 * succeeded and its result must show what the user may see — and a last
 * test scans the script's complete stdout and stderr for hidden names.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { MATRIX_USERS, openClientMatrix, type ClientMatrix, type MatrixUser } from './client-matrix.js';
import {
  expectLeakFree,
  parseChecks,
  passedCheck,
  recordFailedStatements,
  runProcess,
  type ScriptCheck,
} from './client-matrix-run.js';
import { matrixIt } from './client-matrix-gaps.js';

export interface CheckSpec {
  check: string;
  /** Names the check's result must contain for this user (JSON text search). */
  shows?: (user: MatrixUser) => readonly string[];
  /** Further assertions on the result. */
  verify?: (result: unknown, user: MatrixUser) => void;
  /** A check that must FAIL for this user (e.g. naming a table they may not see); returns the expected error fragment. */
  failsFor?: (user: MatrixUser) => string | null;
}

export interface ScriptClient {
  title: string;
  command: string;
  args: (user: MatrixUser) => string[];
  checks: readonly CheckSpec[];
  timeoutMs?: number;
}

/** `open_user` sees everything, hidden objects included; `restricted` only the rest. */
export const forOpen = (user: MatrixUser, names: readonly string[]): readonly string[] =>
  user === 'open_user' ? names : [];

export function describeScriptClient(client: ScriptClient): void {
  let matrix: ClientMatrix;
  beforeAll(async () => (matrix = await openClientMatrix()));
  afterAll(async () => matrix?.close());

  describe.each(MATRIX_USERS)(`${client.title} as %s`, (user) => {
    let checks: Map<string, ScriptCheck>;
    let output = '';

    beforeAll(
      async () => {
        const run = await runProcess(client.command, client.args(user), {
          env: matrix.env(user),
          timeoutMs: client.timeoutMs ?? 90_000,
        });
        checks = parseChecks(run.stdout);
        output = run.output;
        await recordFailedStatements(matrix, client.title, user);
        if (checks.size === 0)
          throw new Error(`${client.title} reported nothing (exit ${run.code}):\n${run.output}`);
      },
      (client.timeoutMs ?? 90_000) + 10_000,
    );

    for (const spec of client.checks) {
      matrixIt(spec.check, () => {
        const expectedError = spec.failsFor?.(user) ?? null;
        if (expectedError !== null) {
          const check = checks.get(spec.check);
          expect(check?.ok, `${spec.check} should fail for ${user}`).toBe(false);
          expect(check?.error).toContain(expectedError);
          return;
        }
        const { result } = passedCheck(checks, spec.check);
        const text = JSON.stringify(result);
        for (const name of spec.shows?.(user) ?? [])
          expect(text, `${spec.check} should show ${name}`).toContain(name);
        spec.verify?.(result, user);
      });
    }

    matrixIt('shows nothing hidden anywhere in its output (stdout and stderr)', () => {
      expectLeakFree(output, user, matrix.upstreamDatabase);
    });
  });
}
