/**
 * Parse-time work of the extended protocol (extended.ts): one statement
 * rewritten for the session's policy set under the session settings' search
 * path, and what the session keeps about it — the upstream text, or the
 * statement the proxy answers itself (SHOW / SET / RESET, extended-local.ts).
 */
import type { PolicyRef, SessionPolicySet } from '../policy/session.js';
import type { Classification } from '../sql/classify.js';
import { PgError } from '../sql/errors.js';
import { classifierGate, rewrite, type RewrittenStatement } from '../sql/rewrite.js';
import type { SessionSettings } from '../sql/settings.js';
import { isLocalKind, type LocalClassification, type LocalStatement } from './extended-local.js';
import { rewriteCachesFor } from './rewrite-caches.js';

const gate = classifierGate();

export interface Prepared {
  original: string;
  rewritten: string;
  fingerprint: string;
  policies: PolicyRef[];
  paramTypes: number[];
  classification?: Classification | undefined;
  /** Answered by the proxy (SHOW / SET / RESET). */
  local?: LocalStatement;
}

export interface PrepareContext {
  policy: SessionPolicySet;
  dataSourceId: string;
  settings: SessionSettings;
  backendPid: number | null;
}

/** The one statement of `text` (none for an empty query); throws PgError. */
async function rewriteOne(ctx: PrepareContext, text: string): Promise<RewrittenStatement | undefined> {
  const { settings } = ctx;
  const r = await rewrite(
    text,
    ctx.policy,
    { searchPath: settings.searchPath(), settings, backendPid: ctx.backendPid },
    { gate, ...rewriteCachesFor(ctx.dataSourceId) },
  );
  if (r.statements.length > 1)
    throw new PgError('42601', 'cannot insert multiple commands into a prepared statement');
  return r.statements[0];
}

export async function prepareStatement(
  ctx: PrepareContext,
  text: string,
  paramTypes: number[],
): Promise<Prepared> {
  const s = await rewriteOne(ctx, text);
  const base = { original: text, fingerprint: ctx.policy.fingerprint, paramTypes };
  // No statement at all (empty, only comments): upstream answers EmptyQueryResponse.
  if (!s) return { ...base, rewritten: text, policies: [] };
  if (s.rewrittenSql === null) {
    if (!isLocalKind(s.classification)) throw new PgError('XX000', 'internal error');
    const local = { text, commandTag: s.commandTag, classification: s.classification, paramTypes };
    return { ...base, rewritten: text, policies: [], classification: s.classification, local };
  }
  return {
    ...base,
    rewritten: s.rewrittenSql,
    policies: s.policiesApplied,
    classification: s.classification,
  };
}

/** SHOW / SET / RESET classified again under the current settings (at Execute). */
export async function classifyLocal(ctx: PrepareContext, text: string): Promise<LocalClassification> {
  const c = (await rewriteOne(ctx, text))?.classification;
  if (!isLocalKind(c)) throw new PgError('XX000', 'internal error');
  return c;
}
