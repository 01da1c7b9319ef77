/**
 * Connection start-up of a client session, up to the point where the
 * session knows who it serves and against which data source:
 *
 *   SSLRequest        → 'S' + TLS handshake when TLS is set up, else 'N'
 *   GSSENCRequest     → 'N'
 *   CancelRequest     → forwarded to the matching session's upstream (cancel.ts), close
 *   StartupMessage 3.x → TLS-required and total-connection checks (FATAL 28000 / 53300),
 *                        SCRAM-SHA-256 against the stored verifier,
 *                        per-user connection limit (FATAL 53300)
 *   database = data source → access check, connection settings, policy set
 *
 * Every credential failure — unknown user, wrong password, inactive user,
 * throttled, malformed exchange — is the same FATAL 28P01. The database is
 * checked only after a successful authentication, and unknown, inactive
 * and not-granted data sources are the same FATAL 3D000, so neither answer
 * reveals which users or data sources exist.
 */
import type { QueryAuditQueue } from '../audit/query-audit-queue.js';
import type { CleartextPasswordMode } from '../config/index.js';
import type { Logger } from '../log.js';
import { loadPolicyInputs } from '../policy/load.js';
import { loadPolicyParser, resolveSessionPolicySet } from '../policy/resolve.js';
import type { SessionPolicySet } from '../policy/session.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import { canUserConnect } from '../store/repos/datasource-access.js';
import { type DataSourceConnection, getDataSourceConnection } from '../store/repos/datasources.js';
import { activeRoleClosureForUser } from '../store/repos/roles.js';
import { getUserCredentials } from '../store/repos/users.js';
import type { AuthThrottle } from './auth-throttle.js';
import * as be from './backend.js';
import { Writer } from './buffer.js';
import { ClientGone, type ClientConnection } from './connection.js';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from './frames.js';
import { parseCancelRequest, parseSaslInitialResponse, parseStartupParameters } from './frontend.js';
import type { CancelRegistry } from './cancel.js';
import type { ConnectionLimits } from './limits.js';
import { createScramExchange, SCRAM_MECHANISM } from './scram-server.js';
import type { ProxyTls } from './tls.js';

export interface AuthContext {
  store: Store;
  cipher: SecretCipher;
  throttle: AuthThrottle;
  logger: Logger;
  /** Absent: SSLRequest is answered 'N'. */
  tls?: ProxyTls | undefined;
  /** Absent: CancelRequest just closes. */
  cancel?: CancelRegistry | undefined;
  limits?: ConnectionLimits | undefined;
  /** Cleartext password authentication besides SCRAM (ROWGATE_CLEARTEXT_PASSWORD); absent = 'off'. */
  cleartextPassword?: CleartextPasswordMode | undefined;
  /** Refused connection attempts are audited here; absent in bare test setups. */
  audit?: QueryAuditQueue | undefined;
}

export interface AuthenticatedSession {
  userId: string;
  username: string;
  dataSource: DataSourceConnection;
  policy: SessionPolicySet;
  /** Startup parameters as the client sent them (application_name, options…). */
  parameters: Map<string, string>;
}

/** Runs start-up and authentication; null when the connection was refused (and already closed). */
export async function startSession(
  conn: ClientConnection,
  ctx: AuthContext,
): Promise<AuthenticatedSession | null> {
  const parameters = await readStartup(conn, ctx);
  if (!parameters) return null;
  if (ctx.tls?.required && !conn.encrypted) {
    // Decided before any user lookup, and worded to reveal nothing about users or data sources.
    conn.fatal({
      severity: 'FATAL',
      code: '28000',
      message: 'SSL connection is required',
      hint: 'Connect with sslmode=require or stronger.',
    });
    return null;
  }
  const refusal = ctx.limits?.admitted(conn);
  if (refusal) {
    conn.fatal(refusal);
    return null;
  }
  const username = parameters.get('user') ?? '';
  if (username === '') {
    conn.fatal({
      severity: 'FATAL',
      code: '28000',
      message: 'no PostgreSQL user name specified in startup packet',
    });
    return null;
  }
  const database = parameters.get('database') || username;
  const userId = await authenticate(conn, ctx, username);
  if (!userId) return null;
  // As PostgreSQL, the per-role limit applies after authentication, so it reveals nothing to strangers.
  const overUser = ctx.limits?.claimUser(conn, userId, username);
  if (overUser) {
    conn.fatal(overUser);
    return null;
  }

  const { db } = ctx.store;
  const roles = await activeRoleClosureForUser(db, userId);
  if (
    !(await canUserConnect(
      db,
      database,
      userId,
      roles.map((r) => r.id),
    ))
  ) {
    conn.fatal({ severity: 'FATAL', code: '3D000', message: `database "${database}" does not exist` });
    return null;
  }
  const dataSource = await getDataSourceConnection(db, ctx.cipher, { name: database });
  await loadPolicyParser();
  const policy = resolveSessionPolicySet(await loadPolicyInputs(db, dataSource.id, userId));
  return { userId, username, dataSource, policy, parameters };
}

async function readStartup(conn: ClientConnection, ctx: AuthContext): Promise<Map<string, string> | null> {
  for (;;) {
    const frame = await conn.next();
    if (frame.code === SSL_REQUEST_CODE && conn.encrypted) {
      conn.fatal({ severity: 'FATAL', code: '08P01', message: 'SSL negotiation already done' });
      return null;
    }
    if (frame.code === SSL_REQUEST_CODE && ctx.tls) {
      conn.startTls(ctx.tls.context);
      continue;
    }
    if (frame.code === SSL_REQUEST_CODE || frame.code === GSSENC_REQUEST_CODE) {
      conn.send(be.negotiationRefused());
      continue;
    }
    if (frame.code === CANCEL_REQUEST_CODE) {
      // No answer either way (as PostgreSQL): the sender learns nothing about the key.
      if (ctx.cancel && frame.body.length === 8) {
        const { processId, secretKey } = parseCancelRequest(frame.body);
        await ctx.cancel.cancel(processId, secretKey);
      }
      conn.close();
      return null;
    }
    const major = frame.code >>> 16;
    const minor = frame.code & 0xffff;
    if (major !== 3) {
      conn.fatal({
        severity: 'FATAL',
        code: '0A000',
        message: `unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`,
      });
      return null;
    }
    conn.reader.startup = false;
    const parameters = parseStartupParameters(frame.body);
    // Protocol options (`_pq_.*`) and minor versions above 0 are declined as PostgreSQL does.
    const options = [...parameters.keys()].filter((k) => k.startsWith('_pq_.'));
    if (minor > 0 || options.length > 0) {
      const w = new Writer().int32(0x30000).int32(options.length);
      for (const o of options) w.cstring(o);
      conn.send(w.message('v'));
      for (const o of options) parameters.delete(o);
    }
    return parameters;
  }
}

/** SCRAM-SHA-256; the user's id on success, null after a FATAL 28P01. */
async function authenticate(
  conn: ClientConnection,
  ctx: AuthContext,
  username: string,
): Promise<string | null> {
  const address = conn.remoteAddress;
  const throttled = !ctx.throttle.check(username, address).allowed;
  const credentials = throttled ? undefined : await getUserCredentials(ctx.store.db, username);
  const usable = credentials?.is_active ? credentials : undefined;
  // A throttled, unknown or inactive user runs the same exchange, doomed to fail at the proof.
  const exchange = createScramExchange(username, usable?.scram_verifier ?? null);
  const failed = (): null => {
    if (!throttled) ctx.throttle.recordFailure(username, address);
    conn.fatal({
      severity: 'FATAL',
      code: '28P01',
      message: `password authentication failed for user "${username}"`,
    });
    return null;
  };

  conn.send(be.authenticationSasl([SCRAM_MECHANISM]));
  const initial = await expectPassword(conn);
  const { mechanism, data } = parseSaslInitialResponse(initial);
  if (mechanism !== SCRAM_MECHANISM) return failed();
  const first = exchange.start(data.toString('utf8'));
  if ('error' in first) return failed();
  conn.send(be.authenticationSaslContinue(first.serverFirst));
  const final = exchange.finish((await expectPassword(conn)).toString('utf8'));
  if (!('serverFinal' in final) || throttled || !usable) return failed();
  ctx.throttle.recordSuccess(username, address);
  conn.send(be.authenticationSaslFinal(final.serverFinal), be.authenticationOk());
  return usable.id;
}

/** The body of the next 'p' message; anything else ends the connection (as PostgreSQL does). */
async function expectPassword(conn: ClientConnection): Promise<Buffer> {
  const frame = await conn.next();
  if (frame.type !== 'p') {
    conn.fatal({
      severity: 'FATAL',
      code: '08P01',
      message: `expected SASL response, got message type ${frame.type.charCodeAt(0)}`,
    });
    throw new ClientGone();
  }
  return frame.body;
}
