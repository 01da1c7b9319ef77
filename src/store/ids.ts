/**
 * Identifiers (api-contract §1.7): UUIDv7 for new rows; deterministic UUIDv5
 * for catalog rows, relationships and anchors so ids survive re-discovery and
 * match those BetweenRows computes.
 */
import { v5 as uuidv5, v7 as uuidv7, validate } from 'uuid';

const CATALOG_NAMESPACE = '8a1b9c4e-3d7f-5a21-b60e-f4127c8d9e03';

/** The actor recorded for changes made by the CLI or the demo seeder, not by an admin. */
export const SYSTEM_ACTOR_ID = '00000000-0000-0000-0000-000000000000';

export const newId = (): string => uuidv7();

export const isUuid = (value: string): boolean => validate(value);

export const schemaId = (dataSourceId: string, schemaName: string): string =>
  uuidv5(`${dataSourceId}:${schemaName}`, CATALOG_NAMESPACE);

export const tableId = (schemaIdValue: string, tableName: string): string =>
  uuidv5(`${schemaIdValue}:${tableName}`, CATALOG_NAMESPACE);

export const columnId = (tableIdValue: string, columnName: string): string =>
  uuidv5(`${tableIdValue}:${columnName}`, CATALOG_NAMESPACE);

export const relationshipId = (
  dataSourceId: string,
  childTableId: string,
  childColumn: string,
  parentTableId: string,
  parentColumn: string,
): string =>
  uuidv5(
    `rel:${dataSourceId}:${childTableId}:${childColumn}:${parentTableId}:${parentColumn}`,
    CATALOG_NAMESPACE,
  );

export const anchorId = (dataSourceId: string, childTableId: string, resolvedColumn: string): string =>
  uuidv5(`anchor:${dataSourceId}:${childTableId}:${resolvedColumn}`, CATALOG_NAMESPACE);
