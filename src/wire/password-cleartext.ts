/**
 * Cleartext password authentication of proxy clients
 * (ROWGATE_CLEARTEXT_PASSWORD = tls | always): the AuthenticationCleartextPassword
 * request, the PasswordMessage parser, and the check against the user's
 * argon2id hash (the management API's login hash, src/identity/passwords.ts).
 *
 * Same cost whatever the answer: an unknown user, an inactive user and a
 * throttled attempt each run exactly one argon2 verification — against a
 * fixed dummy hash, computed once (on the first cleartext request, while the
 * client types or sends its password) with the library's default parameters
 * (those of every stored hash) — so the time to the 28P01 does not tell
 * which case it was.
 *
 * At most VERIFY_CONCURRENCY verifications run at once. Each takes ~19 MiB
 * and a libuv thread-pool thread for tens of milliseconds; unbounded, a
 * flood of cleartext attempts would hold every thread-pool thread and stall
 * the file-system and DNS work of every other session. Waiting attempts are
 * bounded by the start-up cap (limits.ts) and the 60 s authentication timeout.
 */
import { randomBytes } from 'node:crypto';
import { hashPassword, verifyPassword } from '../identity/passwords.js';
import type { Notice } from './backend.js';
import { Writer } from './buffer.js';

/** AuthenticationCleartextPassword. */
export const authenticationCleartextPassword = (): Buffer => new Writer().int32(3).message('R');

/** PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH: the largest password or SASL message it reads. */
export const MAX_AUTH_MESSAGE_LENGTH = 65_535;

const VERIFY_CONCURRENCY = 2;

/**
 * The password of a PasswordMessage body, or the refusal PostgreSQL sends
 * for it (`recv_password_packet`): one NUL-terminated string and nothing
 * after it, not empty.
 */
export function parsePasswordMessage(body: Buffer): { password: string } | { refusal: Notice } {
  if (body.length > MAX_AUTH_MESSAGE_LENGTH) {
    return { refusal: { severity: 'FATAL', code: '08P01', message: 'invalid message length' } };
  }
  if (body.length === 0 || body.indexOf(0) !== body.length - 1) {
    return { refusal: { severity: 'FATAL', code: '08P01', message: 'invalid password packet size' } };
  }
  if (body.length === 1) {
    return { refusal: { severity: 'FATAL', code: '28P01', message: 'empty password returned by client' } };
  }
  return { password: body.toString('utf8', 0, body.length - 1) };
}

let dummyHash: Promise<string> | undefined;

/** The fixed hash unknown users are checked against (no password can match it in practice). */
function dummy(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(32).toString('base64')).catch((err: unknown) => {
    dummyHash = undefined; // try again next time rather than caching a failure
    throw err;
  });
  return dummyHash;
}

/** Starts computing the dummy hash (once), so the first unknown user costs no more than the others. */
export function warmUpCleartext(): void {
  dummy().catch(() => undefined);
}

let running = 0;
const waiting: (() => void)[] = [];

async function limited<T>(work: () => Promise<T>): Promise<T> {
  if (running >= VERIFY_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter, so `running` never dips below the queue's need.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/**
 * True when `password` matches `hash`. `hash` null (unknown user, or an
 * attempt that must fail anyway) checks against the dummy hash and is false.
 */
export function verifyCleartext(hash: string | null, password: string): Promise<boolean> {
  return limited(async () => {
    const target = hash ?? (await dummy());
    const matches = await verifyPassword(target, password);
    return matches && hash !== null;
  });
}
