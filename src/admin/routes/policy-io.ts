/**
 * Policy YAML (api-contract §7): `GET /policies/export` and
 * `POST /policies/import[?dry_run=true]`. The engines are policy/yaml-export.ts
 * and policy/yaml-import.ts; this module only speaks HTTP.
 *
 * Both paths are static segments, so the router prefers them to
 * `/policies/{id}` (§7.1: export must not be read as a policy id). The import
 * body is YAML text, sent as `text/plain` (BR's documented curl),
 * `application/yaml`, `application/x-yaml` or `text/yaml`; anything else is a
 * 415 in the framework's plain-text family, like a JSON route's. A document
 * that is not usable as a whole (not YAML, wrong `version`, no `policies`,
 * not UTF-8) is a 400 `{"error"}`; entry errors give the full report with
 * 422 and nothing written; a dry run reports without writing.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { exportPolicies } from '../../policy/yaml-export.js';
import { importPolicies, PolicyDocumentRejected } from '../../policy/yaml-import.js';
import { principalOf } from '../auth/guard.js';
import type { Api, ApiContext } from '../context.js';
import { PlainTextError } from '../errors.js';
import { adminErrors, security } from '../schemas/common.js';

const tags = ['policies'];

const YAML_TYPES = new Set(['text/plain', 'application/yaml', 'application/x-yaml', 'text/yaml']);

const ImportQuery = Type.Object({
  dry_run: Type.Optional(Type.Boolean({ description: 'report without writing (default false)' })),
});

const ImportReportSchema = Type.Object({
  dry_run: Type.Boolean(),
  summary: Type.Object({
    created: Type.Integer(),
    updated: Type.Integer(),
    unchanged: Type.Integer(),
    assignments_added: Type.Integer(),
    assignments_removed: Type.Integer(),
  }),
  policies: Type.Array(
    Type.Object({
      name: Type.String(),
      action: Type.String({ description: 'created | updated | unchanged' }),
      id: Type.Union([Type.String(), Type.Null()], { description: 'null for a policy not created (yet)' }),
      version: Type.Optional(Type.Integer()),
    }),
  ),
  errors: Type.Array(
    Type.Object({
      index: Type.Integer({ description: 'position in `policies`' }),
      name: Type.Union([Type.String(), Type.Null()]),
      field: Type.String({ description: "path inside the entry; '' = the entry itself" }),
      error: Type.String(),
    }),
  ),
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The YAML text of an import request: 415 for another content type, 400 for bytes that are not UTF-8. */
function yamlBody(request: FastifyRequest): string {
  const header = request.headers['content-type'];
  const mime = (header?.split(';')[0] ?? '').trim().toLowerCase();
  if (!YAML_TYPES.has(mime)) {
    throw new PlainTextError(
      415,
      'Expected request with `Content-Type: text/plain` or `application/yaml` (YAML document)',
    );
  }
  const raw = request.body;
  try {
    return raw instanceof Buffer ? utf8.decode(raw) : '';
  } catch {
    throw new PolicyDocumentRejected('Invalid YAML: the document is not valid UTF-8');
  }
}

export async function policyIoRoutes(api: Api, context: ApiContext): Promise<void> {
  api.get(
    '/policies/export',
    {
      schema: {
        tags,
        summary: 'Every policy with its assignments as a YAML document (version 1), names instead of ids',
        security,
        produces: ['application/yaml'],
        response: { 200: Type.String({ description: 'YAML document (§7.2)' }), ...adminErrors },
      },
    },
    async (_request, reply) => {
      const text = await exportPolicies(context.store.db);
      return reply
        .type('application/yaml; charset=utf-8')
        .serializer((payload) => payload as string)
        .send(text);
    },
  );

  api.post(
    '/policies/import',
    {
      schema: {
        tags,
        summary: 'Create/update policies and their assignments from a YAML document, all or nothing',
        security,
        querystring: ImportQuery,
        consumes: [...YAML_TYPES],
        response: { ...adminErrors, 200: ImportReportSchema, 422: ImportReportSchema },
      },
    },
    async (request, reply) => {
      const text = yamlBody(request);
      const report = await importPolicies(context.store, principalOf(request).id, text, {
        dryRun: request.query.dry_run ?? false,
      });
      return reply.code(report.errors.length > 0 ? 422 : 200).send(report);
    },
  );
}
