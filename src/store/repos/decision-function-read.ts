/**
 * Decision-function reads (api-contract §3.5, §4.12): the API shape with the
 * source decrypted, the paginated list, and the sandbox's view of one function.
 */
import type { Kysely } from 'kysely';
import type { SecretCipher } from '../../secrets/cipher.js';
import { effectivePage, type PageRequest, type Paginated } from '../paging.js';
import { NotFoundError } from '../repo-errors.js';
import type { Database, DecisionFunctionRow, Timestamp } from '../schema.js';
import { containsIgnoreCase, countAll, fromFlag, parseJson, toCount } from '../values.js';

export const DECISION_FUNCTION_NOT_FOUND = 'Decision function not found';
const PAGE_RULE = { defaultSize: 20, maxSize: 100, zeroMeansEmpty: false };

export interface DecisionFunction {
  id: string;
  name: string;
  description: string | null;
  language: string;
  /** The JS source, decrypted. */
  decision_fn: string;
  decision_config: unknown;
  evaluate_context: string;
  on_error: string;
  log_level: string;
  is_enabled: boolean;
  version: number;
  policy_count: number;
  created_by: string;
  updated_by: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface DecisionFunctionSource {
  id: string;
  name: string;
  version: number;
  source: string;
  decision_config: unknown;
  evaluate_context: string;
  on_error: string;
  log_level: string;
  is_enabled: boolean;
}

function query(db: Kysely<Database>) {
  return db
    .selectFrom('decision_function as f')
    .selectAll('f')
    .select((eb) =>
      eb
        .selectFrom('policy as p')
        .whereRef('p.decision_function_id', '=', 'f.id')
        .select(countAll().as('n'))
        .as('policy_count'),
    );
}

type Row = DecisionFunctionRow & { policy_count: string | number | null };

function toDecisionFunction(row: Row, cipher: SecretCipher): DecisionFunction {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    language: row.language,
    decision_fn: cipher.decrypt(row.decision_fn),
    decision_config: parseJson<unknown>(row.decision_config, null),
    evaluate_context: row.evaluate_context,
    on_error: row.on_error,
    log_level: row.log_level,
    is_enabled: fromFlag(row.is_enabled),
    version: row.version,
    policy_count: toCount(row.policy_count),
    created_by: row.created_by,
    updated_by: row.updated_by,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

export async function getDecisionFunction(
  db: Kysely<Database>,
  cipher: SecretCipher,
  id: string,
): Promise<DecisionFunction> {
  const row = await query(db).where('f.id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(DECISION_FUNCTION_NOT_FOUND);
  return toDecisionFunction(row, cipher);
}

/** Ordered by name; page_size clamped to 1..100 (§1.9). */
export async function listDecisionFunctions(
  db: Kysely<Database>,
  cipher: SecretCipher,
  request: PageRequest & { search?: string | undefined } = {},
): Promise<Paginated<DecisionFunction>> {
  const page = effectivePage(request, PAGE_RULE);
  const search = request.search ?? '';
  const { n } = await db
    .selectFrom('decision_function')
    .$if(search !== '', (q) => q.where((eb) => containsIgnoreCase(eb.ref('name'), search)))
    .select(countAll().as('n'))
    .executeTakeFirstOrThrow();
  const rows = await query(db)
    .$if(search !== '', (q) => q.where((eb) => containsIgnoreCase(eb.ref('f.name'), search)))
    .orderBy('f.name')
    .orderBy('f.id')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  return {
    data: rows.map((r) => toDecisionFunction(r, cipher)),
    total: toCount(n),
    page: page.page,
    page_size: page.pageSize,
  };
}

/** What the sandbox needs to compile and run a function (keyed by id + version). */
export async function getDecisionFunctionSource(
  db: Kysely<Database>,
  cipher: SecretCipher,
  id: string,
): Promise<DecisionFunctionSource> {
  const row = await db.selectFrom('decision_function').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(DECISION_FUNCTION_NOT_FOUND);
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    source: cipher.decrypt(row.decision_fn),
    decision_config: parseJson<unknown>(row.decision_config, null),
    evaluate_context: row.evaluate_context,
    on_error: row.on_error,
    log_level: row.log_level,
    is_enabled: fromFlag(row.is_enabled),
  };
}
