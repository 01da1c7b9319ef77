/**
 * Proxy-user credentials. Two forms are stored for every password because the
 * two planes authenticate differently:
 * - an argon2id PHC string for the management API login (BR-compatible: an
 *   operator migrating a BR database keeps working hashes);
 * - a SCRAM-SHA-256 verifier in PostgreSQL's own text format for the data
 *   plane, so the proxy can run SCRAM without ever holding the clear password.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { saslprep } from './saslprep.js';

// `Algorithm` is an ambient const enum, which isolatedModules forbids reading; 2 is Argon2id.
const ARGON2ID = 2 as Algorithm;

/** argon2id with the library's default parameters: `$argon2id$v=19$m=19456,t=2,p=1$…`. */
export function hashPassword(password: string): Promise<string> {
  return hash(password, { algorithm: ARGON2ID });
}

/** False for a wrong password and for a hash that does not parse (login treats both alike). */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

export const SCRAM_DEFAULT_ITERATIONS = 4096;
/** PostgreSQL's SCRAM_DEFAULT_SALT_LEN. */
const SCRAM_SALT_BYTES = 16;

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();

/** SaltedPassword of RFC 5802 for the (SASLprep-normalised) password. */
export function scramSaltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(saslprep(password), salt, iterations, 32, 'sha256');
}

/**
 * The verifier PostgreSQL stores in `pg_authid.rolpassword`:
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64 parts).
 */
export function scramVerifier(
  password: string,
  options: { iterations?: number; salt?: Buffer } = {},
): string {
  const iterations = options.iterations ?? SCRAM_DEFAULT_ITERATIONS;
  const salt = options.salt ?? randomBytes(SCRAM_SALT_BYTES);
  const salted = scramSaltedPassword(password, salt, iterations);
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

const VERIFIER = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

/** Parses a verifier written by `scramVerifier` or by PostgreSQL; throws on anything else. */
export function parseScramVerifier(text: string): ScramVerifier {
  const match = VERIFIER.exec(text);
  if (!match) throw new Error('not a SCRAM-SHA-256 verifier');
  const [, iter = '', salt = '', stored = '', server = ''] = match;
  const iterations = Number(iter);
  const storedKey = Buffer.from(stored, 'base64');
  const serverKey = Buffer.from(server, 'base64');
  if (
    !Number.isSafeInteger(iterations) ||
    iterations < 1 ||
    storedKey.length !== 32 ||
    serverKey.length !== 32
  ) {
    throw new Error('malformed SCRAM-SHA-256 verifier');
  }
  return { iterations, salt: Buffer.from(salt, 'base64'), storedKey, serverKey };
}

/** Constant-time check of a password against a verifier (used by the CLI and tests, not by SCRAM itself). */
export function scramMatches(verifier: string, password: string): boolean {
  const parsed = parseScramVerifier(verifier);
  const expected = parseScramVerifier(scramVerifier(password, parsed));
  return timingSafeEqual(expected.storedKey, parsed.storedKey);
}

/**
 * Password rule of the API (api-contract §4.3.1; not applied by the CLI).
 * Returns BR's message for the first failing check, or null. Lengths are in
 * UTF-8 bytes and the letter classes are Unicode, as in BR.
 */
export function checkPasswordRule(password: string): string | null {
  if (Buffer.byteLength(password, 'utf8') < 8) return 'Password must be at least 8 characters';
  if (!/\p{Uppercase}/u.test(password)) return 'Password must contain at least one uppercase letter';
  if (!/\p{Lowercase}/u.test(password)) return 'Password must contain at least one lowercase letter';
  if (!/[0-9]/.test(password)) return 'Password must contain at least one digit';
  // Rust's `!char::is_alphanumeric()`: neither Alphabetic nor a Unicode number.
  if (!/[^\p{Alphabetic}\p{N}]/u.test(password))
    return 'Password must contain at least one special character';
  return null;
}

/** Both stored forms of a new password. */
export async function credentialsFor(
  password: string,
): Promise<{ passwordHash: string; scramVerifier: string }> {
  return { passwordHash: await hashPassword(password), scramVerifier: scramVerifier(password) };
}
