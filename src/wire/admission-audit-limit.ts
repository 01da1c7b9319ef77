/**
 * Rate limit of refused-connection audit records (admission-audit.ts), so a
 * flood of refused attempts cannot push genuine statement records out of the
 * bounded query-audit queue (drop-oldest).
 *
 * Scheme: fixed windows of `windowMs` (one minute). In a window at most
 * `perAddress` refused attempts per client address (IPv6 counted per /64,
 * as the auth throttle does) and at most `total` in all are recorded one by
 * one; the rest are only counted. When the window ends — at the next refusal
 * after it, or by a timer armed at the first suppressed attempt, so a flood
 * that stops is still reported — one summary record states how many were
 * suppressed and which address sent the most. So refusals add at most
 * `total + 1` records per minute to the queue, whatever the attacker does,
 * and one noisy address cannot use up the budget of the others. At most
 * `maxTrackedAddresses` addresses are tracked in a window (memory bound);
 * attempts from further addresses are counted as suppressed.
 */
import { addressKey } from './auth-throttle.js';

export interface RefusalAuditLimitOptions {
  perAddress: number;
  total: number;
  windowMs: number;
  maxTrackedAddresses: number;
}

export const REFUSAL_AUDIT_LIMIT_DEFAULTS: Readonly<RefusalAuditLimitOptions> = Object.freeze({
  perAddress: 20,
  total: 600,
  windowMs: 60_000,
  maxTrackedAddresses: 10_000,
});

/** The attempts of one window that were counted but not recorded. */
export interface SuppressedRefusals {
  count: number;
  /** Window start and end, ms since the epoch. */
  from: number;
  to: number;
  /** The address (key) with the most suppressed attempts; '' when none was tracked. */
  topAddress: string;
  topCount: number;
  limits: RefusalAuditLimitOptions;
}

interface AddressCount {
  recorded: number;
  suppressed: number;
}

export class RefusalAuditLimiter {
  readonly limits: RefusalAuditLimitOptions;
  private windowStart = Number.NEGATIVE_INFINITY;
  private recorded = 0;
  private suppressed = 0;
  private readonly addresses = new Map<string, AddressCount>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onSuppressed: (summary: SuppressedRefusals) => void,
    options: Partial<RefusalAuditLimitOptions> = {},
  ) {
    const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.limits = { ...REFUSAL_AUDIT_LIMIT_DEFAULTS, ...defined };
    for (const [name, value] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`RefusalAuditLimiter: ${name} must be a positive integer`);
      }
    }
  }

  /** True: record this refused attempt; false: it only counts toward the window's summary. */
  admit(address: string): boolean {
    const now = Date.now();
    if (now - this.windowStart >= this.limits.windowMs) this.roll(now);
    const key = addressKey(address);
    let entry = this.addresses.get(key);
    if (!entry && this.addresses.size < this.limits.maxTrackedAddresses) {
      entry = { recorded: 0, suppressed: 0 };
      this.addresses.set(key, entry);
    }
    if (entry && entry.recorded < this.limits.perAddress && this.recorded < this.limits.total) {
      entry.recorded++;
      this.recorded++;
      return true;
    }
    if (entry) entry.suppressed++;
    this.suppressed++;
    this.armTimer(now);
    return false;
  }

  /** Ends the current window now, reporting what it suppressed (shutdown, tests). */
  flush(): void {
    this.roll(Date.now());
  }

  private roll(now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.suppressed > 0) {
      let topAddress = '';
      let topCount = 0;
      for (const [address, count] of this.addresses) {
        if (count.suppressed > topCount) [topAddress, topCount] = [address, count.suppressed];
      }
      const summary = { count: this.suppressed, from: this.windowStart, to: now, topAddress, topCount };
      try {
        this.onSuppressed({ ...summary, limits: this.limits });
      } catch {
        // The summary is best effort; the limiter's own state must stay consistent.
      }
    }
    this.windowStart = now;
    this.recorded = 0;
    this.suppressed = 0;
    this.addresses.clear();
  }

  private armTimer(now: number): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.roll(Date.now());
      },
      this.windowStart + this.limits.windowMs - now,
    );
    this.timer.unref();
  }
}
