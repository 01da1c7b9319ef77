/**
 * Shapes of discovery jobs (api-contract §4.8, §8): the request body of
 * `POST /datasources/{id}/discover`, the job object of the status endpoint,
 * the SSE events, and the results of each action.
 *
 * `parseDiscoverRequest` is a defensive check for callers that did not
 * validate the body against a schema (the route should, and answer 422 from
 * its own validator; an `InvalidError` from here maps to 422 as well).
 */
import { InvalidError } from '../store/repo-errors.js';
import type { SchemaSelection } from '../store/repos/catalog.js';

export const JOB_ACTIONS = [
  'discover_schemas',
  'discover_tables',
  'discover_columns',
  'save_catalog',
  'sync_catalog',
] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

export type DiscoverRequest =
  | { action: 'discover_schemas' }
  | { action: 'discover_tables'; schemas: string[] }
  | { action: 'discover_columns'; tables: { schema: string; table: string }[] }
  | { action: 'save_catalog'; schemas: SchemaSelection[] }
  | { action: 'sync_catalog' };

export type JobStatus = 'running' | 'completed' | 'failed';

/** Exactly the body of `GET /datasources/{id}/discover/{job_id}`. */
export interface JobView {
  job_id: string;
  action: JobAction;
  status: JobStatus;
  result: unknown;
  error: string | null;
}

export type ProgressPhase = 'connecting' | 'querying' | 'saving';

/**
 * One SSE event; the route writes each as a single `data: <JSON>` line with
 * no `event:` name. Terminal sequences: `result` then `done` (completed),
 * `error` (failed), `cancelled` (cancelled).
 */
export type JobEvent =
  | { type: 'progress'; phase: ProgressPhase; detail: string }
  | { type: 'result'; data: unknown }
  | { type: 'done' }
  | { type: 'error'; message: string }
  | { type: 'cancelled' };

export interface DiscoveredSchema {
  schema_name: string;
  schema_alias: string | null;
  is_already_selected: boolean;
}

export interface DiscoveredTable {
  schema_name: string;
  table_name: string;
  table_type: string;
  is_already_selected: boolean;
}

export interface DiscoveredColumn {
  schema_name: string;
  table_name: string;
  column_name: string;
  ordinal_position: number;
  data_type: string;
  is_nullable: boolean;
  column_default: string | null;
  arrow_type: string | null;
  is_already_selected: boolean;
}

/** §8.6; also stored in the data source's `last_sync_result`. */
export interface DriftReport {
  added_schemas: string[];
  removed_schemas: string[];
  added_tables: string[];
  removed_tables: string[];
  changed_columns: string[];
  has_breaking_changes: boolean;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function stringArray(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new InvalidError(field, `${field}: expected an array of strings`);
  }
  return value as string[];
}

function selection(value: unknown): SchemaSelection[] {
  const bad = (field: string, what: string) => new InvalidError(field, `${field}: ${what}`);
  if (!Array.isArray(value)) throw bad('schemas', 'expected an array');
  return value.map((schema: unknown, i) => {
    const at = `schemas[${i}]`;
    if (!isObject(schema) || typeof schema.schema_name !== 'string')
      throw bad(`${at}.schema_name`, 'expected a string');
    if (typeof schema.is_selected !== 'boolean') throw bad(`${at}.is_selected`, 'expected a boolean');
    const alias = schema.schema_alias;
    if (alias !== undefined && alias !== null && typeof alias !== 'string')
      throw bad(`${at}.schema_alias`, 'expected a string or null');
    if (!Array.isArray(schema.tables)) throw bad(`${at}.tables`, 'expected an array');
    const tables = schema.tables.map((table: unknown, j) => {
      const tat = `${at}.tables[${j}]`;
      if (!isObject(table) || typeof table.table_name !== 'string')
        throw bad(`${tat}.table_name`, 'expected a string');
      if (typeof table.table_type !== 'string') throw bad(`${tat}.table_type`, 'expected a string');
      if (typeof table.is_selected !== 'boolean') throw bad(`${tat}.is_selected`, 'expected a boolean');
      const columns = table.columns;
      if (columns !== undefined && columns !== null) {
        if (!Array.isArray(columns)) throw bad(`${tat}.columns`, 'expected an array or null');
        columns.forEach((c: unknown, k) => {
          if (!isObject(c) || typeof c.column_name !== 'string' || typeof c.is_selected !== 'boolean') {
            throw bad(`${tat}.columns[${k}]`, 'expected {column_name: string, is_selected: boolean}');
          }
        });
      }
      return {
        table_name: table.table_name,
        table_type: table.table_type,
        is_selected: table.is_selected,
        columns: (columns ?? null) as { column_name: string; is_selected: boolean }[] | null,
      };
    });
    return {
      schema_name: schema.schema_name,
      schema_alias: (alias ?? null) as string | null,
      is_selected: schema.is_selected,
      tables,
    };
  });
}

/** The request body as a typed request; unknown action or a missing/mistyped field → InvalidError. */
export function parseDiscoverRequest(body: unknown): DiscoverRequest {
  if (!isObject(body) || typeof body.action !== 'string') {
    throw new InvalidError('action', 'action: expected one of ' + JOB_ACTIONS.join(', '));
  }
  switch (body.action) {
    case 'discover_schemas':
    case 'sync_catalog':
      return { action: body.action };
    case 'discover_tables':
      return { action: 'discover_tables', schemas: stringArray(body.schemas, 'schemas') };
    case 'discover_columns': {
      const tables = body.tables;
      if (
        !Array.isArray(tables) ||
        !tables.every((t) => isObject(t) && typeof t.schema === 'string' && typeof t.table === 'string')
      ) {
        throw new InvalidError('tables', 'tables: expected an array of {schema: string, table: string}');
      }
      return {
        action: 'discover_columns',
        tables: (tables as { schema: string; table: string }[]).map((t) => ({
          schema: t.schema,
          table: t.table,
        })),
      };
    }
    case 'save_catalog':
      return { action: 'save_catalog', schemas: selection(body.schemas) };
    default:
      throw new InvalidError(
        'action',
        `action: unknown variant '${body.action}', expected one of ${JOB_ACTIONS.join(', ')}`,
      );
  }
}
