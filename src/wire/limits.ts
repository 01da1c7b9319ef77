/**
 * Connection limits, PostgreSQL's max_connections and per-role
 * CONNECTION LIMIT. Every accepted socket takes a slot at once (server.ts),
 * but an over-limit connection is refused only after its startup packet
 * (auth.ts), as the postmaster does: the client gets a readable FATAL 53300
 * instead of a reset, and a CancelRequest still gets through when the proxy
 * is full — which is exactly when someone needs to cancel a runaway query.
 * The per-user limit is checked after authentication, so it tells a
 * stranger nothing about which users exist.
 */
import type { Notice } from './backend.js';

export interface ConnectionLimitOptions {
  /** 0 = unlimited. */
  maxConnections: number;
  /** 0 = unlimited. */
  maxConnectionsPerUser: number;
}

export class ConnectionLimits {
  private readonly live = new Set<object>();
  private readonly overLimit = new WeakSet<object>();
  private readonly userOf = new Map<object, string>();
  private readonly perUser = new Map<string, number>();

  constructor(private readonly options: ConnectionLimitOptions) {}

  /** Live connections (including ones still in start-up). */
  get connections(): number {
    return this.live.size;
  }

  /** Counts a newly accepted connection; `release` must follow when it ends. False: close it unread. */
  open(conn: object): boolean {
    this.live.add(conn);
    const max = this.options.maxConnections;
    if (max > 0 && this.live.size > max) this.overLimit.add(conn);
    return true;
  }

  /** The FATAL to send after the startup packet, when the connection came in over the total limit. */
  admitted(conn: object): Notice | undefined {
    if (!this.overLimit.has(conn)) return undefined;
    return { severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' };
  }

  /** Claims a per-user slot after authentication; the FATAL to send when the user is at the limit. */
  claimUser(conn: object, userId: string, username: string): Notice | undefined {
    const max = this.options.maxConnectionsPerUser;
    const count = this.perUser.get(userId) ?? 0;
    if (max > 0 && count >= max) {
      return { severity: 'FATAL', code: '53300', message: `too many connections for role "${username}"` };
    }
    this.perUser.set(userId, count + 1);
    this.userOf.set(conn, userId);
    return undefined;
  }

  /** Frees the connection's slots (idempotent per connection). */
  release(conn: object): void {
    this.overLimit.delete(conn);
    this.live.delete(conn);
    const userId = this.userOf.get(conn);
    if (userId === undefined) return;
    this.userOf.delete(conn);
    const left = (this.perUser.get(userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(userId, left);
    else this.perUser.delete(userId);
  }
}
