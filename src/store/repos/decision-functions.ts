/**
 * Decision functions (api-contract §3.5, §4.12, §5.10).
 *
 * The JavaScript source is encrypted at rest with the data-source secret key
 * (design §4; BR stores it in clear). It is decrypted for the API (which
 * returns it in full) and for the sandbox, and never written to the audit
 * log: updates record `code_changed: true` instead. Compilation lives in the
 * sandbox module and plugs in through `compile`, at the contract's step.
 */
import type { SecretCipher } from '../../secrets/cipher.js';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { newId } from '../ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../repo-errors.js';
import { nowTimestamp } from '../time.js';
import { countAll, fromFlag, jsonTextOrNull, toCount, toFlag } from '../values.js';
import {
  DECISION_FUNCTION_NOT_FOUND,
  getDecisionFunction,
  type DecisionFunction,
} from './decision-function-read.js';
import { validatePolicyName } from './policies.js';

export {
  DECISION_FUNCTION_NOT_FOUND,
  getDecisionFunction,
  getDecisionFunctionSource,
  listDecisionFunctions,
} from './decision-function-read.js';
export type { DecisionFunction, DecisionFunctionSource } from './decision-function-read.js';

export interface NewDecisionFunction {
  name: string;
  description?: string | null;
  language?: string | null;
  decision_fn: string;
  decision_config?: unknown;
  evaluate_context: string;
  on_error?: string | null;
  log_level?: string | null;
}

/** PUT body: `null` = unchanged, except `decision_config` (undefined keep, null clear). */
export interface DecisionFunctionPatch {
  version: number;
  name?: string | null;
  description?: string | null;
  language?: string | null;
  decision_fn?: string | null;
  decision_config?: unknown;
  evaluate_context?: string | null;
  on_error?: string | null;
  log_level?: string | null;
  is_enabled?: boolean | null;
}

/** Throws InvalidError(`JS compilation failed: …`) when the source does not compile. */
export type SourceCompiler = (source: string) => void | Promise<void>;

const NOT_FOUND = DECISION_FUNCTION_NOT_FOUND;
const NAME_TAKEN = 'Decision function name already exists';
/** The non-secret fields the audit log records (§4.12). */
const AUDITED = [
  'name',
  'description',
  'language',
  'evaluate_context',
  'on_error',
  'log_level',
  'is_enabled',
] as const;

interface Fields {
  language: string;
  evaluate_context: string;
  on_error: string;
  log_level: string;
}

/** The field rule, first failure wins, in the contract's order; `source` only when it is being set. */
function checkFields(f: Fields, source: string | undefined): void {
  if (f.language !== 'javascript') {
    throw new InvalidError(
      'language',
      `language must be 'javascript' (got '${f.language}'). Other languages are not yet supported.`,
    );
  }
  if (source !== undefined && source.trim() === '') {
    throw new InvalidError('decision_fn', 'decision_fn must not be empty');
  }
  if (f.evaluate_context !== 'session' && f.evaluate_context !== 'query') {
    throw new InvalidError(
      'evaluate_context',
      `evaluate_context must be 'session' or 'query', got '${f.evaluate_context}'`,
    );
  }
  if (f.on_error !== 'deny' && f.on_error !== 'skip') {
    throw new InvalidError('on_error', `on_error must be 'deny' or 'skip', got '${f.on_error}'`);
  }
  if (!['off', 'error', 'info'].includes(f.log_level)) {
    throw new InvalidError('log_level', `log_level must be 'off', 'error', or 'info', got '${f.log_level}'`);
  }
}

function rethrowUnique(error: unknown): never {
  if (isUniqueViolation(error)) throw new ConflictError(NAME_TAKEN);
  throw error;
}

export async function createDecisionFunction(
  tx: AuditedTx,
  cipher: SecretCipher,
  input: NewDecisionFunction,
  options: { compile?: SourceCompiler } = {},
): Promise<DecisionFunction> {
  validatePolicyName(input.name);
  const fields = {
    language: input.language ?? 'javascript',
    evaluate_context: input.evaluate_context,
    on_error: input.on_error ?? 'deny',
    log_level: input.log_level ?? 'off',
  };
  checkFields(fields, input.decision_fn);
  await options.compile?.(input.decision_fn);
  const now = nowTimestamp();
  const id = newId();
  await tx.db
    .insertInto('decision_function')
    .values({
      id,
      name: input.name,
      description: input.description ?? null,
      ...fields,
      decision_fn: cipher.encrypt(input.decision_fn),
      decision_config: jsonTextOrNull(input.decision_config),
      is_enabled: 1,
      version: 1,
      created_by: tx.actorId,
      updated_by: tx.actorId,
      created_at: now,
      updated_at: now,
    })
    .execute()
    .catch(rethrowUnique);
  const created = await getDecisionFunction(tx.db, cipher, id);
  const after: Record<string, unknown> = Object.fromEntries(AUDITED.map((k) => [k, created[k]]));
  // Quirk Q5: BR logs decision_config as JSON text; we log the parsed value.
  after.decision_config = created.decision_config;
  tx.audit({ resourceType: 'decision_function', resourceId: id, action: 'create', changes: { after } });
  return created;
}

/** PUT: 404 → version (409) → name → field rule on final values → compile (if source sent) → unique. */
export async function updateDecisionFunction(
  tx: AuditedTx,
  cipher: SecretCipher,
  id: string,
  patch: DecisionFunctionPatch,
  options: { compile?: SourceCompiler } = {},
): Promise<DecisionFunction> {
  const stored = await tx.db
    .selectFrom('decision_function')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!stored) throw new NotFoundError(NOT_FOUND);
  const conflict = (current: number) =>
    new ConflictError(`Version conflict: expected ${current}, got ${patch.version}`);
  if (patch.version !== stored.version) throw conflict(stored.version);
  if (patch.name != null) validatePolicyName(patch.name);
  const final = {
    language: patch.language ?? stored.language,
    evaluate_context: patch.evaluate_context ?? stored.evaluate_context,
    on_error: patch.on_error ?? stored.on_error,
    log_level: patch.log_level ?? stored.log_level,
  };
  const source = patch.decision_fn ?? undefined;
  checkFields(final, source);
  if (source !== undefined) await options.compile?.(source);

  const result = await tx.db
    .updateTable('decision_function')
    .set({
      ...final,
      name: patch.name ?? stored.name,
      description: patch.description ?? stored.description,
      decision_fn: source === undefined ? stored.decision_fn : cipher.encrypt(source),
      decision_config:
        patch.decision_config === undefined ? stored.decision_config : jsonTextOrNull(patch.decision_config),
      is_enabled: patch.is_enabled == null ? stored.is_enabled : toFlag(patch.is_enabled),
      version: stored.version + 1,
      updated_by: tx.actorId,
      updated_at: nowTimestamp(),
    })
    .where('id', '=', id)
    .where('version', '=', patch.version)
    .executeTakeFirst()
    .catch(rethrowUnique);
  if (Number(result.numUpdatedRows) === 0) {
    const current = await tx.db
      .selectFrom('decision_function')
      .select('version')
      .where('id', '=', id)
      .executeTakeFirst();
    if (!current) throw new NotFoundError(NOT_FOUND);
    throw conflict(current.version);
  }

  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  for (const key of AUDITED) {
    const sent = patch[key];
    if (sent === undefined || sent === null) continue;
    before[key] = key === 'is_enabled' ? fromFlag(stored.is_enabled) : stored[key];
    after[key] = sent;
  }
  before.version = stored.version;
  after.version = stored.version + 1;
  if (source !== undefined) after.code_changed = true; // the source itself is never logged
  if (patch.decision_config !== undefined) after.config_changed = true;
  tx.audit({
    resourceType: 'decision_function',
    resourceId: id,
    action: 'update',
    changes: { before, after },
  });
  return getDecisionFunction(tx.db, cipher, id);
}

/** Refused (409) while any policy references the function; detach first. */
export async function deleteDecisionFunction(tx: AuditedTx, id: string): Promise<void> {
  const stored = await tx.db
    .selectFrom('decision_function')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!stored) throw new NotFoundError(NOT_FOUND);
  const { n } = await tx.db
    .selectFrom('policy')
    .select(countAll().as('n'))
    .where('decision_function_id', '=', id)
    .executeTakeFirstOrThrow();
  const count = toCount(n);
  if (count === 1) {
    throw new ConflictError(
      'Cannot delete: 1 policy still reference this decision function. Detach them first.',
    );
  }
  if (count > 1) {
    throw new ConflictError(
      `Cannot delete: ${count} policies still reference this decision function. Detach them first.`,
    );
  }
  await tx.db.deleteFrom('decision_function').where('id', '=', id).execute();
  const before = Object.fromEntries(
    AUDITED.map((k) => [k, k === 'is_enabled' ? fromFlag(stored.is_enabled) : stored[k]]),
  );
  tx.audit({ resourceType: 'decision_function', resourceId: id, action: 'delete', changes: { before } });
}
