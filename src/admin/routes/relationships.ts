/**
 * Relationships, FK suggestions and column anchors of a data source
 * (api-contract §4.9, §6.4). The store runs the checks in the contract's
 * order and audits `table_relationship` / `column_anchor` create and delete.
 * Creating a relationship that already exists answers 200 with it, without a
 * transaction or audit row (BR's idempotent create). FK suggestions read the
 * upstream live (nothing stored); a connection or query failure is a 500
 * whose message never carries connection secrets.
 */
import { Type } from '@sinclair/typebox';
import { queryFailure } from '../../catalog/job-upstream.js';
import { requireDataSource } from '../../store/repos/datasources.js';
import {
  createColumnAnchor,
  createRelationship,
  deleteColumnAnchor,
  deleteRelationship,
  findRelationship,
  listColumnAnchors,
  listRelationships,
} from '../../store/repos/relationships.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { hasSelectedTables, listFkSuggestions } from '../queries/fk-suggestions.js';
import { connectionProblem, connectionSettings, withUpstream } from '../queries/upstream.js';
import { adminErrors, IdParams, NoContent, security } from '../schemas/common.js';
import {
  AnchorParams,
  ColumnAnchorSchema,
  CreateColumnAnchorBody,
  CreateRelationshipBody,
  FkSuggestionSchema,
  presentAnchor,
  presentRelationship,
  RelationshipListQuery,
  RelationshipParams,
  RelationshipSchema,
} from '../schemas/relationships.js';
import type { DataSourceRouteDeps } from './datasource-deps.js';

const tags = ['relationships and anchors'];
const done = { 204: NoContent, ...adminErrors };

export function relationshipRoutes(deps: DataSourceRouteDeps) {
  return async function registerRelationshipRoutes(api: Api, context: ApiContext): Promise<void> {
    const { db } = context.store;

    api.get(
      '/datasources/:id/relationships',
      {
        schema: {
          tags,
          summary: 'Relationships, oldest first; optionally of one child table',
          security,
          params: IdParams,
          querystring: RelationshipListQuery,
          response: { 200: Type.Array(RelationshipSchema), ...adminErrors },
        },
      },
      async (request) => {
        const child = request.query.child_table?.toLowerCase();
        return (await listRelationships(db, request.params.id, child)).map(presentRelationship);
      },
    );

    api.post(
      '/datasources/:id/relationships',
      {
        schema: {
          tags,
          summary: 'Declare a child column → parent column relationship (200 if it exists)',
          security,
          params: IdParams,
          body: CreateRelationshipBody,
          response: { 200: RelationshipSchema, 201: RelationshipSchema, ...adminErrors },
        },
      },
      async (request, reply) => {
        const input = {
          ...request.body,
          child_table_id: request.body.child_table_id.toLowerCase(),
          parent_table_id: request.body.parent_table_id.toLowerCase(),
        };
        const existing = await findRelationship(db, request.params.id, input);
        if (existing) return reply.code(200).send(presentRelationship(existing));
        const created = await asAdmin(context, request, (tx) =>
          createRelationship(tx, request.params.id, input),
        );
        return reply.code(201).send(presentRelationship(created));
      },
    );

    api.delete(
      '/datasources/:id/relationships/:rel_id',
      {
        schema: {
          tags,
          summary: 'Delete a relationship no anchor uses',
          security,
          params: RelationshipParams,
          response: done,
        },
      },
      async (request, reply) => {
        const { id, rel_id } = request.params;
        await asAdmin(context, request, (tx) => deleteRelationship(tx, id, rel_id));
        return reply.code(204).send(null);
      },
    );

    api.get(
      '/datasources/:id/fk-suggestions',
      {
        schema: {
          tags,
          summary: 'Single-column foreign keys between selected tables, read live from the upstream',
          security,
          params: IdParams,
          response: { 200: Type.Array(FkSuggestionSchema), ...adminErrors },
        },
      },
      async (request) => {
        const { id } = request.params;
        await requireDataSource(db, id);
        if (!(await hasSelectedTables(db, id))) return [];
        const access = {
          store: context.store,
          cipher: deps.cipher,
          logger: deps.logger,
          timeouts: deps.upstreamTimeouts,
        };
        const settings = await connectionSettings(access, id);
        try {
          return await withUpstream(access, settings, (client) =>
            listFkSuggestions(db, id, client).catch((error: unknown) => {
              throw queryFailure(error, deps.logger);
            }),
          );
        } catch (error) {
          const problem = connectionProblem(error);
          if (problem === undefined) throw error;
          throw new ApiError(500, `Failed to read foreign keys from the data source: ${problem}`);
        }
      },
    );

    api.get(
      '/datasources/:id/column-anchors',
      {
        schema: {
          tags,
          summary: 'Column anchors, oldest first',
          security,
          params: IdParams,
          response: { 200: Type.Array(ColumnAnchorSchema), ...adminErrors },
        },
      },
      async (request) => (await listColumnAnchors(db, request.params.id)).map(presentAnchor),
    );

    api.post(
      '/datasources/:id/column-anchors',
      {
        schema: {
          tags,
          summary: 'Anchor a filter column: FK walk (relationship_id) or same-table alias',
          security,
          params: IdParams,
          body: CreateColumnAnchorBody,
          response: { 201: ColumnAnchorSchema, ...adminErrors },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const anchor = await asAdmin(context, request, (tx) =>
          createColumnAnchor(tx, request.params.id, {
            child_table_id: body.child_table_id.toLowerCase(),
            resolved_column_name: body.resolved_column_name,
            relationship_id: body.relationship_id?.toLowerCase() ?? null,
            actual_column_name: body.actual_column_name ?? null,
          }),
        );
        return reply.code(201).send(presentAnchor(anchor));
      },
    );

    api.delete(
      '/datasources/:id/column-anchors/:anchor_id',
      {
        schema: { tags, summary: 'Delete a column anchor', security, params: AnchorParams, response: done },
      },
      async (request, reply) => {
        const { id, anchor_id } = request.params;
        await asAdmin(context, request, (tx) => deleteColumnAnchor(tx, id, anchor_id));
        return reply.code(204).send(null);
      },
    );
  };
}
