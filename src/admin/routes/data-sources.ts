/**
 * Data sources (api-contract §4.4, §4.5): the type catalogue, CRUD and the
 * connection test. The store splits `config` into visible fields and the
 * encrypted password, type-checks the values (quirk Q19 fixed: 422 naming
 * the field) and audits names and flags only (`config_changed: true`, never
 * a value). A PUT that sends nothing answers the stored record without a
 * transaction or audit row, as BR does. Delete cascades to the catalog,
 * assignments, access grants, relationships and anchors (schema FKs).
 */
import { Type } from '@sinclair/typebox';
import {
  createDataSource,
  deleteDataSource,
  getDataSource,
  isEmptyDataSourcePatch,
  listDataSources,
  updateDataSource,
} from '../../store/repos/datasources.js';
import { queryFailure } from '../../catalog/job-upstream.js';
import { DATA_SOURCE_TYPES } from '../../store/repos/datasource-config.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import { connectionProblem, connectionSettings, withUpstream } from '../queries/upstream.js';
import {
  adminErrors,
  boundedPage,
  echoPage,
  IdParams,
  NoContent,
  PaginatedOf,
  security,
} from '../schemas/common.js';
import {
  CreateDataSourceBody,
  DataSourceListQuery,
  DataSourceSchema,
  DataSourceTypeSchema,
  presentDataSource,
  TestConnectionResult,
  UpdateDataSourceBody,
} from '../schemas/datasources.js';
import type { DataSourceRouteDeps } from './datasource-deps.js';

const tags = ['datasources'];

export function dataSourceRoutes(deps: DataSourceRouteDeps) {
  return async function registerDataSourceRoutes(api: Api, context: ApiContext): Promise<void> {
    const { db } = context.store;
    const { cipher } = deps;

    api.get(
      '/datasource-types',
      {
        schema: {
          tags,
          summary: 'Supported data source types and their connection fields',
          security,
          response: { 200: Type.Array(DataSourceTypeSchema), ...adminErrors },
        },
      },
      // Serialised as is: the schema serialiser would move the optional keys after the required ones.
      async (_request, reply) =>
        reply.serializer((payload: unknown) => JSON.stringify(payload)).send([...DATA_SOURCE_TYPES]),
    );

    api.get(
      '/datasources',
      {
        schema: {
          tags,
          summary: 'List data sources (name search, oldest first)',
          security,
          querystring: DataSourceListQuery,
          response: { 200: PaginatedOf(DataSourceSchema), ...adminErrors },
        },
      },
      async (request) => {
        const { page, page_size, search } = request.query;
        const result = await listDataSources(db, { page: boundedPage(page), pageSize: page_size, search });
        return echoPage({ ...result, data: result.data.map(presentDataSource) }, page);
      },
    );

    api.post(
      '/datasources',
      {
        schema: {
          tags,
          summary: 'Create a data source; the creating admin gets an access grant',
          security,
          body: CreateDataSourceBody,
          response: { 201: DataSourceSchema, ...adminErrors },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const created = await asAdmin(context, request, (tx) =>
          createDataSource(tx, cipher, {
            name: body.name,
            ds_type: body.ds_type,
            config: body.config,
            access_mode: body.access_mode ?? null,
          }),
        );
        return reply.code(201).send(presentDataSource(created));
      },
    );

    api.get(
      '/datasources/:id',
      {
        schema: {
          tags,
          summary: 'Get a data source',
          security,
          params: IdParams,
          response: { 200: DataSourceSchema, ...adminErrors },
        },
      },
      async (request) => presentDataSource(await getDataSource(db, request.params.id)),
    );

    api.put(
      '/datasources/:id',
      {
        schema: {
          tags,
          summary: 'Rename, (de)activate, change access mode or connection settings',
          security,
          params: IdParams,
          body: UpdateDataSourceBody,
          response: { 200: DataSourceSchema, ...adminErrors },
        },
      },
      async (request) => {
        const { id } = request.params;
        // Nothing sent: the stored record, no audit, no updated_at change (§4.5).
        if (isEmptyDataSourcePatch(request.body)) return presentDataSource(await getDataSource(db, id));
        const { dataSource } = await asAdmin(context, request, (tx) =>
          updateDataSource(tx, cipher, id, request.body),
        );
        return presentDataSource(dataSource);
      },
    );

    api.delete(
      '/datasources/:id',
      {
        schema: {
          tags,
          summary: 'Delete a data source and everything attached to it (policies stay)',
          security,
          params: IdParams,
          response: { 204: NoContent, ...adminErrors },
        },
      },
      async (request, reply) => {
        await asAdmin(context, request, (tx) => deleteDataSource(tx, request.params.id));
        return reply.code(204).send(null);
      },
    );

    api.post(
      '/datasources/:id/test',
      {
        schema: {
          tags,
          summary: 'Try to connect with the stored settings (nothing persisted, not audited)',
          security,
          params: IdParams,
          response: { 200: TestConnectionResult, ...adminErrors },
        },
      },
      async (request) => {
        const access = { store: context.store, cipher, logger: deps.logger, timeouts: deps.upstreamTimeouts };
        const settings = await connectionSettings(access, request.params.id);
        try {
          await withUpstream(access, settings, (client) =>
            client.query('SELECT 1').catch((error: unknown) => {
              throw queryFailure(error, deps.logger);
            }),
          );
          return { success: true };
        } catch (error) {
          const problem = connectionProblem(error);
          if (problem === undefined) throw error;
          return { success: false, message: `Failed to create Postgres pool: ${problem}` };
        }
      },
    );
  };
}
