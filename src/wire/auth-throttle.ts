/**
 * Failed-attempt throttling for data-plane logins, per user name and per
 * client address (issue 4, "Authentication").
 *
 * Note for the wire server:
 * - call `check()` once the startup packet names the user, before any
 *   credential work; when it refuses, still answer with the SAME 28P01
 *   `password authentication failed for user "<name>"` as a wrong password
 *   (same message, same timing as far as practical, e.g. after running the
 *   SCRAM exchange or an equivalent delay) — a distinct error would tell an
 *   attacker the account exists or is under attack;
 * - call `recordFailure()` for every failed authentication (wrong password,
 *   unknown or inactive user, malformed SCRAM), `recordSuccess()` on success;
 *   do not call `recordFailure()` for an attempt `check()` refused (that would
 *   extend the lockout indefinitely on retries).
 *
 * Semantics: a key (user name, or client address) that collects `max`
 * failures within a sliding `windowMs` is locked for `lockoutMs`; when the
 * lock expires its count starts again from zero. A user name is tracked the
 * same whether it exists or not (the throttle never sees the user table), so
 * lockouts do not reveal which accounts exist. A success clears the user's
 * count but not the address's: otherwise an attacker holding one valid account
 * could reset their address's count between guesses against other accounts.
 * The per-user lock is also a denial-of-service lever for anyone who knows a
 * user name; that is the usual trade-off, bounded by `lockoutMs`.
 *
 * Addresses: IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as the IPv4 address;
 * a native IPv6 address is counted by its /64 prefix (one host usually holds a
 * whole /64). Memory is bounded: at most `maxTrackedKeys` users and as many
 * addresses are tracked, least recently touched evicted first.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface AuthThrottleOptions {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowMs: number;
  lockoutMs: number;
  now?: () => number;
  /** Per table (users, addresses); least recently touched evicted beyond this. */
  maxTrackedKeys?: number;
}

export const AUTH_THROTTLE_DEFAULTS: Readonly<Required<Omit<AuthThrottleOptions, 'now'>>> = {
  maxFailuresPerUser: 10,
  maxFailuresPerAddress: 30,
  windowMs: 60_000,
  lockoutMs: 60_000,
  maxTrackedKeys: 10_000,
};

interface Entry {
  /** Timestamps of failures within the window, oldest first (at most `max`). */
  failures: number[];
  /** Locked while now < lockedUntil. */
  lockedUntil: number;
}

/** A bounded LRU of failure records. */
class FailureTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly lockoutMs: number,
    private readonly capacity: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Remaining lockout in ms (0 when not locked); drops entries that hold nothing any more. */
  retryAfter(key: string, now: number): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    if (entry.lockedUntil > now) return entry.lockedUntil - now;
    this.prune(entry, now);
    if (entry.failures.length === 0) this.entries.delete(key);
    return 0;
  }

  fail(key: string, now: number): void {
    let entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key); // re-inserted below: most recently touched
    } else {
      entry = { failures: [], lockedUntil: 0 };
    }
    if (entry.lockedUntil <= now) {
      // (While locked, concurrent attempts that passed check() earlier add nothing.)
      entry.lockedUntil = 0;
      this.prune(entry, now);
      entry.failures.push(now);
      if (entry.failures.length >= this.max) {
        entry.lockedUntil = now + this.lockoutMs;
        entry.failures = [];
      }
    }
    this.entries.set(key, entry);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  private prune(entry: Entry, now: number): void {
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < entry.failures.length && (entry.failures[drop] ?? 0) <= cutoff) drop++;
    if (drop > 0) entry.failures.splice(0, drop);
  }
}

/** The key an address is counted under (see the file header). */
export function addressKey(address: string): string {
  const trimmed = address.trim();
  if (!isIPv4(trimmed) && !isIPv6(trimmed)) return trimmed; // e.g. a Unix socket: one key
  const lower = trimmed.toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  if (isIPv6(lower) && !lower.includes('.')) {
    const [head = '', tail = ''] = lower.split('::');
    const headGroups = head === '' ? [] : head.split(':');
    const tailGroups = tail === '' ? [] : tail.split(':');
    const groups = lower.includes('::')
      ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
      : headGroups;
    return `${groups
      .slice(0, 4)
      .map((g) => g.replace(/^0+(?=.)/, ''))
      .join(':')}::/64`;
  }
  return lower;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`AuthThrottle: ${name} must be a positive integer`);
  }
  return value;
}

export class AuthThrottle {
  private readonly users: FailureTable;
  private readonly addresses: FailureTable;
  private readonly now: () => number;

  constructor(options: Partial<AuthThrottleOptions> = {}) {
    const o = { ...AUTH_THROTTLE_DEFAULTS, ...stripUndefined(options) };
    const windowMs = positiveInteger('windowMs', o.windowMs);
    const lockoutMs = positiveInteger('lockoutMs', o.lockoutMs);
    const capacity = positiveInteger('maxTrackedKeys', o.maxTrackedKeys);
    this.users = new FailureTable(
      positiveInteger('maxFailuresPerUser', o.maxFailuresPerUser),
      windowMs,
      lockoutMs,
      capacity,
    );
    this.addresses = new FailureTable(
      positiveInteger('maxFailuresPerAddress', o.maxFailuresPerAddress),
      windowMs,
      lockoutMs,
      capacity,
    );
    this.now = options.now ?? Date.now;
  }

  /** Before checking credentials: ms to wait/refuse (0 = go ahead). */
  check(username: string, address: string): { allowed: true } | { allowed: false; retryAfterMs: number } {
    const now = this.now();
    const wait = Math.max(
      this.users.retryAfter(username, now),
      this.addresses.retryAfter(addressKey(address), now),
    );
    return wait > 0 ? { allowed: false, retryAfterMs: Math.ceil(wait) } : { allowed: true };
  }

  recordFailure(username: string, address: string): void {
    const now = this.now();
    this.users.fail(username, now);
    this.addresses.fail(addressKey(address), now);
  }

  /** Clears the user's failures; the address's count stays (see the file header). */
  recordSuccess(username: string, _address: string): void {
    this.users.clear(username);
  }

  /** Number of tracked user names and addresses (for tests and metrics). */
  get trackedKeys(): { users: number; addresses: number } {
    return { users: this.users.size, addresses: this.addresses.size };
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
