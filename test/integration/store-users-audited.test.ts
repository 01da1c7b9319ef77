/** The audited transaction itself (src/store/audited.ts), exercised through the users repository. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  auditedTransaction,
  MissingAuditError,
  onCommitted,
  type CommittedChange,
} from '../../src/store/audited.js';
import type { Store } from '../../src/store/db.js';
import { SYSTEM_ACTOR_ID } from '../../src/store/ids.js';
import { countUsers, createUser } from '../../src/store/repos/users.js';
import { nowTimestamp } from '../../src/store/time.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const auditCount = async (store: Store) =>
  (await store.db.selectFrom('admin_audit_log').select('id').execute()).length;

describe.each(STORE_ENGINES)('audited transaction on %s', (engine) => {
  let current: TestStore;
  let store: Store;
  beforeEach(async () => {
    current = await openTestStore(engine);
    store = current.store;
  });
  afterEach(() => current.dispose());

  it('rolls back a write that queued no audit row, with MissingAuditError', async () => {
    const now = nowTimestamp();
    await expect(
      auditedTransaction(store, SYSTEM_ACTOR_ID, async (tx) => {
        await tx.db
          .insertInto('role')
          .values({ id: 'r1', name: 'silent', description: null, created_at: now, updated_at: now })
          .execute();
      }),
    ).rejects.toBeInstanceOf(MissingAuditError);
    expect(await store.db.selectFrom('role').select('id').execute()).toEqual([]);
    expect(await auditCount(store)).toBe(0);
  });

  it('rolls back the row and its queued audit entry when the work throws after writing', async () => {
    const changes: CommittedChange[] = [];
    const stop = onCommitted(store, (c) => void changes.push(c));
    await expect(
      auditedTransaction(store, SYSTEM_ACTOR_ID, async (tx) => {
        await createUser(tx, { username: 'ghost', password: 'Demo1234!' });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await countUsers(store.db)).toBe(0);
    expect(await auditCount(store)).toBe(0);
    expect(changes).toEqual([]);

    await auditedTransaction(store, 'actor-1', (tx) =>
      createUser(tx, { username: 'real', password: 'Demo1234!' }),
    );
    stop();
    expect(await countUsers(store.db)).toBe(1);
    expect(await auditCount(store)).toBe(1);
    expect(changes).toMatchObject([
      { actorId: 'actor-1', entries: [{ resourceType: 'proxy_user', action: 'create' }] },
    ]);
  });
});
