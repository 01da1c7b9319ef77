/**
 * The NOTIFY payload of the change feed (change-feed.ts): which replica
 * published it and what changed, as compact JSON.
 *
 * PostgreSQL rejects payloads of 8000 bytes or more (in the server encoding;
 * the admin database is UTF-8). A change too big for one payload — a policy
 * YAML import touching hundreds of rows — is sent as "resync everything"
 * instead: receivers then treat every cached policy set as stale, which is
 * always correct, only less precise. A payload we cannot read (another
 * version, a stray `NOTIFY` by hand) decodes as a resync for the same reason.
 */

export interface ChangeEntry {
  /** Admin audit resource type, e.g. `policy`, `proxy_user`, `datasource`. */
  resourceType: string;
  resourceId: string;
  action: string;
}

export interface DecodedChange {
  /** The publishing feed's id; null when the payload could not be read. */
  source: string | null;
  /** True: anything may have changed, `entries` is empty. */
  resync: boolean;
  entries: ChangeEntry[];
}

/** Strictly below PostgreSQL's 8000-byte limit, with room to spare. */
export const MAX_PAYLOAD_BYTES = 7900;

const VERSION = 1;

interface Payload {
  v: number;
  src: string;
  resync?: true;
  /** [resourceType, resourceId, action] triples. */
  e?: [string, string, string][];
}

/** One payload for these entries (duplicates dropped), or a resync payload when too big. */
export function encodeChange(source: string, entries: readonly ChangeEntry[]): string {
  const seen = new Set<string>();
  const triples: [string, string, string][] = [];
  for (const { resourceType, resourceId, action } of entries) {
    const triple: [string, string, string] = [resourceType, resourceId, action];
    const key = JSON.stringify(triple);
    if (seen.has(key)) continue;
    seen.add(key);
    triples.push(triple);
  }
  const full = JSON.stringify({ v: VERSION, src: source, e: triples } satisfies Payload);
  if (Buffer.byteLength(full, 'utf8') <= MAX_PAYLOAD_BYTES) return full;
  return encodeResync(source);
}

export function encodeResync(source: string): string {
  return JSON.stringify({ v: VERSION, src: source, resync: true } satisfies Payload);
}

export function decodeChange(text: string): DecodedChange {
  const unreadable: DecodedChange = { source: null, resync: true, entries: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return unreadable;
  }
  if (typeof parsed !== 'object' || parsed === null) return unreadable;
  const payload = parsed as Partial<Payload>;
  if (payload.v !== VERSION || typeof payload.src !== 'string') return unreadable;
  if (payload.resync === true) return { source: payload.src, resync: true, entries: [] };
  if (!Array.isArray(payload.e)) return { ...unreadable, source: payload.src };
  const entries: ChangeEntry[] = [];
  for (const triple of payload.e as unknown[]) {
    const [resourceType, resourceId, action] = Array.isArray(triple) ? (triple as unknown[]) : [];
    if (
      !Array.isArray(triple) ||
      triple.length !== 3 ||
      typeof resourceType !== 'string' ||
      typeof resourceId !== 'string' ||
      typeof action !== 'string'
    ) {
      return { ...unreadable, source: payload.src };
    }
    entries.push({ resourceType, resourceId, action });
  }
  return { source: payload.src, resync: false, entries };
}
