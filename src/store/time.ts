/**
 * Timestamps of the admin store: UTC, fixed width with microseconds
 * (`2026-04-26T10:20:30.123456`), so that text order is time order on both
 * engines. `toApiTimestamp` gives the API form (api-contract §1.8): no zone,
 * the fraction only when non-zero, in the shortest exact width of 3 or 6.
 */

let lastMicros = 0;

/** Microseconds since the epoch, strictly increasing within this process. */
function nowMicros(): number {
  const micros = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  lastMicros = micros > lastMicros ? micros : lastMicros + 1;
  return lastMicros;
}

export function formatTimestamp(micros: number): string {
  const base = new Date(Math.floor(micros / 1000)).toISOString().slice(0, 19);
  const fraction = String(micros % 1_000_000).padStart(6, '0');
  return `${base}.${fraction}`;
}

/** The current time as a store timestamp. */
export function nowTimestamp(): string {
  return formatTimestamp(nowMicros());
}

/** Converts a JS date to a store timestamp (millisecond precision). */
export function dateToTimestamp(date: Date): string {
  return formatTimestamp(date.getTime() * 1000);
}

export function toApiTimestamp(stored: string): string {
  const [base, fraction = ''] = stored.split('.');
  const digits = fraction.replace(/0+$/, '');
  if (digits.length === 0) return base ?? stored;
  return `${base}.${digits.length <= 3 ? digits.padEnd(3, '0') : digits.padEnd(6, '0')}`;
}
