/**
 * Attribute definitions (api-contract §4.11): list (entity type filter, key or
 * display-name search, by key), create, get, update (the definition rule runs
 * on the final values), delete (`?force=true` also removes the key from every
 * user in the same transaction). Validation and audit live in the store.
 */
import { NotFoundError } from '../../store/repo-errors.js';
import {
  createAttributeDefinition,
  deleteAttributeDefinition,
  getAttributeDefinition,
  listAttributeDefinitions,
  updateAttributeDefinition,
  type AttributeDefinitionPatch,
} from '../../store/repos/attributes.js';
import { asAdmin, type Api, type ApiContext } from '../context.js';
import {
  AttributeDefinitionSchema,
  AttributeListQuery,
  CreateAttributeBody,
  DeleteAttributeQuery,
  presentAttributeDefinition,
  UpdateAttributeBody,
} from '../schemas/attributes.js';
import {
  adminErrors,
  boundedPage,
  echoPage,
  IdParams,
  NoContent,
  PaginatedOf,
  security,
} from '../schemas/common.js';

const tags = ['attribute-definitions'];

export async function attributeDefinitionRoutes(api: Api, context: ApiContext): Promise<void> {
  const { db } = context.store;

  api.get(
    '/attribute-definitions',
    {
      schema: {
        tags,
        summary: 'List attribute definitions (by key)',
        security,
        querystring: AttributeListQuery,
        response: { 200: PaginatedOf(AttributeDefinitionSchema), ...adminErrors },
      },
    },
    async (request) => {
      const { page, page_size, entity_type, search } = request.query;
      const result = await listAttributeDefinitions(db, {
        page: boundedPage(page),
        pageSize: page_size,
        entityType: entity_type,
        search,
      });
      return echoPage({ ...result, data: result.data.map(presentAttributeDefinition) }, page);
    },
  );

  api.post(
    '/attribute-definitions',
    {
      schema: {
        tags,
        summary: 'Create an attribute definition',
        security,
        body: CreateAttributeBody,
        response: { 201: AttributeDefinitionSchema, ...adminErrors },
      },
    },
    async (request, reply) => {
      const def = await asAdmin(context, request, (tx) => createAttributeDefinition(tx, request.body));
      return reply.code(201).send(presentAttributeDefinition(def));
    },
  );

  api.get(
    '/attribute-definitions/:id',
    {
      schema: {
        tags,
        summary: 'Get an attribute definition',
        security,
        params: IdParams,
        response: { 200: AttributeDefinitionSchema, ...adminErrors },
      },
    },
    async (request) => {
      const def = await getAttributeDefinition(db, request.params.id);
      if (!def) throw new NotFoundError('Attribute definition not found');
      return presentAttributeDefinition(def);
    },
  );

  api.put(
    '/attribute-definitions/:id',
    {
      schema: {
        tags,
        summary: 'Update an attribute definition (key and entity type are immutable)',
        security,
        params: IdParams,
        body: UpdateAttributeBody,
        response: { 200: AttributeDefinitionSchema, ...adminErrors },
      },
    },
    async (request) => {
      const body = request.body;
      // Only the five updatable fields, so an ignored `key` never reaches the store.
      const patch: AttributeDefinitionPatch = {
        display_name: body.display_name,
        value_type: body.value_type,
        ...('default_value' in body ? { default_value: body.default_value } : {}),
        ...('allowed_values' in body ? { allowed_values: body.allowed_values } : {}),
        ...('description' in body ? { description: body.description } : {}),
      };
      const def = await asAdmin(context, request, (tx) =>
        updateAttributeDefinition(tx, request.params.id, patch),
      );
      return presentAttributeDefinition(def);
    },
  );

  api.delete(
    '/attribute-definitions/:id',
    {
      schema: {
        tags,
        summary: 'Delete an attribute definition; ?force=true removes the key from every user',
        security,
        params: IdParams,
        querystring: DeleteAttributeQuery,
        response: { 204: NoContent, ...adminErrors },
      },
    },
    async (request, reply) => {
      const force = request.query.force ?? false;
      await asAdmin(context, request, (tx) => deleteAttributeDefinition(tx, request.params.id, { force }));
      return reply.code(204).send(null);
    },
  );
}
