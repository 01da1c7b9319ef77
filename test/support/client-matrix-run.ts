/**
 * Running the client-matrix clients (psql, Python, Java, pgcli) as child
 * processes and judging their output: what a check's script reports, and
 * whether anything hidden — or the upstream database's real name — shows
 * anywhere in stdout or stderr.
 */
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { HIDDEN_PATTERN, type ClientMatrix, type MatrixUser } from './client-matrix.js';

/** test/clients/, where the client scripts live. */
export const CLIENTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'clients');
/** Debian's Python, into which python3-psycopg2 & co. install (another python3 may come first on PATH). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
export const PSQL_15 = '/usr/lib/postgresql/15/bin/psql';

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr together: what a leak scan reads. */
  output: string;
}

/** Runs a process to completion; killed (and reported as code null) after `timeoutMs`. */
export function runProcess(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({ code, stdout, stderr, output: `${stdout}\n${stderr}` });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The lines of `text` that mention a hidden object. */
export function hiddenHits(text: string): string[] {
  return text.split('\n').filter((line) => HIDDEN_PATTERN.test(line));
}

/**
 * The leak check of every client: for `restricted` no hidden name anywhere;
 * for `open_user` (nothing hidden) the same objects must show, which also
 * proves the scan would see them. The upstream database name never shows.
 */
export function expectLeakFree(
  text: string,
  user: MatrixUser,
  upstreamDatabase: string,
  options: { hiddenMustShow?: boolean } = {},
): void {
  expect(text, 'the upstream database name leaked').not.toContain(upstreamDatabase);
  if (user === 'restricted') expect(hiddenHits(text), 'hidden names in the output').toEqual([]);
  else if (options.hiddenMustShow !== false) expect(hiddenHits(text).length).toBeGreaterThan(0);
}

/** One check as a client script reports it (one JSON object per line on stdout). */
export interface ScriptCheck {
  check: string;
  ok: boolean;
  /** The client's error message (SQLSTATE first when known) when ok is false. */
  error?: string;
  /** What the check returned, for the visibility assertions. */
  result?: unknown;
}

/** Parses a client script's JSON-lines report; other lines are ignored. */
export function parseChecks(stdout: string): Map<string, ScriptCheck> {
  const checks = new Map<string, ScriptCheck>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const check = JSON.parse(line) as ScriptCheck;
    checks.set(check.check, check);
  }
  return checks;
}

/** The named check, which must have run and succeeded (its error is the failure message). */
export function passedCheck(checks: Map<string, ScriptCheck>, name: string): ScriptCheck {
  const check = checks.get(name);
  if (!check) throw new Error(`check ${name} did not run (an earlier check it needs failed)`);
  // The whole client error, untruncated: it is what the matrix report quotes.
  if (!check.ok) throw new Error(`check ${name} failed: ${check.error}`);
  return check;
}

/**
 * With ROWGATE_CLIENT_MATRIX_REPORT=<file>, appends every statement `user`
 * got an error for (SQL and error, from the query audit log) as JSON lines:
 * the exact failing SQL for the compatibility report. A no-op otherwise.
 */
export async function recordFailedStatements(
  matrix: ClientMatrix,
  client: string,
  user: MatrixUser,
): Promise<void> {
  const file = process.env.ROWGATE_CLIENT_MATRIX_REPORT;
  if (!file) return;
  const failed = await matrix.failedStatements(user);
  const lines = failed.map((f) => JSON.stringify({ client, user, sql: f.sql, error: f.error }) + '\n');
  appendFileSync(file, lines.join(''));
}
