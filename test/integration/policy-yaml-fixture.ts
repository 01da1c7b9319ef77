/**
 * Shared fixture of the policy YAML tests: the named entities a document can
 * refer to (data sources `prod` and `staging`, users `alice` and `bob`, role
 * `analysts`, decision function `business-hours`), created through the
 * repositories, plus small read helpers.
 */
import { randomBytes } from 'node:crypto';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import type { Store } from '../../src/store/db.js';
import { createDataSource } from '../../src/store/repos/datasources.js';
import { createDecisionFunction } from '../../src/store/repos/decision-functions.js';
import { createRole } from '../../src/store/repos/roles.js';
import { createUser } from '../../src/store/repos/users.js';

export const ADMIN = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const cipher = new SecretCipher(randomBytes(32));

export interface Named {
  prod: string;
  staging: string;
  alice: string;
  bob: string;
  analysts: string;
  businessHours: string;
}

export const inTx = <T>(store: Store, work: (tx: AuditedTx) => Promise<T>) =>
  auditedTransaction(store, ADMIN, work);

export async function seedNamedEntities(store: Store): Promise<Named> {
  return inTx(store, async (tx) => {
    const config = { host: 'h', port: 5432, database: 'd', username: 'u', password: 'pw' };
    const dataSource = (name: string) =>
      createDataSource(tx, cipher, { name, ds_type: 'postgres', config, grantCreator: false });
    const prod = await dataSource('prod');
    const staging = await dataSource('staging');
    const alice = await createUser(tx, { username: 'alice', password: 'Secret-123' });
    const bob = await createUser(tx, { username: 'bob', password: 'Secret-123' });
    const analysts = await createRole(tx, { name: 'analysts' });
    const fn = await createDecisionFunction(tx, cipher, {
      name: 'business-hours',
      decision_fn: 'function evaluate() { return { fire: true }; }',
      evaluate_context: 'session',
    });
    return {
      prod: prod.id,
      staging: staging.id,
      alice: alice.id,
      bob: bob.id,
      analysts: analysts.id,
      businessHours: fn.id,
    };
  });
}

/** Row counts of everything an import may write. */
export async function writeCounts(store: Store): Promise<Record<string, number>> {
  const tables = ['policy', 'policy_assignment', 'policy_version', 'admin_audit_log'] as const;
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const rows = await store.db.selectFrom(table).select('id').execute();
    counts[table] = rows.length;
  }
  return counts;
}

/** Admin audit rows written after `since` rows existed, oldest first, `changes` parsed. */
export async function auditSince(store: Store, since: number) {
  const rows = await store.db
    .selectFrom('admin_audit_log')
    .selectAll()
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.slice(since).map((r) => ({
    resource_type: r.resource_type,
    resource_id: r.resource_id,
    action: r.action,
    actor_id: r.actor_id,
    changes: r.changes === null ? null : (JSON.parse(r.changes) as Record<string, unknown>),
  }));
}
