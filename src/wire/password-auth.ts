/**
 * Password authentication of a proxy client, after its startup packet. The
 * method follows ROWGATE_CLEARTEXT_PASSWORD:
 *
 *   off     SCRAM-SHA-256 (scram-server.ts) on every connection
 *   tls     cleartext password on TLS connections, SCRAM-SHA-256 on plain ones
 *   always  cleartext password on every connection
 *
 * A cleartext password is checked against the user's argon2id hash
 * (password-cleartext.ts); a client that cannot answer the method asked
 * fails, as with a PostgreSQL server configured that way.
 *
 * Every credential failure — unknown user, inactive user, wrong password,
 * throttled, malformed SCRAM exchange — is the same FATAL 28P01 after the same
 * work (a throttled, unknown or inactive user runs the whole exchange, doomed
 * to fail); the result also carries the internal reason, for the audit only.
 * Messages that break the protocol — anything but a 'p', a malformed
 * PasswordMessage or SASL message — get PostgreSQL's 08P01. A client that
 * leaves mid-exchange (psql does, to prompt for the password) is ClientGone.
 */
import type { CleartextPasswordMode } from '../config/index.js';
import type { Store } from '../store/db.js';
import { getUserCredentials, type UserCredentials } from '../store/repos/users.js';
import type { AuthThrottle } from './auth-throttle.js';
import * as be from './backend.js';
import { ProtocolViolation } from './buffer.js';
import { ClientGone, type ClientConnection } from './connection.js';
import type { Frame } from './frames.js';
import { parseSaslInitialResponse } from './frontend.js';
import {
  authenticationCleartextPassword,
  MAX_AUTH_MESSAGE_LENGTH,
  parsePasswordMessage,
  verifyCleartext,
  warmUpCleartext,
} from './password-cleartext.js';
import { createScramExchange, SCRAM_MECHANISM } from './scram-server.js';

export interface PasswordAuthContext {
  store: Store;
  throttle: AuthThrottle;
  /** Absent = 'off'. */
  cleartextPassword?: CleartextPasswordMode | undefined;
}

export interface AuthFailure {
  /** What the client is sent (FATAL). */
  notice: be.Notice;
  /** Why, for the audit record only. */
  reason: string;
  /** The account's id when the user name exists. */
  userId?: string | undefined;
}

export type AuthResult = { userId: string } | AuthFailure;

/** How an exchange ended: the proof or password matched the credential it was given, or not. */
type Exchange = { matched: boolean; malformed?: string; success: Buffer[] } | { refusal: be.Notice };

/** True when this connection authenticates with a cleartext password rather than SCRAM. */
export function usesCleartext(mode: CleartextPasswordMode | undefined, encrypted: boolean): boolean {
  return mode === 'always' || (mode === 'tls' && encrypted);
}

/** Authenticates `username`; on success AuthenticationOk is sent. Throws ClientGone if the client left. */
export async function authenticate(
  conn: ClientConnection,
  ctx: PasswordAuthContext,
  username: string,
): Promise<AuthResult> {
  const address = conn.remoteAddress;
  const throttled = !ctx.throttle.check(username, address).allowed;
  const credentials = throttled ? undefined : await getUserCredentials(ctx.store.db, username);
  const usable = credentials?.is_active ? credentials : undefined;
  const userId = credentials?.id;
  let exchange: Exchange;
  try {
    exchange = usesCleartext(ctx.cleartextPassword, conn.encrypted)
      ? await cleartext(conn, usable)
      : await scram(conn, username, usable);
  } catch (err) {
    if (!(err instanceof ProtocolViolation)) throw err;
    const message = `invalid frontend message: ${err.message}`;
    return { notice: { severity: 'FATAL', code: '08P01', message }, reason: 'protocol violation', userId };
  }
  if ('refusal' in exchange) {
    const credential = exchange.refusal.code === '28P01';
    if (credential && !throttled) ctx.throttle.recordFailure(username, address);
    return { notice: exchange.refusal, reason: credential ? 'empty password' : 'protocol violation', userId };
  }
  const reason = failureReason(throttled, credentials, exchange);
  if (reason !== undefined || !usable) {
    // Not for a throttled attempt: retries while locked would extend the lock (auth-throttle.ts).
    if (!throttled) ctx.throttle.recordFailure(username, address);
    return { notice: passwordFailed(username), reason: reason ?? 'wrong password', userId };
  }
  ctx.throttle.recordSuccess(username, address);
  conn.send(...exchange.success, be.authenticationOk());
  return { userId: usable.id };
}

/** Why a completed exchange fails (for the audit), or undefined when it succeeds. */
function failureReason(
  throttled: boolean,
  credentials: UserCredentials | undefined,
  exchange: { matched: boolean; malformed?: string },
): string | undefined {
  if (throttled) return 'throttled: too many failed attempts';
  if (!credentials) return 'unknown user';
  if (!credentials.is_active) return 'inactive user';
  if (exchange.malformed !== undefined) return exchange.malformed;
  return exchange.matched ? undefined : 'wrong password';
}

/** The one answer to every credential failure. */
export function passwordFailed(username: string): be.Notice {
  return {
    severity: 'FATAL',
    code: '28P01',
    message: `password authentication failed for user "${username}"`,
  };
}

async function cleartext(conn: ClientConnection, usable: UserCredentials | undefined): Promise<Exchange> {
  conn.send(authenticationCleartextPassword());
  warmUpCleartext();
  const body = await expectPassword(conn, 'password');
  if ('refusal' in body) return body;
  const parsed = parsePasswordMessage(body.body);
  if ('refusal' in parsed) return parsed;
  // Unknown and inactive users are checked against the dummy hash: the same argon2 work.
  const matched = await verifyCleartext(usable?.password_hash ?? null, parsed.password);
  return { matched, success: [] };
}

async function scram(
  conn: ClientConnection,
  username: string,
  usable: UserCredentials | undefined,
): Promise<Exchange> {
  const exchange = createScramExchange(username, usable?.scram_verifier ?? null);
  conn.send(be.authenticationSasl([SCRAM_MECHANISM]));
  const initial = await expectPassword(conn, 'SASL');
  if ('refusal' in initial) return initial;
  const { mechanism, data } = parseSaslInitialResponse(initial.body);
  if (mechanism !== SCRAM_MECHANISM) {
    const malformed = 'client selected an invalid SASL authentication mechanism';
    return { matched: false, malformed, success: [] };
  }
  const first = exchange.start(data.toString('utf8'));
  if ('error' in first) return { matched: false, malformed: first.error, success: [] };
  conn.send(be.authenticationSaslContinue(first.serverFirst));
  const response = await expectPassword(conn, 'SASL');
  if ('refusal' in response) return response;
  const final = exchange.finish(response.body.toString('utf8'));
  if ('serverFinal' in final)
    return { matched: true, success: [be.authenticationSaslFinal(final.serverFinal)] };
  // finish() fails with SCRAM_AUTH_FAILED for a proof that does not verify; other texts are malformations.
  return final.error.startsWith('malformed')
    ? { matched: false, malformed: final.error, success: [] }
    : { matched: false, success: [] };
}

/**
 * The body of the next 'p' message, or PostgreSQL's 08P01 for anything else.
 * No authentication message may exceed MAX_AUTH_MESSAGE_LENGTH, and a client
 * sends nothing else before the answer: bytes piling up beyond that end the
 * connection at once, so an unauthenticated client cannot make the proxy
 * buffer a message up to the general size limit (16 MiB by default).
 */
async function expectPassword(
  conn: ClientConnection,
  kind: 'SASL' | 'password',
): Promise<{ body: Buffer } | { refusal: be.Notice }> {
  const tooLong: be.Notice = { severity: 'FATAL', code: '08P01', message: 'invalid message length' };
  let tripped = false;
  const guard = () => {
    if (conn.reader.pending <= MAX_AUTH_MESSAGE_LENGTH + 5) return;
    tripped = true;
    conn.fatal(tooLong);
  };
  const socket = conn.socket;
  socket.on('data', guard);
  let frame: Frame;
  try {
    guard();
    frame = await conn.next();
  } catch (err) {
    if (tripped && err instanceof ClientGone) return { refusal: tooLong };
    throw err;
  } finally {
    socket.off('data', guard);
  }
  if (frame.type !== 'p') {
    const message = `expected ${kind} response, got message type ${frame.type.charCodeAt(0)}`;
    return { refusal: { severity: 'FATAL', code: '08P01', message } };
  }
  if (frame.body.length > MAX_AUTH_MESSAGE_LENGTH) return { refusal: tooLong };
  return { body: frame.body };
}
