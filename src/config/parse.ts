/**
 * Parsers for the value formats of the environment variables. Each takes the
 * variable name so that a bad value becomes a ConfigError naming it.
 */
import { isIPv6 } from 'node:net';
import { ConfigError, shown } from './errors.js';
import { label, type VariableName } from './variables.js';

export interface BindAddress {
  readonly host: string;
  readonly port: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// Hostname or IPv4 literal; anything else (spaces, slashes, a scheme) is a typo.
const HOST_NAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

/** `host:port` or `[ipv6]:port`; the port may be 0 (the OS picks one, used by tests). */
export function parseBindAddress(name: VariableName, value: string): BindAddress {
  const text = value.trim();
  const fail = (why: string): never => {
    throw new ConfigError(`${label(name)}: ${why}, got ${shown(value)}`, name);
  };
  let host: string;
  let portText: string;
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2] ?? '';
    if (!isIPv6(host)) fail('expected an IPv6 address inside the brackets');
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) fail('expected host:port (e.g. 127.0.0.1:5434)');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) fail('write IPv6 addresses in brackets, e.g. [::1]:5434');
    if (!HOST_NAME.test(host)) fail('expected host:port with a host name or IP address');
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535)
    fail('port must be an integer from 0 to 65535');
  return { host, port: Number(portText) };
}

/** Inverse of parseBindAddress, for messages: IPv6 hosts get their brackets back. */
export function formatBindAddress(addr: BindAddress): string {
  return addr.host.includes(':') ? `[${addr.host}]:${addr.port}` : `${addr.host}:${addr.port}`;
}

/** A whole number in [min, max]; `what` completes "must be …" in the error. */
export function parseWholeNumber(
  name: VariableName,
  value: string,
  min: number,
  max: number,
  what: string,
): number {
  const text = value.trim();
  // Digits only: Number() would also accept '1e3', '0x10' and ' ', which nobody means.
  if (/^\d{1,10}$/.test(text)) {
    const n = Number(text);
    if (n >= min && n <= max) return n;
  }
  throw new ConfigError(`${label(name)}: must be ${what}, got ${shown(value)}`, name);
}

const TRUE_WORDS = new Set(['true', '1', 'yes', 'on']);
const FALSE_WORDS = new Set(['false', '0', 'no', 'off']);

export function parseBoolean(name: VariableName, value: string): boolean {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw new ConfigError(
    `${label(name)}: must be true/false, 1/0, yes/no or on/off, got ${shown(value)}`,
    name,
  );
}

export function parseLogLevel(name: VariableName, value: string): LogLevel {
  const word = value.trim().toLowerCase();
  const level = LOG_LEVELS.find((l) => l === word);
  if (level !== undefined) return level;
  throw new ConfigError(`${label(name)}: must be one of ${LOG_LEVELS.join(', ')}, got ${shown(value)}`, name);
}

const RUST_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

/**
 * Best effort over a BetweenRows-style `RUST_LOG` filter. Only plain levels
 * map onto our single logger level; the last one wins, as in env_logger.
 * Never fails: a foreign filter must not stop a migrated deployment.
 */
export function parseRustLog(value: string): { level: LogLevel; warning: string | undefined } {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.length === 0) return { level: 'info', warning: undefined };
  const plain = parts.map((p) => RUST_LEVELS.find((l) => l === p.toLowerCase()));
  const ignored = parts.filter((_, i) => plain[i] === undefined);
  const level = plain.filter((l) => l !== undefined).at(-1);
  if (ignored.length === 0 && level !== undefined) return { level, warning: undefined };
  const using = level ?? 'info';
  return {
    level: using,
    warning: `RUST_LOG: ignoring ${ignored.map((p) => shown(p)).join(', ')} (only plain levels are supported); using log level ${using}, set ROWGATE_LOG_LEVEL to choose`,
  };
}

/**
 * Comma-separated CORS origins, normalised to the form browsers send in the
 * `Origin` header (lower-case host, default port omitted) so that matching
 * is a plain string comparison. Bad entries become warnings, not errors, as
 * in BetweenRows — but they are reported instead of silently dropped.
 */
export function parseOrigins(name: VariableName, value: string): { origins: string[]; warnings: string[] } {
  const origins: string[] = [];
  const warnings: string[] = [];
  for (const entry of value.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const why = originProblem(entry);
    if (typeof why === 'string') {
      warnings.push(`${label(name)}: ignoring ${shown(entry)}: ${why}`);
    } else if (!origins.includes(why.origin)) {
      origins.push(why.origin);
    }
  }
  return { origins, warnings };
}

function originProblem(entry: string): string | { origin: string } {
  // With credentials allowed, a wildcard would let any site act as the logged-in admin.
  if (entry.includes('*')) return 'wildcards are not supported, list each origin';
  let url: URL;
  try {
    url = new URL(entry);
  } catch {
    return 'not a URL, expected scheme://host[:port]';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'scheme must be http or https';
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(entry)) return 'expected scheme://host[:port]';
  if (url.username !== '' || url.password !== '') return 'an origin has no user name or password';
  // A lone trailing slash is harmless and common when pasting from the address bar.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(entry)) {
    return 'an origin has no path, query or fragment';
  }
  return { origin: url.origin };
}
