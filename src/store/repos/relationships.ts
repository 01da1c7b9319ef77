/**
 * Table relationships (api-contract §4.9, §5.14, §6.4): catalog metadata that
 * lets a row filter name a column living on a parent table. Ids are
 * deterministic UUIDv5 of the tuple (§1.7), so the same relationship always
 * gets the same id. Both tables must belong to the data source in the path:
 * a table of another data source is "not found" (no cross-tenant joins).
 */
import type { Kysely } from 'kysely';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { relationshipId } from '../ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../repo-errors.js';
import type { Database, Timestamp } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { requireDataSourceTable, tableHasColumn } from './catalog-read.js';
import { requireDataSource } from './datasources.js';

export { createColumnAnchor, deleteColumnAnchor, listColumnAnchors } from './column-anchors.js';
export type { ColumnAnchor, NewColumnAnchor } from './column-anchors.js';
export { requireDataSourceTable } from './catalog-read.js';

export interface TableRelationship {
  id: string;
  data_source_id: string;
  child_table_id: string;
  child_table_name: string;
  child_schema_name: string;
  child_column_name: string;
  parent_table_id: string;
  parent_table_name: string;
  parent_schema_name: string;
  parent_column_name: string;
  created_at: Timestamp;
  created_by: string | null;
}

export interface NewRelationship {
  child_table_id: string;
  child_column_name: string;
  parent_table_id: string;
  parent_column_name: string;
}

function relationshipQuery(db: Kysely<Database>) {
  return db
    .selectFrom('table_relationship as r')
    .innerJoin('discovered_table as ct', 'ct.id', 'r.child_table_id')
    .innerJoin('discovered_schema as cs', 'cs.id', 'ct.discovered_schema_id')
    .innerJoin('discovered_table as pt', 'pt.id', 'r.parent_table_id')
    .innerJoin('discovered_schema as ps', 'ps.id', 'pt.discovered_schema_id')
    .select([
      'r.id',
      'r.data_source_id',
      'r.child_table_id',
      'ct.table_name as child_table_name',
      'cs.schema_name as child_schema_name',
      'r.child_column_name',
      'r.parent_table_id',
      'pt.table_name as parent_table_name',
      'ps.schema_name as parent_schema_name',
      'r.parent_column_name',
      'r.created_at',
      'r.created_by',
    ]);
}

/** `created_at` ascending; optional filter on the child table. 404 DS. */
export async function listRelationships(
  db: Kysely<Database>,
  dataSourceId: string,
  childTableId?: string,
): Promise<TableRelationship[]> {
  await requireDataSource(db, dataSourceId);
  return relationshipQuery(db)
    .where('r.data_source_id', '=', dataSourceId)
    .$if(childTableId !== undefined, (q) => q.where('r.child_table_id', '=', childTableId as string))
    .orderBy('r.created_at')
    .orderBy('r.id')
    .execute();
}

/** A relationship scoped to the data source, or undefined. */
export async function getRelationship(
  db: Kysely<Database>,
  dataSourceId: string,
  id: string,
): Promise<TableRelationship | undefined> {
  return relationshipQuery(db)
    .where('r.id', '=', id)
    .where('r.data_source_id', '=', dataSourceId)
    .executeTakeFirst();
}

function missingColumn(field: string, name: string): InvalidError {
  return new InvalidError(
    field,
    `Column '${name}' not found on the selected table (column names are case-sensitive and must match exactly ` +
      'what discovery stored — check for quoted-identifier casing)',
  );
}

/** The checks of POST …/relationships in contract order; returns the deterministic id. */
async function checkRelationship(
  db: Kysely<Database>,
  dataSourceId: string,
  input: NewRelationship,
): Promise<string> {
  await requireDataSource(db, dataSourceId);
  if (input.child_table_id === input.parent_table_id) {
    throw new InvalidError('parent_table_id', 'child_table and parent_table must differ');
  }
  await requireDataSourceTable(db, dataSourceId, input.child_table_id);
  await requireDataSourceTable(db, dataSourceId, input.parent_table_id);
  if (!(await tableHasColumn(db, input.child_table_id, input.child_column_name))) {
    throw missingColumn('child_column_name', input.child_column_name);
  }
  if (!(await tableHasColumn(db, input.parent_table_id, input.parent_column_name))) {
    throw missingColumn('parent_column_name', input.parent_column_name);
  }
  return relationshipId(
    dataSourceId,
    input.child_table_id,
    input.child_column_name,
    input.parent_table_id,
    input.parent_column_name,
  );
}

/**
 * Runs every check of the create route and returns the relationship if the
 * identical tuple already exists (the route answers 200 with it, no audit),
 * else null. Call it before opening the audited transaction: an idempotent
 * repeat must not open one, since it has nothing to audit.
 */
export async function findRelationship(
  db: Kysely<Database>,
  dataSourceId: string,
  input: NewRelationship,
): Promise<TableRelationship | null> {
  const id = await checkRelationship(db, dataSourceId, input);
  return (await getRelationship(db, dataSourceId, id)) ?? null;
}

/** Creates it (201); an existing identical tuple → ConflictError (use `findRelationship` first for BR's 200). */
export async function createRelationship(
  tx: AuditedTx,
  dataSourceId: string,
  input: NewRelationship,
): Promise<TableRelationship> {
  const id = await checkRelationship(tx.db, dataSourceId, input);
  const fields = {
    data_source_id: dataSourceId,
    child_table_id: input.child_table_id,
    child_column_name: input.child_column_name,
    parent_table_id: input.parent_table_id,
    parent_column_name: input.parent_column_name,
  };
  try {
    await tx.db
      .insertInto('table_relationship')
      .values({ id, ...fields, created_at: nowTimestamp(), created_by: tx.actorId })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('This relationship already exists');
    throw error;
  }
  tx.audit({
    resourceType: 'table_relationship',
    resourceId: id,
    action: 'create',
    changes: { after: fields },
  });
  return (await getRelationship(tx.db, dataSourceId, id)) as TableRelationship;
}

/** 404 DS → 404 `Relationship not found` (scoped) → 409 while anchors use it → delete. */
export async function deleteRelationship(tx: AuditedTx, dataSourceId: string, id: string): Promise<void> {
  await requireDataSource(tx.db, dataSourceId);
  const rel = await getRelationship(tx.db, dataSourceId, id);
  if (!rel) throw new NotFoundError('Relationship not found');
  const anchors = await tx.db
    .selectFrom('column_anchor')
    .select('id')
    .where('relationship_id', '=', id)
    .execute();
  if (anchors.length > 0) {
    throw new ConflictError(
      `This relationship is used by ${anchors.length} column anchor(s); remove the anchors first.`,
    );
  }
  await tx.db.deleteFrom('table_relationship').where('id', '=', id).execute();
  tx.audit({
    resourceType: 'table_relationship',
    resourceId: id,
    action: 'delete',
    changes: {
      before: {
        data_source_id: rel.data_source_id,
        child_table_id: rel.child_table_id,
        child_column_name: rel.child_column_name,
        parent_table_id: rel.parent_table_id,
        parent_column_name: rel.parent_column_name,
      },
    },
  });
}
