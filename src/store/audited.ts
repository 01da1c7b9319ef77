/**
 * The audited transaction: a mutation of the admin store and its
 * admin_audit_log rows commit together, by construction.
 *
 * Repositories take an `AuditedTx` for every write. The only way to get one
 * is `auditedTransaction`, which inserts the queued audit rows inside the same
 * database transaction just before commit, and rolls the whole transaction
 * back when the work queued none — a mutation without its audit row cannot
 * commit. Listeners registered with `onCommitted` learn what changed only
 * after the commit succeeded (the change bus of the management plane).
 */
import type { Kysely, Transaction } from 'kysely';
import type { Store } from './db.js';
import { newId } from './ids.js';
import type { Database } from './schema.js';
import { nowTimestamp } from './time.js';

export interface AuditEntry {
  resourceType: string;
  resourceId: string;
  action: string;
  /** JSON-serialisable; never a secret (callers replace secrets with flags). */
  changes: unknown;
}

export interface AuditedTx {
  /** The open transaction; use it for every statement of the mutation. */
  readonly db: Transaction<Database>;
  readonly actorId: string;
  /** Queues an audit row; it is inserted in this transaction before commit. */
  audit(entry: AuditEntry): void;
}

export interface CommittedChange {
  actorId: string;
  entries: readonly AuditEntry[];
}

export class MissingAuditError extends Error {
  constructor() {
    super('audited transaction queued no admin audit row; rolled back');
    this.name = 'MissingAuditError';
  }
}

type CommitListener = (change: CommittedChange) => void;
const listeners = new WeakMap<Kysely<Database>, Set<CommitListener>>();

/** Subscribes to committed audited transactions of this store; returns the unsubscribe function. */
export function onCommitted(store: Store, listener: CommitListener): () => void {
  let set = listeners.get(store.db);
  if (!set) listeners.set(store.db, (set = new Set()));
  set.add(listener);
  return () => set.delete(listener);
}

export async function auditedTransaction<T>(
  store: Store,
  actorId: string,
  work: (tx: AuditedTx) => Promise<T>,
): Promise<T> {
  const entries: AuditEntry[] = [];
  const result = await store.db.transaction().execute(async (trx) => {
    const value = await work({ db: trx, actorId, audit: (entry) => void entries.push(entry) });
    if (entries.length === 0) throw new MissingAuditError();
    await trx
      .insertInto('admin_audit_log')
      .values(
        entries.map((e) => ({
          id: newId(),
          resource_type: e.resourceType,
          resource_id: e.resourceId,
          action: e.action,
          actor_id: actorId,
          changes: e.changes === undefined || e.changes === null ? null : JSON.stringify(e.changes),
          created_at: nowTimestamp(),
        })),
      )
      .execute();
    return value;
  });
  const change: CommittedChange = { actorId, entries };
  for (const listener of listeners.get(store.db) ?? []) {
    try {
      listener(change);
    } catch {
      // A failing listener must not turn a committed change into an error for the caller.
    }
  }
  return result;
}
