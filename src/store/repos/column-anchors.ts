/**
 * Column anchors (api-contract §4.9, §5.14, §6.4): how a row filter's column
 * resolves on a table that lacks it — either walk a relationship to the
 * parent (`relationship_id`) or read another column of the same table
 * (`actual_column_name`). Exactly one of the two is set (XOR, also a CHECK
 * constraint). The id is the deterministic UUIDv5 of (datasource, table,
 * resolved column), the same key the unique constraint guards.
 */
import type { Kysely } from 'kysely';
import type { AuditedTx } from '../audited.js';
import { isUniqueViolation } from '../errors.js';
import { anchorId } from '../ids.js';
import { ConflictError, InvalidError, NotFoundError } from '../repo-errors.js';
import type { Database, Timestamp } from '../schema.js';
import { nowTimestamp } from '../time.js';
import { requireDataSourceTable } from './catalog-read.js';
import { requireDataSource } from './datasources.js';

export interface ColumnAnchor {
  id: string;
  data_source_id: string;
  child_table_id: string;
  child_table_name: string;
  resolved_column_name: string;
  relationship_id: string | null;
  actual_column_name: string | null;
  designated_at: Timestamp;
  designated_by: string;
}

export interface NewColumnAnchor {
  child_table_id: string;
  resolved_column_name: string;
  relationship_id?: string | null;
  /** Trimmed; blank counts as absent. */
  actual_column_name?: string | null;
}

function anchorQuery(db: Kysely<Database>) {
  return db
    .selectFrom('column_anchor as a')
    .innerJoin('discovered_table as t', 't.id', 'a.child_table_id')
    .select([
      'a.id',
      'a.data_source_id',
      'a.child_table_id',
      't.table_name as child_table_name',
      'a.resolved_column_name',
      'a.relationship_id',
      'a.actual_column_name',
      'a.designated_at',
      'a.designated_by',
    ]);
}

/** `designated_at` ascending. 404 DS. */
export async function listColumnAnchors(db: Kysely<Database>, dataSourceId: string): Promise<ColumnAnchor[]> {
  await requireDataSource(db, dataSourceId);
  return anchorQuery(db)
    .where('a.data_source_id', '=', dataSourceId)
    .orderBy('a.designated_at')
    .orderBy('a.id')
    .execute();
}

/** Checks in contract order (§4.9 POST column-anchors), then insert and audit. */
export async function createColumnAnchor(
  tx: AuditedTx,
  dataSourceId: string,
  input: NewColumnAnchor,
): Promise<ColumnAnchor> {
  const db = tx.db;
  await requireDataSource(db, dataSourceId);
  if (input.resolved_column_name.trim() === '') {
    throw new InvalidError('resolved_column_name', 'resolved_column_name must be non-empty');
  }
  const actual = input.actual_column_name?.trim() || null;
  const relId = input.relationship_id ?? null;
  if (relId !== null && actual !== null) {
    throw new InvalidError(
      'relationship_id',
      "Provide exactly one of 'relationship_id' or 'actual_column_name', not both",
    );
  }
  if (relId === null && actual === null) {
    throw new InvalidError(
      'relationship_id',
      "Provide exactly one of 'relationship_id' (FK walk) or 'actual_column_name' (same-table alias)",
    );
  }
  await requireDataSourceTable(db, dataSourceId, input.child_table_id);
  if (relId !== null) {
    const rel = await db
      .selectFrom('table_relationship')
      .select(['data_source_id', 'child_table_id'])
      .where('id', '=', relId)
      .executeTakeFirst();
    if (!rel) throw new NotFoundError('Relationship not found');
    if (rel.data_source_id !== dataSourceId) {
      throw new NotFoundError('Relationship does not belong to this datasource');
    }
    if (rel.child_table_id !== input.child_table_id) {
      throw new InvalidError(
        'relationship_id',
        'relationship.child_table_id does not match anchor.child_table_id',
      );
    }
  }
  // resolved_column_name is stored untrimmed (BR behaviour); the key uses it as stored.
  const id = anchorId(dataSourceId, input.child_table_id, input.resolved_column_name);
  const duplicate = new ConflictError(
    `An anchor for column '${input.resolved_column_name}' on this table already exists.`,
  );
  const existing = await db
    .selectFrom('column_anchor')
    .select('id')
    .where('data_source_id', '=', dataSourceId)
    .where('child_table_id', '=', input.child_table_id)
    .where('resolved_column_name', '=', input.resolved_column_name)
    .executeTakeFirst();
  if (existing) throw duplicate;
  try {
    await db
      .insertInto('column_anchor')
      .values({
        id,
        data_source_id: dataSourceId,
        child_table_id: input.child_table_id,
        resolved_column_name: input.resolved_column_name,
        relationship_id: relId,
        actual_column_name: actual,
        designated_at: nowTimestamp(),
        designated_by: tx.actorId,
      })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw duplicate;
    throw error;
  }
  tx.audit({
    resourceType: 'column_anchor',
    resourceId: id,
    action: 'create',
    changes: {
      after: {
        data_source_id: dataSourceId,
        child_table_id: input.child_table_id,
        resolved_column_name: input.resolved_column_name,
        // Only the key of the anchor's shape is present (§4.9).
        ...(relId !== null ? { relationship_id: relId } : { actual_column_name: actual }),
      },
    },
  });
  return (await anchorQuery(db).where('a.id', '=', id).executeTakeFirst()) as ColumnAnchor;
}

/** 404 DS → 404 `Column anchor not found` (scoped to the data source) → delete. */
export async function deleteColumnAnchor(tx: AuditedTx, dataSourceId: string, id: string): Promise<void> {
  await requireDataSource(tx.db, dataSourceId);
  const anchor = await tx.db
    .selectFrom('column_anchor')
    .selectAll()
    .where('id', '=', id)
    .where('data_source_id', '=', dataSourceId)
    .executeTakeFirst();
  if (!anchor) throw new NotFoundError('Column anchor not found');
  await tx.db.deleteFrom('column_anchor').where('id', '=', id).execute();
  tx.audit({
    resourceType: 'column_anchor',
    resourceId: id,
    action: 'delete',
    // BR records relationship_id but not actual_column_name here (§4.9).
    changes: {
      before: {
        data_source_id: anchor.data_source_id,
        child_table_id: anchor.child_table_id,
        resolved_column_name: anchor.resolved_column_name,
        relationship_id: anchor.relationship_id,
      },
    },
  });
}
