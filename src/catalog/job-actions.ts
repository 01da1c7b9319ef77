/**
 * The work of each discovery-job action (api-contract §8.2–8.5); sync_catalog
 * lives in sync.ts. The runner (jobs.ts) opens the upstream connection and
 * hands it in; these functions read upstream and the stored catalog and, for
 * save_catalog only, write through the catalog repository.
 */
import type pg from 'pg';
import type { Logger } from '../log.js';
import { auditedTransaction } from '../store/audited.js';
import type { Store } from '../store/db.js';
import { saveCatalog, type SchemaSelection, type UpstreamTableColumns } from '../store/repos/catalog.js';
import { arrowTypeForColumn } from '../store/repos/catalog-types.js';
import { discoverColumns, discoverSchemas, discoverTables, type TableRef } from './discover.js';
import type { DiscoveredColumn, DiscoveredSchema, DiscoveredTable, ProgressPhase } from './job-types.js';

export interface ActionContext {
  store: Store;
  dataSourceId: string;
  actorId: string;
  logger: Logger;
  signal: AbortSignal;
  progress(phase: ProgressPhase, detail: string): void;
  /**
   * Runs `work` on the job's upstream connection, opened on first use and
   * closed by the runner. Every failure comes out as a JobFailure
   * (`Connection error: …` / `Query error: …`), or JobCancelled.
   */
  upstream<T>(work: (client: pg.Client) => Promise<T>): Promise<T>;
}

/** Thrown when the job was cancelled at a point where stopping is safe. */
export class JobCancelled extends Error {
  override readonly name = 'JobCancelled';
}

export function checkCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new JobCancelled('cancelled');
}

async function storedSchemas(ctx: ActionContext) {
  return ctx.store.db
    .selectFrom('discovered_schema')
    .select(['id', 'schema_name', 'schema_alias', 'is_selected'])
    .where('data_source_id', '=', ctx.dataSourceId)
    .execute();
}

/** §8.2: alias and flag from stored schemas that are selected. */
export async function runDiscoverSchemas(ctx: ActionContext): Promise<DiscoveredSchema[]> {
  const live = await ctx.upstream((client) => {
    ctx.progress('querying', 'Listing schemas');
    return discoverSchemas(client);
  });
  const selected = new Map(
    (await storedSchemas(ctx)).filter((s) => s.is_selected).map((s) => [s.schema_name, s]),
  );
  return live.map(({ schema_name }) => ({
    schema_name,
    schema_alias: selected.get(schema_name)?.schema_alias ?? null,
    is_already_selected: selected.has(schema_name),
  }));
}

/** §8.3: `is_already_selected` = a stored, selected table of that name. */
export async function runDiscoverTables(ctx: ActionContext, schemas: string[]): Promise<DiscoveredTable[]> {
  const live = await ctx.upstream((client) => {
    ctx.progress('querying', `Listing tables of ${schemas.length} schema(s)`);
    return discoverTables(client, schemas);
  });
  const stored = await ctx.store.db
    .selectFrom('discovered_table as t')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .select(['s.schema_name', 't.table_name'])
    .where('s.data_source_id', '=', ctx.dataSourceId)
    .where('t.is_selected', '=', 1)
    .execute();
  const selected = new Set(stored.map((t) => JSON.stringify([t.schema_name, t.table_name])));
  return live.map((t) => ({
    ...t,
    is_already_selected: selected.has(JSON.stringify([t.schema_name, t.table_name])),
  }));
}

/**
 * §8.4: with any stored column rows, the stored flag (true when the column is
 * not stored); with none, pre-select every column of a supported type.
 */
export async function runDiscoverColumns(
  ctx: ActionContext,
  tables: TableRef[],
): Promise<DiscoveredColumn[]> {
  const live = await ctx.upstream((client) => {
    ctx.progress('querying', `Reading columns of ${tables.length} table(s)`);
    return discoverColumns(client, tables);
  });
  const stored = await ctx.store.db
    .selectFrom('discovered_column as c')
    .innerJoin('discovered_table as t', 't.id', 'c.discovered_table_id')
    .innerJoin('discovered_schema as s', 's.id', 't.discovered_schema_id')
    .select(['s.schema_name', 't.table_name', 'c.column_name', 'c.is_selected'])
    .where('s.data_source_id', '=', ctx.dataSourceId)
    .execute();
  const flags = new Map(
    stored.map((c) => [JSON.stringify([c.schema_name, c.table_name, c.column_name]), c.is_selected]),
  );
  return live.map((c) => {
    const arrow_type = arrowTypeForColumn(c);
    const flag = flags.get(JSON.stringify([c.schema_name, c.table_name, c.column_name]));
    return {
      schema_name: c.schema_name,
      table_name: c.table_name,
      column_name: c.column_name,
      ordinal_position: c.ordinal_position,
      data_type: c.data_type,
      is_nullable: c.is_nullable,
      column_default: c.column_default,
      arrow_type,
      is_already_selected: stored.length > 0 ? flag === undefined || flag === 1 : arrow_type !== null,
    };
  });
}

/**
 * §8.5. Columns of the selected tables of selected schemas are read first
 * (a failure there is logged and ignored, as in BR: schemas and tables are
 * still saved); then one audited transaction saves everything. The
 * cancellation check inside the transaction rolls it back when the job was
 * cancelled meanwhile.
 */
export async function runSaveCatalog(ctx: ActionContext, schemas: SchemaSelection[]): Promise<{ ok: true }> {
  const wanted: TableRef[] = schemas
    .filter((s) => s.is_selected)
    .flatMap((s) =>
      s.tables.filter((t) => t.is_selected).map((t) => ({ schema: s.schema_name, table: t.table_name })),
    );
  let upstream: UpstreamTableColumns[] = [];
  if (wanted.length > 0) {
    try {
      const columns = await ctx.upstream((client) => {
        ctx.progress('querying', `Reading columns of ${wanted.length} table(s)`);
        return discoverColumns(client, wanted);
      });
      // A table missing upstream gets no entry: the repository then still applies the request's column flags.
      upstream = wanted
        .map((t) => ({
          schema_name: t.schema,
          table_name: t.table,
          columns: columns.filter((c) => c.schema_name === t.schema && c.table_name === t.table),
        }))
        .filter((t) => t.columns.length > 0);
    } catch (error) {
      checkCancelled(ctx.signal);
      ctx.logger.warn(
        { err: (error as Error).message },
        'save_catalog: could not read upstream columns; saving without them',
      );
    }
  }
  checkCancelled(ctx.signal);
  ctx.progress('saving', `Saving ${schemas.length} schema(s)`);
  await auditedTransaction(ctx.store, ctx.actorId, async (tx) => {
    await saveCatalog(tx, ctx.dataSourceId, schemas, upstream);
    checkCancelled(ctx.signal);
  });
  return { ok: true };
}
