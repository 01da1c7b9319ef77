/**
 * 405 for a known path called with a method it does not serve (api-contract
 * §1.1): empty body and an `Allow` header listing the methods it does serve
 * (HEAD wherever GET is). Answered at routing, before authentication, like
 * BetweenRows' router. Static segments win over `{id}` segments for every
 * method, so `GET /policies/validate-expression` is a 405, not an id error.
 */
import type { FastifyInstance, HTTPMethods } from 'fastify';

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'];

/** Starts recording every route's methods; call before registering routes. */
export function collectRoutes(app: FastifyInstance): Map<string, Set<string>> {
  const routes = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    if (route.url.includes('*')) return; // catch-alls (the CORS preflight route)
    const methods = routes.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method.toUpperCase());
    if (methods.has('GET')) methods.add('HEAD');
    routes.set(route.url, methods);
  });
  return routes;
}

/** Registers the 405 routes; call once every real route is registered. */
export function answerMethodNotAllowed(app: FastifyInstance, routes: Map<string, Set<string>>): void {
  for (const [url, methods] of [...routes.entries()]) {
    const missing = METHODS.filter((m) => !methods.has(m));
    if (missing.length === 0) continue;
    const allow = METHODS.filter((m) => methods.has(m)).join(', ');
    app.route({
      method: missing,
      url,
      schema: { hide: true },
      exposeHeadRoute: false,
      handler: async (_request, reply) => reply.code(405).header('allow', allow).send(),
    });
  }
}
