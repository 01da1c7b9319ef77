import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretCipher } from '../../src/secrets/cipher.js';
import { auditedTransaction, type AuditedTx } from '../../src/store/audited.js';
import { newId } from '../../src/store/ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../../src/store/repo-errors.js';
import {
  createDecisionFunction,
  deleteDecisionFunction,
  getDecisionFunction,
  getDecisionFunctionSource,
  listDecisionFunctions,
  updateDecisionFunction,
  type NewDecisionFunction,
} from '../../src/store/repos/decision-functions.js';
import { createPolicy, updatePolicy } from '../../src/store/repos/policies.js';
import type { Database } from '../../src/store/schema.js';
import { STORE_ENGINES, openTestStore, type TestStore } from '../support/stores.js';

const cipher = new SecretCipher(randomBytes(32));
const ADMIN = '0196f0c2-8a1e-7c3a-9d2b-5b1f7e0a1c11';
const SOURCE =
  'function evaluate(ctx, config) { return { fire: ctx.session.user.username === "mallory-marker" }; }';
const SOURCE_2 = 'function evaluate() { return { fire: "second-source-marker" === "" }; }';
const fn = (name: string, extra: Partial<NewDecisionFunction> = {}): NewDecisionFunction => ({
  name,
  decision_fn: SOURCE,
  evaluate_context: 'session',
  ...extra,
});

describe.each(STORE_ENGINES)('decision functions on %s', (engine) => {
  let t: TestStore;
  let db: Kysely<Database>;
  const tx = <T>(work: (tx: AuditedTx) => Promise<T>) => auditedTransaction(t.store, ADMIN, work);
  const auditDump = async () => JSON.stringify(await db.selectFrom('admin_audit_log').selectAll().execute());

  beforeEach(async () => {
    t = await openTestStore(engine);
    db = t.store.db;
  });
  afterEach(async () => t.dispose());

  it('creates with defaults, encrypts the source at rest and never audits it', async () => {
    const created = await tx((x) =>
      createDecisionFunction(x, cipher, fn('gate', { description: 'd', decision_config: { threshold: 3 } })),
    );
    expect(created).toMatchObject({
      name: 'gate',
      description: 'd',
      language: 'javascript',
      decision_fn: SOURCE,
      decision_config: { threshold: 3 },
      evaluate_context: 'session',
      on_error: 'deny',
      log_level: 'off',
      is_enabled: true,
      version: 1,
      policy_count: 0,
      created_by: ADMIN,
      updated_by: ADMIN,
    });
    const row = await db
      .selectFrom('decision_function')
      .selectAll()
      .where('id', '=', created.id)
      .executeTakeFirstOrThrow();
    expect(row.decision_fn).not.toContain('mallory-marker');
    expect(row.decision_fn).not.toContain('evaluate');
    expect(cipher.decrypt(row.decision_fn)).toBe(SOURCE);

    const audit = await db.selectFrom('admin_audit_log').selectAll().executeTakeFirstOrThrow();
    expect(audit).toMatchObject({
      resource_type: 'decision_function',
      resource_id: created.id,
      action: 'create',
    });
    expect(JSON.parse(audit.changes ?? '')).toEqual({
      after: {
        name: 'gate',
        description: 'd',
        language: 'javascript',
        evaluate_context: 'session',
        on_error: 'deny',
        log_level: 'off',
        is_enabled: true,
        decision_config: { threshold: 3 },
      },
    });
    expect(await auditDump()).not.toContain('mallory-marker');

    expect(await getDecisionFunctionSource(db, cipher, created.id)).toEqual({
      id: created.id,
      name: 'gate',
      version: 1,
      source: SOURCE,
      decision_config: { threshold: 3 },
      evaluate_context: 'session',
      on_error: 'deny',
      log_level: 'off',
      is_enabled: true,
    });
    const wrongKey = new SecretCipher(randomBytes(32));
    await expect(getDecisionFunction(db, wrongKey, created.id)).rejects.toThrow(/cannot decrypt/);
    await expect(getDecisionFunctionSource(db, wrongKey, created.id)).rejects.toThrow(/cannot decrypt/);
  });

  it.each([
    [
      { language: 'python' },
      'language',
      "language must be 'javascript' (got 'python'). Other languages are not yet supported.",
    ],
    [{ decision_fn: '  \n ' }, 'decision_fn', 'decision_fn must not be empty'],
    [
      { evaluate_context: 'connect' },
      'evaluate_context',
      "evaluate_context must be 'session' or 'query', got 'connect'",
    ],
    [{ on_error: 'allow' }, 'on_error', "on_error must be 'deny' or 'skip', got 'allow'"],
    [{ log_level: 'debug' }, 'log_level', "log_level must be 'off', 'error', or 'info', got 'debug'"],
    [{ name: 'bad/name' }, 'name', 'Policy name contains invalid characters'],
    [
      { language: 'python', decision_fn: '' },
      'language',
      "language must be 'javascript' (got 'python'). Other languages are not yet supported.",
    ],
    [{ decision_fn: '', on_error: 'x' }, 'decision_fn', 'decision_fn must not be empty'],
  ])('rejects %j (first failure wins)', async (override, field, message) => {
    const error = await tx((x) => createDecisionFunction(x, cipher, fn('f', override))).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvalidError);
    expect(error).toMatchObject({ field, message });
    expect(await db.selectFrom('decision_function').select('id').execute()).toHaveLength(0);
  });

  it('runs the compile hook after the field rule and refuses duplicates', async () => {
    const compiled: string[] = [];
    const compile = (source: string) => {
      compiled.push(source);
      if (source.includes('syntax error'))
        throw new InvalidError('decision_fn', 'JS compilation failed: boom');
    };
    await tx((x) => createDecisionFunction(x, cipher, fn('ok'), { compile }));
    await expect(
      tx((x) => createDecisionFunction(x, cipher, fn('bad', { decision_fn: 'syntax error' }), { compile })),
    ).rejects.toThrow('JS compilation failed: boom');
    await expect(
      tx((x) =>
        createDecisionFunction(x, cipher, fn('bad', { on_error: 'x', decision_fn: 'syntax error' }), {
          compile,
        }),
      ),
    ).rejects.toThrow("on_error must be 'deny' or 'skip', got 'x'");
    expect(compiled).toEqual([SOURCE, 'syntax error']);
    await expect(tx((x) => createDecisionFunction(x, cipher, fn('ok')))).rejects.toThrow(
      new ConflictError('Decision function name already exists'),
    );
  });

  it('updates with a version check first, bumps every time and flags code/config changes', async () => {
    const f = await tx((x) => createDecisionFunction(x, cipher, fn('gate', { decision_config: { a: 1 } })));
    await expect(
      tx((x) => updateDecisionFunction(x, cipher, f.id, { version: 7, name: ' bad' })),
    ).rejects.toThrow(new ConflictError('Version conflict: expected 1, got 7'));
    await expect(tx((x) => updateDecisionFunction(x, cipher, newId(), { version: 1 }))).rejects.toThrow(
      new NotFoundError('Decision function not found'),
    );
    expect((await tx((x) => updateDecisionFunction(x, cipher, f.id, { version: 1 }))).version).toBe(2);

    const compiled: string[] = [];
    const updated = await tx((x) =>
      updateDecisionFunction(
        x,
        cipher,
        f.id,
        { version: 2, decision_fn: SOURCE_2, on_error: 'skip', is_enabled: false, description: null },
        { compile: (s) => void compiled.push(s) },
      ),
    );
    expect(compiled).toEqual([SOURCE_2]);
    expect(updated).toMatchObject({
      version: 3,
      decision_fn: SOURCE_2,
      on_error: 'skip',
      is_enabled: false,
      description: null,
      decision_config: { a: 1 }, // absent = kept
    });
    const cleared = await tx((x) =>
      updateDecisionFunction(x, cipher, f.id, { version: 3, decision_config: null }),
    );
    expect(cleared.decision_config).toBeNull();

    const updates = await db
      .selectFrom('admin_audit_log')
      .select('changes')
      .where('action', '=', 'update')
      .orderBy('created_at')
      .execute();
    expect(updates.map((u) => JSON.parse(u.changes ?? ''))).toEqual([
      { before: { version: 1 }, after: { version: 2 } },
      {
        before: { on_error: 'deny', is_enabled: true, version: 2 },
        after: { on_error: 'skip', is_enabled: false, version: 3, code_changed: true },
      },
      { before: { version: 3 }, after: { version: 4, config_changed: true } },
    ]);
    const dump = await auditDump();
    expect(dump).not.toContain('second-source-marker');
    expect(dump).not.toContain('mallory-marker');
    const row = await db.selectFrom('decision_function').select('decision_fn').executeTakeFirstOrThrow();
    expect(row.decision_fn).not.toContain('second-source-marker');

    await expect(
      tx((x) => updateDecisionFunction(x, cipher, f.id, { version: 4, evaluate_context: 'never' })),
    ).rejects.toThrow("evaluate_context must be 'session' or 'query', got 'never'");
    await expect(
      tx((x) => updateDecisionFunction(x, cipher, f.id, { version: 4, decision_fn: ' ' })),
    ).rejects.toThrow('decision_fn must not be empty');
  });

  it('refuses deletion while policies reference it, with singular and plural messages', async () => {
    const f = await tx((x) => createDecisionFunction(x, cipher, fn('gate')));
    const targets = [{ schemas: ['*'], tables: ['*'] }];
    const p1 = await tx((x) =>
      createPolicy(x, { name: 'p1', policy_type: 'table_deny', targets, decision_function_id: f.id }),
    );
    expect((await getDecisionFunction(db, cipher, f.id)).policy_count).toBe(1);
    await expect(tx((x) => deleteDecisionFunction(x, f.id))).rejects.toThrow(
      new ConflictError('Cannot delete: 1 policy still reference this decision function. Detach them first.'),
    );
    const p2 = await tx((x) =>
      createPolicy(x, { name: 'p2', policy_type: 'table_deny', targets, decision_function_id: f.id }),
    );
    await expect(tx((x) => deleteDecisionFunction(x, f.id))).rejects.toThrow(
      'Cannot delete: 2 policies still reference this decision function. Detach them first.',
    );
    await tx((x) => updatePolicy(x, p1.id, { version: 1, decision_function_id: null }));
    await tx((x) => updatePolicy(x, p2.id, { version: 1, decision_function_id: null }));
    await tx((x) => deleteDecisionFunction(x, f.id));
    await expect(getDecisionFunction(db, cipher, f.id)).rejects.toThrow(NotFoundError);
    const audit = await db
      .selectFrom('admin_audit_log')
      .selectAll()
      .where('action', '=', 'delete')
      .executeTakeFirstOrThrow();
    expect(JSON.parse(audit.changes ?? '')).toEqual({
      before: {
        name: 'gate',
        description: null,
        language: 'javascript',
        evaluate_context: 'session',
        on_error: 'deny',
        log_level: 'off',
        is_enabled: true,
      },
    });
    await expect(tx((x) => deleteDecisionFunction(x, f.id))).rejects.toThrow('Decision function not found');
  });

  it('lists by name with page_size clamped to 1..100 and search', async () => {
    for (const name of ['zeta', 'Alpha', 'mid']) await tx((x) => createDecisionFunction(x, cipher, fn(name)));
    const all = await listDecisionFunctions(db, cipher);
    expect(all).toMatchObject({ total: 3, page: 1, page_size: 20 });
    expect(all.data.map((f) => f.name)).toEqual(['Alpha', 'mid', 'zeta']);
    expect(all.data[0]?.decision_fn).toBe(SOURCE);
    const zero = await listDecisionFunctions(db, cipher, { pageSize: 0 });
    expect(zero.page_size).toBe(1);
    expect(zero.data.map((f) => f.name)).toEqual(['Alpha']);
    expect((await listDecisionFunctions(db, cipher, { pageSize: 200 })).page_size).toBe(100);
    expect(
      (await listDecisionFunctions(db, cipher, { page: 2, pageSize: 2 })).data.map((f) => f.name),
    ).toEqual(['zeta']);
    const search = await listDecisionFunctions(db, cipher, { search: 'ALP' });
    expect(search).toMatchObject({ total: 1 });
    expect(search.data.map((f) => f.name)).toEqual(['Alpha']);
  });
});
