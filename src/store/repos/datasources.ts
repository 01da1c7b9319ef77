/**
 * Data sources (api-contract §3.2, §4.5, §5.4).
 *
 * The public shape never carries a secret: `config` holds the visible
 * connection fields, the password lives encrypted in `secure_config` and is
 * only decrypted by `getDataSourceConnection`, for the data plane and the
 * discovery jobs. Audit rows record names and flags, never config values.
 */
import type { Kysely, Updateable } from 'kysely';
import type { SecretCipher } from '../../secrets/cipher.js';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { newId, SYSTEM_ACTOR_ID } from '../ids.js';
import { effectivePage, type PageRequest, type Paginated } from '../paging.js';
import { ConflictError, InvalidError, NotFoundError } from '../repo-errors.js';
import type { Database, DataSourceRow, DataSourceTable, Timestamp } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { containsIgnoreCase, countAll, fromFlag, parseJson, toCount, toFlag } from '../values.js';
import {
  DATA_SOURCE_NOT_FOUND,
  decryptStoredConfig,
  mergeConfig,
  splitConfig,
  type AccessMode,
  type ConfigObject,
  type SplitConfig,
} from './datasource-config.js';

export { DATA_SOURCE_NOT_FOUND, getDataSourceConnection } from './datasource-config.js';
export type { AccessMode, DataSourceConnection } from './datasource-config.js';

export { BadRequestError } from '../repo-errors.js';

export interface DataSource {
  id: string;
  name: string;
  ds_type: string;
  config: ConfigObject;
  is_active: boolean;
  access_mode: AccessMode;
  last_sync_at: Timestamp | null;
  last_sync_result: unknown;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface NewDataSource {
  name: string;
  ds_type: string;
  /** The flat §4.5 object, secret fields included. */
  config: unknown;
  /** Convenience for the CLI/demo: overrides `config.password`. */
  password?: string;
  access_mode?: string | null;
  is_active?: boolean | null;
  /** Give the creating actor a user-scoped access grant (BR behaviour); default true. */
  grantCreator?: boolean;
}

/** PUT body; `null` means "unchanged" like absent (§1.3). */
export interface DataSourcePatch {
  name?: string | null;
  is_active?: boolean | null;
  config?: unknown;
  access_mode?: string | null;
}

type DataSourceUpdate = Updateable<DataSourceTable>;

const NAME_TAKEN = 'Data source name already exists';
const PAGE_RULE = { defaultSize: 20, maxSize: 100, zeroMeansEmpty: true };

export function validateDataSourceName(name: string): void {
  if (name.length < 1 || name.length > 64) {
    throw new InvalidError('name', 'Datasource name must be between 1 and 64 characters');
  }
  if (!/^[A-Za-z]/.test(name)) throw new InvalidError('name', 'Datasource name must start with a letter');
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(name)) {
    throw new InvalidError(
      'name',
      'Datasource name may only contain letters, digits, underscores, and hyphens',
    );
  }
}

function validateAccessMode(mode: string): AccessMode {
  if (mode !== 'open' && mode !== 'policy_required') {
    throw new InvalidError('access_mode', "access_mode must be 'open' or 'policy_required'");
  }
  return mode;
}

export function toDataSource(row: DataSourceRow): DataSource {
  return {
    id: row.id,
    name: row.name,
    ds_type: row.ds_type,
    config: parseJson<ConfigObject>(row.config, {}),
    is_active: fromFlag(row.is_active),
    access_mode: row.access_mode as AccessMode,
    last_sync_at: row.last_sync_at,
    last_sync_result: parseJson<unknown>(row.last_sync_result, null),
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** The row or NotFoundError `Data source not found` (the "404 DS" of every datasource route). */
export async function requireDataSource(db: Kysely<Database>, id: string): Promise<DataSourceRow> {
  const row = await db.selectFrom('data_source').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError(DATA_SOURCE_NOT_FOUND);
  return row;
}

export async function getDataSource(db: Kysely<Database>, id: string): Promise<DataSource> {
  return toDataSource(await requireDataSource(db, id));
}

/** Exact, case-sensitive name lookup (the pgwire database name). */
export async function findDataSourceByName(
  db: Kysely<Database>,
  name: string,
): Promise<DataSource | undefined> {
  const row = await db.selectFrom('data_source').selectAll().where('name', '=', name).executeTakeFirst();
  return row && toDataSource(row);
}

export async function listDataSources(
  db: Kysely<Database>,
  request: PageRequest & { search?: string | undefined } = {},
): Promise<Paginated<DataSource>> {
  const page = effectivePage(request, PAGE_RULE);
  const search = request.search ?? '';
  const base = db
    .selectFrom('data_source')
    .$if(search !== '', (q) => q.where((eb) => containsIgnoreCase(eb.ref('name'), search)));
  const { n } = await base.select(countAll().as('n')).executeTakeFirstOrThrow();
  const rows =
    page.limit === 0
      ? []
      : await base
          .selectAll()
          .orderBy('created_at')
          .orderBy('id')
          .limit(page.limit)
          .offset(page.offset)
          .execute();
  return { data: rows.map(toDataSource), total: toCount(n), page: page.page, page_size: page.pageSize };
}

export async function createDataSource(
  tx: AuditedTx,
  cipher: SecretCipher,
  input: NewDataSource,
): Promise<DataSource> {
  validateDataSourceName(input.name);
  const accessMode = validateAccessMode(input.access_mode ?? 'policy_required');
  const isObject = typeof input.config === 'object' && input.config !== null && !Array.isArray(input.config);
  // A non-object config is passed on unchanged so that splitConfig reports it.
  const flat =
    input.password === undefined || !isObject
      ? input.config
      : { ...(input.config as object), password: input.password };
  const split = splitConfig(input.ds_type, flat);
  const now = nowTimestamp();
  const row = {
    id: newId(),
    name: input.name,
    ds_type: input.ds_type,
    config: JSON.stringify(split.visible),
    secure_config: cipher.encrypt(JSON.stringify(split.secret)),
    is_active: toFlag(input.is_active ?? true),
    access_mode: accessMode,
    last_sync_at: null,
    last_sync_result: null,
    created_at: now,
    updated_at: now,
  };
  try {
    await tx.db.insertInto('data_source').values(row).execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(NAME_TAKEN);
    throw error;
  }
  // The CLI/demo act as the system actor, which is no user: no grant for it.
  if ((input.grantCreator ?? true) && tx.actorId !== SYSTEM_ACTOR_ID) {
    await tx.db
      .insertInto('data_source_access')
      .values({
        id: newId(),
        user_id: tx.actorId,
        role_id: null,
        data_source_id: row.id,
        assignment_scope: 'user',
        created_at: now,
      })
      .execute();
  }
  const created = toDataSource(row);
  tx.audit({
    resourceType: 'datasource',
    resourceId: created.id,
    action: 'create',
    changes: { after: publicSummary(created) },
  });
  return created;
}

/** True when a PUT body sends nothing: the route answers with the stored record, no transaction, no audit. */
export function isEmptyDataSourcePatch(patch: DataSourcePatch): boolean {
  return patch.name == null && patch.is_active == null && patch.config == null && patch.access_mode == null;
}

export async function updateDataSource(
  tx: AuditedTx,
  cipher: SecretCipher,
  id: string,
  patch: DataSourcePatch,
): Promise<{ dataSource: DataSource; previousName: string }> {
  const stored = await requireDataSource(tx.db, id);
  if (patch.name != null) validateDataSourceName(patch.name);
  if (patch.access_mode != null) validateAccessMode(patch.access_mode);
  let merged: SplitConfig | undefined;
  if (patch.config != null) {
    merged = mergeConfig(stored.ds_type, decryptStoredConfig(stored, cipher), patch.config);
  }
  const previous = toDataSource(stored);
  if (isEmptyDataSourcePatch(patch)) return { dataSource: previous, previousName: stored.name };

  const before: Record<string, unknown> = {};
  const after: Record<string, unknown> = {};
  const set: DataSourceUpdate = {};
  if (patch.name != null) {
    before.name = stored.name;
    after.name = set.name = patch.name;
  }
  if (patch.is_active != null) {
    before.is_active = previous.is_active;
    after.is_active = patch.is_active;
    set.is_active = toFlag(patch.is_active);
  }
  if (patch.access_mode != null) {
    before.access_mode = stored.access_mode;
    after.access_mode = set.access_mode = patch.access_mode;
  }
  if (merged) {
    set.config = JSON.stringify(merged.visible);
    set.secure_config = cipher.encrypt(JSON.stringify(merged.secret));
    after.config_changed = true; // values never logged
  }
  try {
    await tx.db
      .updateTable('data_source')
      .set({ ...set, updated_at: nowTimestamp() })
      .where('id', '=', id)
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(NAME_TAKEN);
    throw error;
  }
  tx.audit({ resourceType: 'datasource', resourceId: id, action: 'update', changes: { before, after } });
  return { dataSource: await getDataSource(tx.db, id), previousName: stored.name };
}

/** Cascades to catalog, assignments, access grants, relationships, anchors; query-audit rows stay. */
export async function deleteDataSource(tx: AuditedTx, id: string): Promise<DataSource> {
  const deleted = toDataSource(await requireDataSource(tx.db, id));
  await tx.db.deleteFrom('data_source').where('id', '=', id).execute();
  tx.audit({
    resourceType: 'datasource',
    resourceId: id,
    action: 'delete',
    changes: { before: publicSummary(deleted) },
  });
  return deleted;
}

/** The audit summary of §10.2: no config, no secrets. */
function publicSummary(ds: DataSource): Record<string, unknown> {
  return { name: ds.name, ds_type: ds.ds_type, access_mode: ds.access_mode, is_active: ds.is_active };
}
