/**
 * The management plane's HTTP listener (default 127.0.0.1:5435).
 *
 * Always: security headers on every response (api-contract §1.10),
 * `GET /health`, JSON 404 for unknown `/api/v1` paths (quirk Q1, fixed), 405
 * with `Allow` for a known path called with another method (§1.1), HEAD
 * wherever GET is, one optional trailing slash ignored (§1.2), the 2 MiB
 * body limit. With `api`: the REST API under `/api/v1` (api.ts), its error
 * mapping (errors.ts), the ordered request checks (request-validation.ts),
 * the OpenAPI document at `GET /api/v1/openapi.json` (public: it describes
 * the contract, not data) and CORS for the configured origins only (none
 * configured = no CORS headers, same-origin only).
 */
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from '../log.js';
import { ROWGATE_VERSION } from '../version.js';
import { registerApi, type ApiOptions } from './api.js';
import { makeErrorHandler } from './errors.js';
import { answerMethodNotAllowed, collectRoutes } from './method-not-allowed.js';
import { acceptRawBodies, validatorCompiler } from './request-validation.js';

export interface AdminServerOptions {
  /** The REST API; without it only `/health` is served. */
  api?: ApiOptions;
  /** Normalised origins allowed by CORS; empty or absent = no CORS headers. */
  corsAllowedOrigins?: readonly string[];
  /** Where unexpected (500) errors are logged. */
  logger?: Logger;
}

/** On every response; routes that hijack the reply (SSE) must write them themselves. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

const BODY_LIMIT = 2 * 1024 * 1024;

export async function buildAdminServer(options: AdminServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    frameworkErrors: (error, _request, reply) => {
      // Malformed URLs (bad percent-encoding…) are caught by the router, before any route.
      const raw = reply as unknown as FastifyReply;
      void raw.code(400).type('text/plain; charset=utf-8').send(`Invalid URL: ${error.message}`);
    },
  });
  const routes = collectRoutes(app);

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    return payload;
  });
  app.setErrorHandler(makeErrorHandler(options.logger));
  app.setValidatorCompiler(validatorCompiler);
  acceptRawBodies(app);

  const origins = options.corsAllowedOrigins ?? [];
  if (origins.length > 0) {
    await app.register(cors, {
      origin: [...origins],
      methods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type'],
      credentials: true,
    });
  }

  if (options.api) {
    await app.register(swagger, {
      openapi: {
        info: { title: 'Rowgate management API', version: ROWGATE_VERSION },
        components: {
          securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
        },
      },
    });
  }

  app.get('/health', { schema: { hide: true } }, async () => ({ version: ROWGATE_VERSION }));

  const api = options.api;
  if (api) {
    await app.register(async (scope) => registerApi(scope, api, options.logger), { prefix: '/api/v1' });
    app.get('/api/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    if (request.url.startsWith('/api/')) return { error: 'Not found' };
    return reply.type('text/plain; charset=utf-8').send('Not found');
  });

  answerMethodNotAllowed(app, routes);
  return app;
}
