/**
 * Attribute definitions (api-contract §3.7, §4.11, §5.8). The validation
 * rules live in `identity/attribute-values.ts`; this file stores and audits.
 * Audit `changes` carry `allowed_values` as an array (or null) on both sides,
 * not BR's stored JSON text (quirk Q5, "emit parsed values consistently").
 */
import type { Kysely, Updateable } from 'kysely';
import { checkDefinitionRule } from '../../identity/attribute-values.js';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { newId } from '../ids.js';
import { effectivePage, type PageRequest, type Paginated } from '../paging.js';
import { ConflictError, NotFoundError } from '../repo-errors.js';
import type { AttributeDefinitionRow, AttributeDefinitionTable, Database } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { containsIgnoreCase, countAll, parseJson, toCount } from '../values.js';

export interface AttributeDefinition {
  id: string;
  key: string;
  entity_type: string;
  display_name: string;
  value_type: string;
  /** Always text; for `list` the JSON array text. */
  default_value: string | null;
  allowed_values: string[] | null;
  description: string | null;
  created_by: string;
  updated_by: string;
  created_at: string;
  updated_at: string;
}

export interface NewAttributeDefinition {
  key: string;
  entity_type: string;
  display_name: string;
  value_type: string;
  default_value?: string | null;
  allowed_values?: string[] | null;
  description?: string | null;
}

/**
 * PUT: `display_name`/`value_type` absent or null = unchanged; the tri-state
 * fields (§1.3) are unchanged when `undefined`, cleared when `null`.
 */
export interface AttributeDefinitionPatch {
  display_name?: string | null;
  value_type?: string | null;
  default_value?: string | null;
  allowed_values?: string[] | null;
  description?: string | null;
}

export interface AttributeListRequest extends PageRequest {
  entityType?: string | undefined;
  search?: string | undefined;
}

const toDefinition = (row: AttributeDefinitionRow): AttributeDefinition => ({
  ...row,
  allowed_values: parseJson<string[] | null>(row.allowed_values, null),
});

const snapshot = (d: AttributeDefinition) => ({
  key: d.key,
  entity_type: d.entity_type,
  value_type: d.value_type,
  display_name: d.display_name,
  default_value: d.default_value,
  allowed_values: d.allowed_values,
  description: d.description,
});

export async function getAttributeDefinition(
  db: Kysely<Database>,
  id: string,
): Promise<AttributeDefinition | undefined> {
  const row = await db.selectFrom('attribute_definition').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toDefinition(row);
}

async function requireDefinition(db: Kysely<Database>, id: string): Promise<AttributeDefinition> {
  const def = await getAttributeDefinition(db, id);
  if (!def) throw new NotFoundError('Attribute definition not found');
  return def;
}

/** Every `user` definition, by key: what user updates and policy templates are checked against. */
export async function listUserAttributeDefinitions(db: Kysely<Database>): Promise<AttributeDefinition[]> {
  const rows = await db
    .selectFrom('attribute_definition')
    .selectAll()
    .where('entity_type', '=', 'user')
    .orderBy('key')
    .execute();
  return rows.map(toDefinition);
}

/** GET /attribute-definitions (§1.9): 50 by default, 1..200, by key; search on key or display name. */
export async function listAttributeDefinitions(
  db: Kysely<Database>,
  request: AttributeListRequest,
): Promise<Paginated<AttributeDefinition>> {
  const page = effectivePage(request, { defaultSize: 50, maxSize: 200, zeroMeansEmpty: false });
  let query = db.selectFrom('attribute_definition');
  if (request.entityType !== undefined) query = query.where('entity_type', '=', request.entityType);
  if (request.search) {
    const needle = request.search;
    query = query.where((eb) =>
      eb.or([containsIgnoreCase(eb.ref('key'), needle), containsIgnoreCase(eb.ref('display_name'), needle)]),
    );
  }
  const { n } = await query.select(countAll().as('n')).executeTakeFirstOrThrow();
  const rows = await query
    .selectAll()
    .orderBy('key', 'asc')
    .orderBy('entity_type', 'asc')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  return { data: rows.map(toDefinition), total: toCount(n), page: page.page, page_size: page.pageSize };
}

export async function createAttributeDefinition(
  tx: AuditedTx,
  input: NewAttributeDefinition,
): Promise<AttributeDefinition> {
  const fields = {
    key: input.key,
    entity_type: input.entity_type,
    value_type: input.value_type,
    default_value: input.default_value ?? null,
    allowed_values: input.allowed_values ?? null,
  };
  checkDefinitionRule(fields);
  const now = nowTimestamp();
  const id = newId();
  try {
    await tx.db
      .insertInto('attribute_definition')
      .values({
        id,
        ...fields,
        allowed_values: fields.allowed_values && JSON.stringify(fields.allowed_values),
        display_name: input.display_name,
        description: input.description ?? null,
        created_by: tx.actorId,
        updated_by: tx.actorId,
        created_at: now,
        updated_at: now,
      })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new ConflictError(
        `Attribute definition '${input.key}' already exists for entity type '${input.entity_type}'`,
      );
    }
    throw error;
  }
  const def = await requireDefinition(tx.db, id);
  tx.audit({
    resourceType: 'attribute_definition',
    resourceId: id,
    action: 'create',
    changes: { after: snapshot(def) },
  });
  return def;
}

/**
 * PUT /attribute-definitions/{id}: the rule runs on the final values; stored
 * user values are not re-validated (§4.11). Audited even when nothing is sent.
 */
export async function updateAttributeDefinition(
  tx: AuditedTx,
  id: string,
  patch: AttributeDefinitionPatch,
): Promise<AttributeDefinition> {
  const current = await requireDefinition(tx.db, id);
  const final = { ...current };
  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const take = <K extends keyof AttributeDefinitionPatch & keyof AttributeDefinition>(
    key: K,
    sent: boolean,
  ) => {
    if (!sent) return;
    before[key] = current[key];
    after[key] = patch[key];
    (final as Record<string, unknown>)[key] = patch[key];
  };
  take('display_name', patch.display_name != null);
  take('value_type', patch.value_type != null);
  take('default_value', patch.default_value !== undefined);
  take('allowed_values', patch.allowed_values !== undefined);
  take('description', patch.description !== undefined);
  checkDefinitionRule(final);
  const set: Updateable<AttributeDefinitionTable> = {
    display_name: final.display_name,
    value_type: final.value_type,
    default_value: final.default_value,
    allowed_values: final.allowed_values && JSON.stringify(final.allowed_values),
    description: final.description,
    updated_by: tx.actorId,
    updated_at: nowTimestamp(),
  };
  await tx.db.updateTable('attribute_definition').set(set).where('id', '=', id).execute();
  tx.audit({
    resourceType: 'attribute_definition',
    resourceId: id,
    action: 'update',
    changes: { before, after },
  });
  return requireDefinition(tx.db, id);
}

/**
 * Users whose attribute map has the key (only `user` definitions have users).
 * JSON functions differ between the engines, so a LIKE pre-filter narrows the
 * rows and the parsed map decides.
 */
async function usersWithKey(db: Kysely<Database>, key: string) {
  const rows = await db
    .selectFrom('proxy_user')
    .select(['id', 'attributes'])
    .where('attributes', 'like', `%"${key}"%`)
    .execute();
  return rows
    .map((r) => ({ id: r.id, attributes: parseJson<Record<string, unknown>>(r.attributes, {}) }))
    .filter((r) => Object.hasOwn(r.attributes, key));
}

export async function countUsersWithAttribute(db: Kysely<Database>, key: string): Promise<number> {
  return (await usersWithKey(db, key)).length;
}

/**
 * DELETE /attribute-definitions/{id}[?force=true]. In use and not forced →
 * 409; forced → the key is removed from every user's map in this
 * transaction. Returns how many users were changed.
 */
export async function deleteAttributeDefinition(
  tx: AuditedTx,
  id: string,
  options: { force?: boolean } = {},
): Promise<{ affected_count: number }> {
  const def = await requireDefinition(tx.db, id);
  const users = def.entity_type === 'user' ? await usersWithKey(tx.db, def.key) : [];
  if (users.length > 0 && !options.force) {
    throw new ConflictError(
      `${users.length} user(s) have attribute '${def.key}'. Use ?force=true to delete and remove from all entities.`,
    );
  }
  const now = nowTimestamp();
  for (const user of users) {
    delete user.attributes[def.key];
    await tx.db
      .updateTable('proxy_user')
      .set({ attributes: JSON.stringify(user.attributes), updated_at: now })
      .where('id', '=', user.id)
      .execute();
  }
  await tx.db.deleteFrom('attribute_definition').where('id', '=', id).execute();
  tx.audit({
    resourceType: 'attribute_definition',
    resourceId: id,
    action: 'delete',
    changes: { before: { ...snapshot(def), affected_count: users.length } },
  });
  return { affected_count: users.length };
}
