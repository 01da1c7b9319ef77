/**
 * Connection limits, PostgreSQL's max_connections and per-role
 * CONNECTION LIMIT, plus a cap on sockets still in start-up.
 *
 * Total and per user: a connection takes a total slot when its startup
 * packet arrives (`admitted()`, auth.ts) and is refused there when none is
 * left, as the postmaster does: the client gets a readable FATAL 53300
 * instead of a reset, and a CancelRequest (which takes no slot) still gets
 * through when the proxy is full — which is exactly when someone needs to
 * cancel a runaway query. Sockets that never send a startup packet take no
 * slot, so they cannot lock real clients out (they meet the start-up cap
 * below). A client that sends its startup packet and then stalls holds its
 * slot until the 60 s authentication timeout, as in PostgreSQL. The
 * per-user limit is checked after authentication, so it tells a stranger
 * nothing about which users exist.
 *
 * Start-up cap (slowloris): a socket is "starting" from accept until auth.ts
 * reports it authenticated (`authenticated()`) or it ends. Sockets that never
 * finish start-up cost a file descriptor and buffers for up to the 60 s
 * authentication timeout (client.ts), so their number is capped, and past the
 * cap `open()` returns false: server.ts destroys the socket unread.
 *  - at most `maxStarting` at once: max(2 × maxConnections, maxConnections + 100)
 *    when maxConnections > 0 (room for a full proxy's worth of logins, over-limit
 *    ones still answered 53300, and cancel requests), 10 000 when unlimited;
 *  - per client address (IPv6 per /64, as the auth throttle counts them), at
 *    most `maxStartingPerAddress` (default 50) — applied only once the
 *    start-up table is half full. One address alone can thus fill at most half
 *    of it, leaving the other half to everyone else, while many clients behind
 *    one address (NAT, a local load test) are not refused when the proxy is
 *    not under pressure.
 * A CancelRequest also comes on a new socket, so a start-up flood at the cap
 * blocks cancels too; below the cap, a full proxy never does.
 */
import { addressKey } from './auth-throttle.js';
import type { Notice } from './backend.js';

export interface ConnectionLimitOptions {
  /** 0 = unlimited. */
  maxConnections: number;
  /** 0 = unlimited. */
  maxConnectionsPerUser: number;
  /** Sockets in start-up at once; default from maxConnections (see the header). */
  maxStarting?: number | undefined;
  /** Sockets in start-up per client address once the start-up table is half full; default 50. */
  maxStartingPerAddress?: number | undefined;
}

export const DEFAULT_MAX_STARTING_PER_ADDRESS = 50;
const MAX_STARTING_UNLIMITED = 10_000;

/** The default start-up cap for a total connection limit (0 = unlimited). */
export function defaultMaxStarting(maxConnections: number): number {
  return maxConnections > 0 ? Math.max(2 * maxConnections, maxConnections + 100) : MAX_STARTING_UNLIMITED;
}

/** What the limits need of a connection: its peer address, captured at accept. */
export interface LimitedConnection {
  readonly remoteAddress?: string;
}

export class ConnectionLimits {
  private readonly live = new Set<object>();
  /** Connections holding a total slot (their startup packet arrived). */
  private readonly slots = new Set<object>();
  private readonly userOf = new Map<object, string>();
  private readonly perUser = new Map<string, number>();
  /** Connection in start-up → its address key. */
  private readonly starting = new Map<object, string>();
  private readonly startingPerAddress = new Map<string, number>();
  private readonly maxStarting: number;
  private readonly maxStartingPerAddress: number;
  private refused = 0;

  /** As configured (the audit names the limit a refusal hit). */
  constructor(readonly options: ConnectionLimitOptions) {
    this.maxStarting = options.maxStarting ?? defaultMaxStarting(options.maxConnections);
    this.maxStartingPerAddress = options.maxStartingPerAddress ?? DEFAULT_MAX_STARTING_PER_ADDRESS;
    for (const [name, value] of [
      ['maxStarting', this.maxStarting],
      ['maxStartingPerAddress', this.maxStartingPerAddress],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`ConnectionLimits: ${name} must be a positive integer`);
      }
    }
  }

  /** Live connections (including ones still in start-up, with or without a total slot). */
  get connections(): number {
    return this.live.size;
  }

  /** Connections still in start-up or authentication. */
  get startingUp(): number {
    return this.starting.size;
  }

  /** Sockets refused unread by the start-up cap since the limits were created. */
  get refusedAtStartup(): number {
    return this.refused;
  }

  /**
   * Counts a newly accepted connection as live and starting; `release` must
   * follow when it ends. False (nothing counted): over the start-up cap, close it unread.
   */
  open(conn: object & LimitedConnection): boolean {
    if (this.live.has(conn)) return true;
    const key = addressKey(conn.remoteAddress ?? '');
    const fromAddress = this.startingPerAddress.get(key) ?? 0;
    const crowded = this.starting.size * 2 >= this.maxStarting;
    if (this.starting.size >= this.maxStarting || (crowded && fromAddress >= this.maxStartingPerAddress)) {
      this.refused++;
      return false;
    }
    this.starting.set(conn, key);
    this.startingPerAddress.set(key, fromAddress + 1);
    this.live.add(conn);
    return true;
  }

  /** Takes a total slot once the startup packet arrived; the FATAL to send when none is left. */
  admitted(conn: object): Notice | undefined {
    const max = this.options.maxConnections;
    if (this.slots.has(conn)) return undefined;
    if (max > 0 && this.slots.size >= max) {
      return { severity: 'FATAL', code: '53300', message: 'sorry, too many clients already' };
    }
    this.slots.add(conn);
    return undefined;
  }

  /** The connection passed authentication: it no longer counts against the start-up cap. */
  authenticated(conn: object): void {
    const key = this.starting.get(conn);
    if (key === undefined) return;
    this.starting.delete(conn);
    const left = (this.startingPerAddress.get(key) ?? 1) - 1;
    if (left > 0) this.startingPerAddress.set(key, left);
    else this.startingPerAddress.delete(key);
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
    this.authenticated(conn);
    this.slots.delete(conn);
    this.live.delete(conn);
    const userId = this.userOf.get(conn);
    if (userId === undefined) return;
    this.userOf.delete(conn);
    const left = (this.perUser.get(userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(userId, left);
    else this.perUser.delete(userId);
  }
}
