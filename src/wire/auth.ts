/**
 * Connection start-up of a client session, up to the point where the
 * session knows who it serves and against which data source:
 *
 *   SSLRequest        → 'S' + TLS handshake when TLS is set up, else 'N'
 *   GSSENCRequest     → 'N'
 *   CancelRequest     → forwarded to the matching session's upstream (cancel.ts), close
 *   StartupMessage 3.x → user and database names cut to 63 bytes (as PostgreSQL),
 *                        TLS-required and total-connection checks (FATAL 28000 / 53300),
 *                        password authentication (password-auth.ts: SCRAM-SHA-256, or a
 *                        cleartext password as ROWGATE_CLEARTEXT_PASSWORD allows),
 *                        then the socket leaves the start-up cap (limits.ts),
 *                        per-user connection limit (FATAL 53300)
 *   database = data source → access check, connection settings, policy set
 *
 * Every credential failure — unknown user, wrong password, inactive user,
 * throttled, malformed exchange — is the same FATAL 28P01. The database is
 * checked only after a successful authentication, and unknown, inactive
 * and not-granted data sources are the same FATAL 3D000, so neither answer
 * reveals which users or data sources exist. Every refusal after the
 * startup packet is also a query-audit record (admission-audit.ts), which
 * carries the internal reason the client is not told.
 */
import type { QueryAuditQueue } from '../audit/query-audit-queue.js';
import type { CleartextPasswordMode } from '../config/index.js';
import type { Logger } from '../log.js';
import type { SessionPolicySet } from '../policy/session.js';
import type { SecretCipher } from '../secrets/cipher.js';
import type { Store } from '../store/db.js';
import type { DataSourceConnection } from '../store/repos/datasources.js';
import {
  auditRefusal,
  clipName,
  type DataSourceState,
  type RefusalReason,
  type RefusedAttempt,
} from './admission-audit.js';
import type { AuthThrottle } from './auth-throttle.js';
import * as be from './backend.js';
import type { Notice } from './backend.js';
import { Writer } from './buffer.js';
import type { ClientConnection } from './connection.js';
import { CANCEL_REQUEST_CODE, GSSENC_REQUEST_CODE, SSL_REQUEST_CODE } from './frames.js';
import { parseCancelRequest, parseStartupParameters } from './frontend.js';
import type { CancelRegistry } from './cancel.js';
import type { ConnectionLimits } from './limits.js';
import { authenticate } from './password-auth.js';
import { loadSessionAccess } from './session-access.js';
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
  // As PostgreSQL: the database defaults to the user name, and both are cut to NAMEDATALEN - 1.
  const username = clipName(parameters.get('user') ?? '');
  const database = clipName(parameters.get('database') || username);
  const attempt: RefusedAttempt = {
    address: conn.remoteAddress,
    username,
    database,
    applicationName: parameters.get('application_name'),
  };
  const refuse = (notice: Notice, reason: RefusalReason, userId?: string): null => {
    conn.fatal(notice);
    auditRefusal(ctx, attempt, notice.message, reason, { userId });
    return null;
  };

  if (ctx.tls?.required && !conn.encrypted) {
    // Decided before any user lookup, and worded to reveal nothing about users or data sources.
    const notice: Notice = {
      severity: 'FATAL',
      code: '28000',
      message: 'SSL connection is required',
      hint: 'Connect with sslmode=require or stronger.',
    };
    return refuse(notice, 'TLS required, plain connection');
  }
  const overTotal = ctx.limits?.admitted(conn);
  if (overTotal) {
    return refuse(overTotal, `ROWGATE_MAX_CONNECTIONS = ${ctx.limits?.options.maxConnections} reached`);
  }
  if (username === '') {
    const message = 'no PostgreSQL user name specified in startup packet';
    return refuse({ severity: 'FATAL', code: '28000', message }, 'no user name');
  }
  const auth = await authenticate(conn, ctx, username);
  if ('notice' in auth) return refuse(auth.notice, auth.reason, auth.userId);
  const { userId } = auth;
  ctx.limits?.authenticated(conn);
  // As PostgreSQL, the per-role limit applies after authentication, so it reveals nothing to strangers.
  const overUser = ctx.limits?.claimUser(conn, userId, username);
  if (overUser) {
    const limit = ctx.limits?.options.maxConnectionsPerUser;
    return refuse(overUser, `ROWGATE_MAX_CONNECTIONS_PER_USER = ${limit} reached`, userId);
  }

  const access = await loadSessionAccess(ctx.store, ctx.cipher, userId, { name: database });
  if (!access.granted) {
    const notice: Notice = {
      severity: 'FATAL',
      code: '3D000',
      message: `database "${database}" does not exist`,
    };
    return refuse(notice, whyNoDatabase, userId);
  }
  return { userId, username, dataSource: access.dataSource, policy: access.policy, parameters };
}

/** The internal reason of a 3D000, once the audit looked the name up. */
function whyNoDatabase(dataSource: DataSourceState): string {
  if (!dataSource) return 'no such data source';
  return dataSource.active ? 'data source not granted to this user' : 'data source inactive';
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
