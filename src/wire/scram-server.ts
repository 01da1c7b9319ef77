/**
 * Server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it
 * (`src/backend/libpq/auth-scram.c`), driven by the pgwire server:
 *
 *   AuthenticationSASL("SCRAM-SHA-256")
 *   ← SASLInitialResponse(client-first)  → `start()`  → AuthenticationSASLContinue(server-first)
 *   ← SASLResponse(client-final)         → `finish()` → AuthenticationSASLFinal(server-final), AuthenticationOk
 *
 * Behaviour copied from PostgreSQL:
 * - the `n=` user name of client-first is ignored (libpq sends it empty, pg
 *   sends `*`): the startup packet's user is authoritative;
 * - gs2 header `n,,` and `y,,` are accepted (we never advertise
 *   SCRAM-SHA-256-PLUS, so a `y` client is right); `p=…` is refused, and so are
 *   an authorization identity (`a=`) and mandatory extensions (`m=`);
 * - unknown, inactive or unparseable-verifier users run a complete "doomed"
 *   exchange with a deterministic mock salt (HMAC of the user name under a
 *   per-process secret, like PostgreSQL's `scram_mock_salt`) and the default
 *   iteration count, and the proof check does the same work against random
 *   keys, so nothing distinguishes them until the proof fails.
 *
 * Note for the wire server: `finish()` fails with exactly `SCRAM_AUTH_FAILED`
 * when the proof does not verify (wrong password OR unknown user): answer
 * 28P01 `password authentication failed for user "<name>"`. Every other error
 * text describes a malformed exchange (PostgreSQL answers 08P01 "malformed
 * SCRAM message" with the text as DETAIL); sending 28P01 for those too is also
 * safe, they never depend on whether the user exists. Neither method throws.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseScramVerifier, SCRAM_DEFAULT_ITERATIONS } from '../identity/passwords.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** The one error of `finish()` that means "wrong credentials" (28P01); all others are protocol errors. */
export const SCRAM_AUTH_FAILED = 'password authentication failed';

export interface ScramServerExchange {
  /** SASLInitialResponse data (client-first-message) → server-first-message, or an error text. */
  start(clientFirst: string): { serverFirst: string } | { error: string };
  /** SASLResponse data (client-final-message) → server-final-message ("v=…") when the proof verifies. */
  finish(clientFinal: string): { serverFinal: string } | { ok: false; error: string };
}

/** PostgreSQL's SCRAM_RAW_NONCE_LEN. */
const DEFAULT_NONCE_BYTES = 18;
/** PostgreSQL's SCRAM_DEFAULT_SALT_LEN: the mock salt has the length of a real one. */
const MOCK_SALT_BYTES = 16;
/**
 * Upper bound on either client message. Real ones are < 200 characters
 * (libpq: 24-character nonce, empty user name; proof 44 characters); PostgreSQL
 * only bounds them by its 64 kB auth-token limit.
 */
export const SCRAM_MAX_MESSAGE_LENGTH = 1024;

/** Per-process secret for mock salts: stable for a user name while the process lives. */
const MOCK_SECRET = randomBytes(32);

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RFC 5802 `printable`: %x21-2B / %x2D-7E. */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** RFC 5802 `saslname`: "=" only as =2C / =3D. Empty is tolerated (libpq sends `n=`). */
const SASLNAME = /^(?:[^\0,=]|=2C|=3D)*$/;
/** An extension attribute: ALPHA "=" value. */
const EXTENSION = /^[A-Za-z]=[^\0,]+$/;

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

interface Credentials {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
  /** True for an unknown/inactive user: the proof can never verify. */
  doomed: boolean;
}

function mockCredentials(username: string): Credentials {
  const salt = createHmac('sha256', MOCK_SECRET)
    .update(`rowgate scram mock salt\0${username}`)
    .digest()
    .subarray(0, MOCK_SALT_BYTES);
  return {
    iterations: SCRAM_DEFAULT_ITERATIONS,
    salt,
    storedKey: randomBytes(32),
    serverKey: randomBytes(32),
    doomed: true,
  };
}

function credentialsFor(username: string, verifier: string | null): Credentials {
  if (verifier === null) return mockCredentials(username);
  try {
    const parsed = parseScramVerifier(verifier);
    if (parsed.salt.length === 0) return mockCredentials(username);
    return { ...parsed, doomed: false };
  } catch {
    // A corrupt stored verifier behaves like an unknown user (PostgreSQL does the same).
    return mockCredentials(username);
  }
}

/** The gs2 headers we accept, with the `c=` value the client must echo. */
const GS2_HEADERS: Readonly<Record<string, string>> = {
  'n,,': Buffer.from('n,,').toString('base64'), // "biws"
  'y,,': Buffer.from('y,,').toString('base64'), // "eSws"
};

type Failure = { error: string };

const malformed = (detail: string): Failure => ({ error: `malformed SCRAM message: ${detail}` });

/** Attribute `name=` at the head of `part`, returning its value or null. */
function attribute(part: string | undefined, name: string): string | null {
  if (part === undefined || !part.startsWith(`${name}=`)) return null;
  return part.slice(name.length + 1);
}

interface ClientFirst {
  gs2Header: string;
  bare: string;
  clientNonce: string;
}

function parseClientFirst(message: string): ClientFirst | Failure {
  const parts = message.split(',');
  const [cbind, authzid] = parts;
  if (cbind === undefined || authzid === undefined || parts.length < 4) {
    return malformed('client-first-message is incomplete');
  }
  if (cbind.startsWith('p=')) {
    return malformed(
      'the client selected SCRAM-SHA-256 without channel binding, but the message requests channel binding',
    );
  }
  if (cbind !== 'n' && cbind !== 'y') return malformed('unexpected channel-binding flag');
  if (authzid !== '') {
    return authzid.startsWith('a=')
      ? malformed('authorization identity is not supported')
      : malformed('malformed gs2 header');
  }
  const gs2Header = `${cbind},,`;
  const bareParts = parts.slice(2);
  if (attribute(bareParts[0], 'm') !== null) {
    return malformed('the client requires an unsupported SCRAM extension');
  }
  const user = attribute(bareParts[0], 'n');
  if (user === null) return malformed('expected attribute "n"');
  if (!SASLNAME.test(user)) return malformed('invalid user name attribute');
  const clientNonce = attribute(bareParts[1], 'r');
  if (clientNonce === null) return malformed('expected attribute "r"');
  if (!PRINTABLE.test(clientNonce)) return malformed('the client nonce is empty or not printable');
  for (const extension of bareParts.slice(2)) {
    if (!EXTENSION.test(extension)) return malformed('invalid attribute');
  }
  return { gs2Header, bare: bareParts.join(','), clientNonce };
}

interface ClientFinal {
  withoutProof: string;
  proof: Buffer;
}

function parseClientFinal(message: string, expectedBinding: string, nonce: string): ClientFinal | Failure {
  const parts = message.split(',');
  if (parts.length < 3) return malformed('client-final-message is incomplete');
  const binding = attribute(parts[0], 'c');
  if (binding === null) return malformed('expected attribute "c"');
  if (!B64.test(binding) || binding === '') return malformed('channel binding data is not base64');
  if (binding !== expectedBinding) return malformed('channel binding check failed');
  const finalNonce = attribute(parts[1], 'r');
  if (finalNonce === null) return malformed('expected attribute "r"');
  if (finalNonce !== nonce) return malformed('nonce mismatch');
  const proofText = attribute(parts[parts.length - 1], 'p');
  if (proofText === null) return malformed('expected attribute "p" at the end of the message');
  for (const extension of parts.slice(2, -1)) {
    if (!EXTENSION.test(extension) || extension.startsWith('p=')) {
      return malformed('invalid attribute');
    }
  }
  if (!B64.test(proofText) || proofText === '') return malformed('proof is not base64');
  const proof = Buffer.from(proofText, 'base64');
  if (proof.length !== 32) return malformed('proof has the wrong length');
  return { withoutProof: parts.slice(0, -1).join(','), proof };
}

/**
 * One SCRAM exchange for the startup `username`. `verifier` null = unknown or
 * inactive user: the exchange runs in full and fails at the proof.
 */
export function createScramExchange(
  username: string,
  verifier: string | null,
  options: { nonceBytes?: number } = {},
): ScramServerExchange {
  const nonceBytes = options.nonceBytes ?? DEFAULT_NONCE_BYTES;
  if (!Number.isInteger(nonceBytes) || nonceBytes < 8 || nonceBytes > 256) {
    throw new RangeError('nonceBytes must be an integer between 8 and 256');
  }
  const credentials = credentialsFor(username, verifier);
  let state: 'initial' | 'started' | 'done' = 'initial';
  let clientFirstBare = '';
  let serverFirst = '';
  let expectedBinding = '';
  let nonce = '';

  return {
    start(clientFirst) {
      if (state !== 'initial') {
        state = 'done';
        return malformed('unexpected client-first-message');
      }
      state = 'done'; // until it succeeds: any failure ends the exchange
      if (typeof clientFirst !== 'string' || clientFirst.length === 0) {
        return malformed('empty client-first-message');
      }
      if (clientFirst.length > SCRAM_MAX_MESSAGE_LENGTH) return malformed('message too long');
      const parsed = parseClientFirst(clientFirst);
      if ('error' in parsed) return parsed;
      const headerBinding = GS2_HEADERS[parsed.gs2Header];
      if (headerBinding === undefined) return malformed('unexpected gs2 header');
      expectedBinding = headerBinding;
      clientFirstBare = parsed.bare;
      nonce = parsed.clientNonce + randomBytes(nonceBytes).toString('base64');
      serverFirst = `r=${nonce},s=${credentials.salt.toString('base64')},i=${credentials.iterations}`;
      state = 'started';
      return { serverFirst };
    },

    finish(clientFinal) {
      const fail = (error: string) => ({ ok: false as const, error });
      if (state !== 'started') {
        state = 'done';
        return fail('malformed SCRAM message: unexpected client-final-message');
      }
      state = 'done';
      if (typeof clientFinal !== 'string' || clientFinal.length === 0) {
        return fail('malformed SCRAM message: empty client-final-message');
      }
      if (clientFinal.length > SCRAM_MAX_MESSAGE_LENGTH) {
        return fail('malformed SCRAM message: message too long');
      }
      const parsed = parseClientFinal(clientFinal, expectedBinding, nonce);
      if ('error' in parsed) return fail(parsed.error);

      const authMessage = `${clientFirstBare},${serverFirst},${parsed.withoutProof}`;
      const clientSignature = hmac(credentials.storedKey, authMessage);
      const clientKey = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) {
        clientKey[i] = (parsed.proof[i] ?? 0) ^ (clientSignature[i] ?? 0);
      }
      const matches = timingSafeEqual(sha256(clientKey), credentials.storedKey);
      if (!matches || credentials.doomed) return fail(SCRAM_AUTH_FAILED);
      const serverSignature = hmac(credentials.serverKey, authMessage).toString('base64');
      return { serverFinal: `v=${serverSignature}` };
    },
  };
}
