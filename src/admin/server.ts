/**
 * The management plane's HTTP listener (default 127.0.0.1:5435).
 *
 * This file owns the server itself: security headers on every response
 * (api-contract §1.10), `GET /health`, and JSON 404 for unknown `/api/v1`
 * paths (quirk Q1, fixed). Resource routes register through `routes`.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { ROWGATE_VERSION } from '../version.js';

export interface AdminServerOptions {
  /** Route plugins mounted under `/api/v1`. */
  routes?: FastifyPluginAsync[];
}

const SECURITY_HEADERS: Record<string, string> = {
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

export async function buildAdminServer(options: AdminServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 2 * 1024 * 1024 });

  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    return payload;
  });

  app.get('/health', async () => ({ version: ROWGATE_VERSION }));

  await app.register(
    async (api) => {
      for (const plugin of options.routes ?? []) await api.register(plugin);
    },
    { prefix: '/api/v1' },
  );

  app.setNotFoundHandler(async (request, reply) => {
    reply.code(404);
    if (request.url.startsWith('/api/')) return { error: 'Not found' };
    return reply.type('text/plain; charset=utf-8').send('Not found');
  });

  return app;
}
